/**
 * The capability probe, run inside a member host at connect time. A token's mechanism list is
 * its word; this checks it. With throw-away keys (session objects where the token has them, else
 * token objects with a clearly named temporary label, destroyed at the end) it:
 * - signs once with every signing mechanism hsmkit may use that the token lists, so a listed
 *   mechanism that fails (an RPC layer that cannot marshal it, a module that lists what it lacks)
 *   is known before any caller's key depends on it;
 * - checks security properties rather than trusting the token: CKA_SENSITIVE is enforced,
 *   CKA_SENSITIVE cannot be switched off, CKA_EXTRACTABLE=false is enforced (NSS 3.87 wraps such
 *   keys anyway);
 * - tries an RFC 5649 wrap/unwrap round trip where an AES key-wrap mechanism is offered.
 * Nothing here is a key operation on a caller's key, and nothing is left on the token.
 */
import { randomBytes } from 'node:crypto';
import { CURVES } from '../../../crypto/curves.js';
import { digestInfo } from '../../../crypto/digest-info.js';
import { ckrName } from '../../../errors/index.js';
import { CKA, CKF, CKG, CKK, CKM, CKO } from '../constants.js';
import type { TokenConnection } from '../host/token-connection.js';
import { type Attribute, ckrOf, type Handle, type Mechanism, type P11, rsaPssParamsType } from '../p11.js';
import type { VendorProfile } from './vendor-profile.js';

/** Outcome of one checked property. */
export type PropertyStatus = 'holds' | 'violated' | 'not-checked';

/** Ids of the security properties the probe checks. */
export type SecurityPropertyId = 'sensitive-enforced' | 'sensitive-sticky' | 'extractable-false-enforced';

/** One checked security property. */
export interface SecurityProperty {
  id: SecurityPropertyId;
  /** What is claimed, e.g. "token enforces CKA_EXTRACTABLE=false". */
  title: string;
  status: PropertyStatus;
  /** How it was checked and what the token answered. */
  detail: string;
}

/** A listed signing mechanism and what a real signature with it did. */
export interface MechanismCheck {
  mechanism: number;
  ok: boolean;
  /** The CKR name when it failed. */
  error?: string;
}

/** The RFC 5649 wrap/unwrap round trip. */
export interface WrapCheck {
  status: 'works' | 'fails' | 'not-offered';
  mechanism?: number;
  detail: string;
}

/** Everything the probe found. */
export interface ProbeResult {
  /** Where the throw-away keys lived. */
  probeObjects: 'session' | 'token';
  /** CKA_LABEL of every probe object (PROBE_LABEL_PREFIX + random). */
  label: string;
  mechanisms: MechanismCheck[];
  /** Whether a mechanism that does not fit the key is refused at C_SignInit (SoftHSM refuses only in C_Sign). */
  mismatchRefusedAtInit?: boolean;
  properties: SecurityProperty[];
  wrap: WrapCheck;
  durationMs: number;
  /** Probe steps that could not run (e.g. no key type to probe with), for the report. */
  notes: string[];
}

/** The calls the probe needs beyond the adapter's seam; pkcs11js provides them on the same object. */
interface ProbeP11 extends P11 {
  C_GenerateKey(session: Handle, mech: Mechanism, template: Attribute[]): Handle;
  C_SetAttributeValue(session: Handle, object: Handle, template: Attribute[]): void;
  C_UnwrapKey(session: Handle, mech: Mechanism, key: Handle, wrapped: Buffer, template: Attribute[]): Handle;
  C_VerifyInit(session: Handle, mech: Mechanism, key: Handle): void;
  C_Verify(session: Handle, data: Buffer, signature: Buffer): boolean;
}

