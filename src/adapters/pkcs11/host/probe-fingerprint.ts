/**
 * The fingerprint of what the capability probe depends on, computed in the member host before
 * probing, from what is cheap to read: the module (path, C_GetInfo), the token (C_GetTokenInfo:
 * manufacturer, model, serial, hardware and firmware versions, the flags that describe it — not
 * the PIN counters that change), the vendor profile, the probe's own version and the full
 * mechanism list with each mechanism's key sizes and flags. A cached probe is reused only under an
 * equal fingerprint, so a new module build, a firmware update, another or re-initialised token
 * (new serial), a changed mechanism list or a changed probe all lead to a fresh probe.
 */
import { createHash } from 'node:crypto';
import { padded } from '../p11.js';
import { PROBE_VERSION } from '../vendors/capability-probe.js';
import type { TokenConnection } from './token-connection.js';

/**
 * CKF_* token flags that describe the token: RNG, WRITE_PROTECTED, LOGIN_REQUIRED,
 * USER_PIN_INITIALIZED, RESTORE_KEY_NOT_NEEDED, CLOCK_ON_TOKEN, PROTECTED_AUTHENTICATION_PATH,
 * DUAL_CRYPTO_OPERATIONS, TOKEN_INITIALIZED, SECONDARY_AUTHENTICATION. Left out: the PIN
 * counters and states (0x10000–0x800000), which change with failed logins, not with capabilities.
 */
const STABLE_TOKEN_FLAGS = 0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x40 | 0x100 | 0x200 | 0x400 | 0x800;

/** SHA-256 (hex) over a canonical JSON of everything the capability probe's result depends on. */
export function probeFingerprint(c: TokenConnection): string {
  const info = c.p11.C_GetInfo();
  const t = c.p11.C_GetTokenInfo(c.slot);
  const v = (x: { major: number; minor: number }) => `${x.major}.${x.minor}`;
  // Fixed key order and mechanisms sorted by type: the same inputs always give the same text.
  const canonical = {
    probeVersion: PROBE_VERSION,
    vendorProfile: c.profile.id,
    module: {
      path: c.init.module,
      manufacturer: padded(info.manufacturerID),
      description: padded(info.libraryDescription),
      libraryVersion: v(info.libraryVersion),
      cryptokiVersion: v(info.cryptokiVersion),
    },
    token: {
      manufacturer: padded(t.manufacturerID),
      model: padded(t.model),
      serial: padded(t.serialNumber),
      hardwareVersion: v(t.hardwareVersion),
      firmwareVersion: v(t.firmwareVersion),
      flags: Number(t.flags) & STABLE_TOKEN_FLAGS,
    },
    mechanisms: [...c.mechanisms.entries()]
      .sort(([a], [b]) => a - b)
      .map(([type, m]) => [type, Number(m.minKeySize), Number(m.maxKeySize), Number(m.flags)]),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
