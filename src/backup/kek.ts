/**
 * The backup KEK: an AES-256 key inside the HSM (CKA_TRUSTED, set by the SO), under which every
 * backed-up private key is wrapped (RFC 5649). It is recoverable M-of-N: a KEK-wrapping secret
 * (32 bytes from the HSM's RNG) is split with Shamir to the custodians' public keys, and the KEK
 * leaves the HSM only wrapped under that secret, inside the HSM. To restore, M custodians open
 * their shares, the secret is rebuilt in memory, imported into the target HSM as a sensitive,
 * non-extractable session key (the documented custodian-share exception), used for one
 * C_UnwrapKey, destroyed; every buffer is zeroed.
 */

import {
  type ShareBundle,
  type ShareRecipient,
  splitSecret,
  withReconstructedSecret,
} from '../ceremony/secret-sharing.js';
import type { ShareDecrypter } from '../ceremony/share-envelope.js';
import { HsmError } from '../errors/index.js';
import type { BackupKekMember } from './kek-member.js';

/** Default label of the backup KEK. */
export const BACKUP_KEK_LABEL = 'hsmkit-backup-kek';

/** What `backup kek create` writes: the KEK wrapped under the split secret, and the encrypted shares. */
export interface KekBundle {
  type: 'hsmkit.backup.kek';
  v: 1;
  label: string;
  createdAt: string;
  /** The RFC 5649 mechanism the KEK was wrapped with (the source token's). */
  mechanism?: number;
  /** The KEK wrapped under the split secret (hex); useless without M shares. */
  wrappedKek: string;
  shares: ShareBundle;
}

/**
 * Generates the KEK in `source` (SO session), splits a fresh KEK-wrapping secret `threshold`-of-N
 * to `recipients`, wraps the KEK under it inside the HSM, and seals the KEK. `random` draws the
 * secret from the HSM's RNG.
 */
export async function createBackupKek(opts: {
  source: BackupKekMember;
  random: (n: number) => Promise<Uint8Array>;
  threshold: number;
  recipients: ShareRecipient[];
  ceremonyId: string;
  label?: string;
  mechanism?: number;
}): Promise<KekBundle> {
  const label = opts.label ?? BACKUP_KEK_LABEL;
  const n = opts.recipients.length;
  if (!Number.isInteger(opts.threshold) || opts.threshold < 2 || opts.threshold > n) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `a backup KEK split needs 2 ≤ M ≤ N (got ${opts.threshold} of ${n})`,
    );
  }
  const secret = Buffer.from(await opts.random(32));
  try {
    // Split first: a split that fails leaves no KEK behind.
    const shares = await splitSecret(secret, opts.threshold, opts.recipients, {
      ceremonyId: opts.ceremonyId,
      name: label,
    });
    await opts.source.createKek(label);
    let wrappedKek: string;
    try {
      wrappedKek = await opts.source.wrapKekUnderSecret(label, Buffer.from(secret), opts.mechanism);
    } finally {
      await opts.source.sealKek(label);
    }
    const out: KekBundle = {
      type: 'hsmkit.backup.kek',
      v: 1,
      label,
      createdAt: new Date().toISOString(),
      wrappedKek,
      shares,
    };
    if (opts.mechanism !== undefined) out.mechanism = opts.mechanism;
    return out;
  } finally {
    secret.fill(0);
  }
}

/**
 * Establishes the KEK in `target` (SO session) from the custodians' shares: fewer than M shares,
 * or a share that does not open, fails before anything reaches the HSM.
 */
export async function importBackupKek(opts: {
  bundle: KekBundle;
  target: BackupKekMember;
  decrypters: ShareDecrypter[];
  mechanism?: number;
  onWiped?: (b: Uint8Array) => void;
}): Promise<{ label: string }> {
  const b = opts.bundle;
  if (b?.type !== 'hsmkit.backup.kek' || b.v !== 1) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'not an hsmkit backup KEK bundle (v1)');
  }
  await withReconstructedSecret(
    b.shares,
    opts.decrypters,
    async (secret) => {
      // A copy for the IPC body; the host zeroes its own copy, this one is zeroed here.
      const copy = Buffer.from(secret);
      try {
        await opts.target.unwrapKekUnderSecret(b.label, b.wrappedKek, copy, opts.mechanism ?? b.mechanism);
      } finally {
        copy.fill(0);
        opts.onWiped?.(copy);
      }
    },
    opts.onWiped,
  );
  return { label: b.label };
}