const EC_SIGN = [CKM.ECDSA, CKM.ECDSA_SHA256, CKM.ECDSA_SHA384, CKM.ECDSA_SHA512];
const RSA_SIGN = [
  CKM.RSA_PKCS,
  CKM.SHA256_RSA_PKCS,
  CKM.SHA384_RSA_PKCS,
  CKM.SHA512_RSA_PKCS,
  CKM.RSA_PKCS_PSS,
  CKM.SHA256_RSA_PKCS_PSS,
  CKM.SHA384_RSA_PKCS_PSS,
  CKM.SHA512_RSA_PKCS_PSS,
];
const PSS_PARAMS: Record<number, { hashAlg: number; mgf: number; saltLen: number }> = {
  [CKM.RSA_PKCS_PSS]: { hashAlg: CKM.SHA256, mgf: CKG.MGF1_SHA256, saltLen: 32 },
  [CKM.SHA256_RSA_PKCS_PSS]: { hashAlg: CKM.SHA256, mgf: CKG.MGF1_SHA256, saltLen: 32 },
  [CKM.SHA384_RSA_PKCS_PSS]: { hashAlg: CKM.SHA384, mgf: CKG.MGF1_SHA384, saltLen: 48 },
  [CKM.SHA512_RSA_PKCS_PSS]: { hashAlg: CKM.SHA512, mgf: CKG.MGF1_SHA512, saltLen: 64 },
};
/** CKM_AES_CBC_PAD: the last resort for the extractability check (wraps any key as PKCS#8). */
const CKM_AES_CBC_PAD = 0x1085;
const CKM_NSS_AES_KEY_WRAP_KWP = 0x210b;
const CKR_KEY_UNEXTRACTABLE = 0x6a;
const CKR_KEY_NOT_WRAPPABLE = 0x69;
/**
 * Version of the probe logic, part of the probe fingerprint (host/probe-fingerprint.ts): bump it
 * whenever what the probe checks or reports changes, so results cached by an older hsmkit are
 * probed again rather than reused.
 */
export const PROBE_VERSION = 1;
/** Temporary token objects carry this label prefix, so a crash mid-probe leaves something recognisable. */
export const PROBE_LABEL_PREFIX = 'hsmkit-capability-probe-';

/** A throw-away key pair. */
interface ProbeKey {
  family: 'ec' | 'rsa' | 'eddsa';
  priv: Handle;
  pub: Handle;
}

/**
 * Destroys every object labelled `label` (probe objects a module refused to destroy the first
 * time; tpm2-pkcs11 1.9 does so until the module is re-initialised). Returns how many are left.
 */
export function destroyProbeObjects(conn: TokenConnection, label: string): number {
  if (!label.startsWith(PROBE_LABEL_PREFIX)) return 0;
  return conn.run('remove probe objects', false, (s) => {
    conn.p11.C_FindObjectsInit(s, [{ type: CKA.LABEL, value: label }]);
    let found: Handle[];
    try {
      found = conn.p11.C_FindObjects(s, 64);
    } finally {
      conn.p11.C_FindObjectsFinal(s);
    }
    let left = 0;
    for (const h of found) {
      try {
        conn.p11.C_DestroyObject(s, h);
      } catch {
        left++;
      }
    }
    return left;
  });
}

/** Runs the probe on one session of `conn`; always destroys what it created. */
export function probeCapabilities(conn: TokenConnection, profile: VendorProfile): ProbeResult {
  const started = performance.now();
  return conn.run('capability probe', true, (s) => {
    const probe = new Probe(conn.p11 as ProbeP11, s, conn.mechanisms, profile);
    try {
      return probe.run(started);
    } finally {
      probe.cleanup();
    }
  });
}

class Probe {
  private readonly created: Handle[] = [];
  private readonly token: boolean;
  private readonly label = `${PROBE_LABEL_PREFIX}${randomBytes(6).toString('hex')}`;
  private readonly notes: string[] = [];

  constructor(
    private readonly p11: ProbeP11,
    private readonly s: Handle,
    private readonly listed: ReadonlyMap<number, { minKeySize: number; maxKeySize: number; flags: number }>,
    profile: VendorProfile,
  ) {
    this.token = !profile.sessionObjects;
  }

  run(started: number): ProbeResult {
    const keys: ProbeKey[] = [];
    for (const family of ['ec', 'rsa', 'eddsa'] as const) {
      const k = this.tryKeyPair(family, { extractable: false });
      if (k) keys.push(k);
    }
    const ec = keys.find((k) => k.family === 'ec');
    const rsa = keys.find((k) => k.family === 'rsa');
    const ed = keys.find((k) => k.family === 'eddsa');

    const mechanisms: MechanismCheck[] = [];
    const check = (mech: number, key: ProbeKey | undefined) => {
      if (!this.listed.has(mech)) return;
      if (!key) {
        this.notes.push(`listed ${mech.toString(16)} not probed: no key of its family could be generated`);
        return;
      }
      mechanisms.push(this.signCheck(mech, key));
    };
    for (const m of EC_SIGN) check(m, ec);
    for (const m of RSA_SIGN) check(m, rsa);
    check(CKM.EDDSA, ed);

    let mismatchRefusedAtInit: boolean | undefined;
    if (rsa && this.listed.has(CKM.ECDSA)) mismatchRefusedAtInit = this.mismatchRefusedAtInit(rsa);

    const subject = ec ?? rsa ?? ed;
    const properties = subject
      ? [this.sensitiveEnforced(subject), this.extractableEnforced(subject), this.sensitiveSticky(subject)]
      : (['sensitive-enforced', 'extractable-false-enforced', 'sensitive-sticky'] as const).map((id) => ({
          id,
          title: TITLES[id],
          status: 'not-checked' as const,
          detail: 'no key pair type could be generated to check with',
        }));
    const wrap = this.wrapRoundTrip();
    this.cleanup();
    const result: ProbeResult = {
      probeObjects: this.token ? 'token' : 'session',
      label: this.label,
      mechanisms,
      properties,
      wrap,
      durationMs: 0,
      notes: this.notes,
    };
    if (mismatchRefusedAtInit !== undefined) result.mismatchRefusedAtInit = mismatchRefusedAtInit;
    result.durationMs = Math.round(performance.now() - started);
    return result;
  }

  cleanup(): void {
    for (const h of this.created.reverse()) {
      try {
        this.p11.C_DestroyObject(this.s, h);
      } catch (err) {
        // A session object dies with the session anyway; a token object keeps its probe label.
        this.notes.push(`could not destroy a probe object: ${describe(err)}`);
      }
    }
    this.created.length = 0;
  }

  private common(): Attribute[] {
    return [
      { type: CKA.TOKEN, value: this.token },
      { type: CKA.LABEL, value: this.label },
      { type: CKA.ID, value: Buffer.from(this.label) },
    ];
  }

  private tryKeyPair(
    family: ProbeKey['family'],
    opts: { extractable: boolean; rsaBits?: number },
  ): ProbeKey | undefined {
    const gen = {
      ec: CKM.EC_KEY_PAIR_GEN,
      rsa: CKM.RSA_PKCS_KEY_PAIR_GEN,
      eddsa: CKM.EC_EDWARDS_KEY_PAIR_GEN,
    }[family];
    const info = this.listed.get(gen);
    if (!info) return undefined;
    const pub: Attribute[] = [
      { type: CKA.CLASS, value: CKO.PUBLIC_KEY },
      ...this.common(),
      { type: CKA.VERIFY, value: true },
    ];
    const priv: Attribute[] = [
      { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
      ...this.common(),
      { type: CKA.PRIVATE, value: true },
      { type: CKA.SENSITIVE, value: true },
      { type: CKA.EXTRACTABLE, value: opts.extractable },
      { type: CKA.SIGN, value: true },
    ];
    if (family === 'rsa') {
      // 2048 bits (or the token's largest, if smaller): PSS with SHA-512 and a 64-byte salt needs
      // more than 1024 bits, so a smaller probe key would fail a mechanism that works.
      const want = opts.rsaBits ?? 2048;
      const bits =
        info.maxKeySize > 0 && info.maxKeySize < want ? info.maxKeySize : Math.max(want, info.minKeySize);
      pub.push(
        { type: CKA.KEY_TYPE, value: CKK.RSA },
        { type: CKA.MODULUS_BITS, value: bits },
        { type: CKA.PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
      );
      priv.push({ type: CKA.KEY_TYPE, value: CKK.RSA });
    } else {
      const curve = family === 'ec' ? 'P-256' : 'Ed25519';
      const keyType = family === 'ec' ? CKK.EC : CKK.EC_EDWARDS;
      pub.push(
        { type: CKA.KEY_TYPE, value: keyType },
        { type: CKA.EC_PARAMS, value: Buffer.from(CURVES[curve].ecParams) },
      );
      priv.push({ type: CKA.KEY_TYPE, value: keyType });
    }
    if (opts.extractable) priv.push({ type: CKA.UNWRAP, value: false });
    try {
      const pair = this.p11.C_GenerateKeyPair(this.s, { mechanism: gen }, pub, priv);
      this.created.push(pair.publicKey, pair.privateKey);
      return { family, priv: pair.privateKey, pub: pair.publicKey };
    } catch (err) {
      this.notes.push(`${family} probe key: C_GenerateKeyPair failed with ${describe(err)}`);
      return undefined;
    }
  }

  private signInput(mech: number): { mechanism: Mechanism; data: Buffer } {
    const digest = randomBytes(32);
    if (mech === CKM.RSA_PKCS)
      return { mechanism: { mechanism: mech }, data: Buffer.from(digestInfo('sha256', digest)) };
    const pss = PSS_PARAMS[mech];
    if (pss)
      return {
        mechanism: { mechanism: mech, parameter: { type: rsaPssParamsType(), ...pss } },
        data: digest,
      };
    return { mechanism: { mechanism: mech }, data: digest };
  }

  /** Signs with `mech` and verifies the signature in the token with the public half. */
  private signCheck(mech: number, key: ProbeKey): MechanismCheck {
    const { mechanism, data } = this.signInput(mech);
    try {
      this.p11.C_SignInit(this.s, mechanism, key.priv);
      const sig = Buffer.from(this.p11.C_Sign(this.s, data, Buffer.alloc(1024)));
      if (!this.listed.has(mech) || (this.listed.get(mech)!.flags & CKF.VERIFY) === 0)
        return { mechanism: mech, ok: true };
      this.p11.C_VerifyInit(this.s, mechanism, key.pub);
      const ok = this.p11.C_Verify(this.s, data, sig);
      return ok ? { mechanism: mech, ok } : { mechanism: mech, ok, error: 'signature did not verify' };
    } catch (err) {
      return { mechanism: mech, ok: false, error: describe(err) };
    }
  }

  private mismatchRefusedAtInit(rsa: ProbeKey): boolean {
    try {
      this.p11.C_SignInit(this.s, { mechanism: CKM.ECDSA }, rsa.priv);
    } catch {
      return true;
    }
    try {
      this.p11.C_Sign(this.s, randomBytes(32), Buffer.alloc(1024));
    } catch {
      // Expected: the operation fails in C_Sign and ends there.
    }
    return false;
  }

  private sensitiveEnforced(key: ProbeKey): SecurityProperty {
    // The secret part: CKA_VALUE of an EC/EdDSA key, CKA_PRIVATE_EXPONENT (0x123) of an RSA key.
    const secret = key.family === 'rsa' ? 0x123 : CKA.VALUE;
    try {
      const [a] = this.p11.C_GetAttributeValue(this.s, key.priv, [{ type: secret }]);
      const value = a?.value as Buffer | undefined;
      if (value && value.length > 0) {
        return prop(
          'sensitive-enforced',
          'violated',
          `the private value of a CKA_SENSITIVE ${key.family} key was returned`,
        );
      }
      return prop(
        'sensitive-enforced',
        'holds',
        `reading the private value of a sensitive ${key.family} key returned nothing`,
      );
    } catch (err) {
      return prop(
        'sensitive-enforced',
        'holds',
        `reading the private value of a sensitive ${key.family} key failed with ${describe(err)}`,
      );
    }
  }

  private sensitiveSticky(key: ProbeKey): SecurityProperty {
    try {
      this.p11.C_SetAttributeValue(this.s, key.priv, [{ type: CKA.SENSITIVE, value: false }]);
    } catch (err) {
      return prop(
        'sensitive-sticky',
        'holds',
        `C_SetAttributeValue(CKA_SENSITIVE=false) was refused with ${describe(err)}`,
      );
    }
    try {
      const [a] = this.p11.C_GetAttributeValue(this.s, key.priv, [{ type: CKA.SENSITIVE }]);
      if ((a?.value as Buffer | undefined)?.[0] === 1)
        return prop(
          'sensitive-sticky',
          'holds',
          'C_SetAttributeValue(CKA_SENSITIVE=false) returned OK but the key stayed sensitive',
        );
    } catch {
      // Fall through: the token accepted the change and we cannot read it back.
    }
    return prop(
      'sensitive-sticky',
      'violated',
      'a sensitive key accepted C_SetAttributeValue(CKA_SENSITIVE=false)',
    );
  }

  /** A session (or temporary) AES-256 key that can wrap and unwrap. */
  private aesKey(): Handle | undefined {
    if (!this.listed.has(CKM.AES_KEY_GEN)) return undefined;
    try {
      const h = this.p11.C_GenerateKey(this.s, { mechanism: CKM.AES_KEY_GEN }, [
        { type: CKA.CLASS, value: CKO.SECRET_KEY },
        { type: CKA.KEY_TYPE, value: CKK.AES },
        { type: CKA.VALUE_LEN, value: 32 },
        ...this.common(),
        { type: CKA.PRIVATE, value: true },
        { type: CKA.SENSITIVE, value: true },
        { type: CKA.EXTRACTABLE, value: false },
        { type: CKA.WRAP, value: true },
        { type: CKA.UNWRAP, value: true },
        { type: CKA.ENCRYPT, value: true },
        { type: CKA.DECRYPT, value: true },
      ]);
      this.created.push(h);
      return h;
    } catch (err) {
      this.notes.push(`AES wrapping key: C_GenerateKey failed with ${describe(err)}`);
      return undefined;
    }
  }

  private wrapMechanisms(): Mechanism[] {
    const out: Mechanism[] = [];
    for (const m of [CKM_NSS_AES_KEY_WRAP_KWP, CKM.AES_KEY_WRAP_PAD, CKM.AES_KEY_WRAP]) {
      if ((this.listed.get(m)?.flags ?? 0) & CKF.WRAP) out.push({ mechanism: m });
    }
    if ((this.listed.get(CKM_AES_CBC_PAD)?.flags ?? 0) & CKF.WRAP) {
      out.push({ mechanism: CKM_AES_CBC_PAD, parameter: randomBytes(16) });
    }
    return out;
  }

  /** Generates a non-extractable key and tries to wrap it with every AES wrapping mechanism offered. */
  private extractableEnforced(key: ProbeKey): SecurityProperty {
    const mechs = this.wrapMechanisms();
    if (mechs.length === 0) {
      return prop(
        'extractable-false-enforced',
        'holds',
        'the token offers no AES wrapping mechanism, so no key can leave it wrapped',
      );
    }
    const wrapKey = this.aesKey();
    if (!wrapKey)
      return prop('extractable-false-enforced', 'not-checked', 'no AES key could be generated to wrap with');
    const refusals: string[] = [];
    for (const m of mechs) {
      try {
        const out = this.p11.C_WrapKey(this.s, m, wrapKey, key.priv, Buffer.alloc(16384));
        return prop(
          'extractable-false-enforced',
          'violated',
          `a CKA_EXTRACTABLE=false ${key.family} key was wrapped with ${hex(m.mechanism)} (${out.length} bytes)`,
        );
      } catch (err) {
        const rv = ckrOf(err);
        if (rv === CKR_KEY_UNEXTRACTABLE || rv === CKR_KEY_NOT_WRAPPABLE) {
          return prop(
            'extractable-false-enforced',
            'holds',
            `C_WrapKey with ${hex(m.mechanism)} was refused with ${describe(err)}`,
          );
        }
        refusals.push(`${hex(m.mechanism)}: ${describe(err)}`);
      }
    }
    // Refused, but not for extractability: the key did not leave, though the reason is not the attribute.
    return prop('extractable-false-enforced', 'holds', `every wrap attempt failed (${refusals.join('; ')})`);
  }

  /** RFC 5649 (or the token's AES key wrap) round trip of an extractable key, checked by a signature. */
  private wrapRoundTrip(): WrapCheck {
    const mech = [CKM_NSS_AES_KEY_WRAP_KWP, CKM.AES_KEY_WRAP_PAD].find(
      (m) => ((this.listed.get(m)?.flags ?? 0) & (CKF.WRAP | CKF.UNWRAP)) === (CKF.WRAP | CKF.UNWRAP),
    );
    if (mech === undefined)
      return { status: 'not-offered', detail: 'no AES key wrap with padding mechanism is offered' };
    // SoftHSM and NSS both use 0x210A, for different algorithms: prefer NSS's explicit RFC 5649 when offered.
    // An RSA key where possible: NSS 3.87 cannot unwrap EC private keys (CKR_TEMPLATE_INCOMPLETE).
    const family = this.listed.has(CKM.RSA_PKCS_KEY_PAIR_GEN) ? 'rsa' : 'ec';
    const key = this.tryKeyPair(family, { extractable: true, rsaBits: 1024 });
    const wrapKey = this.aesKey();
    if (!key || !wrapKey)
      return { status: 'fails', mechanism: mech, detail: 'could not create the keys for the round trip' };
    try {
      const wrapped = Buffer.from(
        this.p11.C_WrapKey(this.s, { mechanism: mech }, wrapKey, key.priv, Buffer.alloc(16384)),
      );
      const keyType = family === 'ec' ? CKK.EC : CKK.RSA;
      const unwrapped = this.p11.C_UnwrapKey(this.s, { mechanism: mech }, wrapKey, wrapped, [
        { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
        { type: CKA.KEY_TYPE, value: keyType },
        ...this.common(),
        { type: CKA.PRIVATE, value: true },
        { type: CKA.SENSITIVE, value: true },
        { type: CKA.SIGN, value: true },
      ]);
      this.created.push(unwrapped);
      const check = this.signCheck(family === 'ec' ? CKM.ECDSA : CKM.RSA_PKCS, {
        family,
        priv: unwrapped,
        pub: key.pub,
      });
      return check.ok
        ? {
            status: 'works',
            mechanism: mech,
            detail: `wrapped (${wrapped.length} bytes), unwrapped, and the unwrapped key signs`,
          }
        : {
            status: 'fails',
            mechanism: mech,
            detail: `the unwrapped key does not sign correctly: ${check.error}`,
          };
    } catch (err) {
      return { status: 'fails', mechanism: mech, detail: `round trip failed with ${describe(err)}` };
    }
  }
}

const TITLES: Record<SecurityPropertyId, string> = {
  'sensitive-enforced': 'token enforces CKA_SENSITIVE=true (the private value cannot be read)',
  'sensitive-sticky': 'token keeps CKA_SENSITIVE=true (it cannot be switched off)',
  'extractable-false-enforced': 'token enforces CKA_EXTRACTABLE=false (the key cannot be wrapped)',
};

function prop(id: SecurityPropertyId, status: PropertyStatus, detail: string): SecurityProperty {
  return { id, title: TITLES[id], status, detail };
}

function hex(m: number): string {
  return `0x${m.toString(16).toUpperCase()}`;
}

function describe(err: unknown): string {
  const rv = ckrOf(err);
  if (rv !== undefined) return ckrName(rv);
  // For display only (never to decide anything): pkcs11js reports some failures as "CKR_X:n".
  const msg = err instanceof Error ? err.message : String(err);
  return /^CKR_[A-Z_]+/.exec(msg)?.[0] ?? msg;
}
