/**
 * What hsmkit may do on one token, decided once at connect time from three sources: the token's
 * mechanism list (its word), the capability probe (what actually worked), and the vendor profile
 * (what is known to be broken or dangerous). The key manager asks it before anything reaches the
 * module, so a refusal never costs a token call and never half-creates a key.
 */
import { HsmError } from '../../../errors/index.js';
import type { CapabilityReport } from '../../../kms/key-manager.js';
import { KEY_TYPES, type KeyFamily, type KeySpec, keySpec } from '../../../kms/key-spec.js';
import type { KeyProtection } from '../../../kms/requests.js';
import { CKM, mechanismName } from '../constants.js';
import type { ProbeResult, SecurityProperty, WrapCheck } from './capability-probe.js';
import { GENERIC_PROFILE, vendorProfile } from './registry.js';
import type { RefusedKeyType, VendorProfile } from './vendor-profile.js';

/** A mechanism from the host's description of the token. */
export interface ListedMechanism {
  type: number;
  minKeySize: number;
  maxKeySize: number;
  flags: number;
}

/** The vendor part of a member host's description. */
export interface VendorDescription {
  mechanisms: ListedMechanism[];
  vendor?: string;
  vendorSelectedBy?: 'config' | 'detected' | 'none';
  probe?: ProbeResult;
  /** Whether the host probed now or reused a cached result, and when the probe ran. */
  probeOrigin?: { source: 'probed' | 'cached'; probedAt: string; fingerprint: string };
}

/** The capability report of a PKCS#11 member: the KMS report plus vendor, probe and checked properties. */
export interface Pkcs11CapabilityReport extends CapabilityReport {
  vendor: { id: string; name: string; evidence: string; selectedBy: string };
  /** Security properties checked on the token at connect time (never taken from the token's word). */
  securityProperties: SecurityProperty[];
  /** Listed mechanisms hsmkit will not use, and why. */
  unusableMechanisms: Array<{ type: number; name: string; reason: string }>;
  /** Key types refused on this token before the module is called, with the code. */
  refusedKeyTypes: Array<{ type: string; code: string; reason: string }>;
  /** The RFC 5649 wrap/unwrap round trip. */
  wrap: WrapCheck;
  probe: {
    objects: string;
    durationMs: number;
    mismatchRefusedAtInit?: boolean;
    notes: string[];
    /** `probed` (run by this host at connect) or `cached` (reused under an equal fingerprint); absent when not probed. */
    source?: 'probed' | 'cached';
    /** When the probe ran (ISO 8601). */
    probedAt?: string;
    /** SHA-256 of what the probe depends on (module, token, firmware, mechanisms, probe version). */
    fingerprint?: string;
  };
}

/** Options the key manager passes on from its policy. */
export interface CapabilityPolicy {
  /**
   * Allow non-exportable keys on a token that was seen not to enforce CKA_EXTRACTABLE=false
   * (NSS 3.87). Default false: such a creation is refused with HSM_ERR_POLICY, because the key
   * would be marked non-extractable and still leave the token wrapped.
   */
  allowUnenforcedNonExtractable?: boolean;
}

const SIGN_MECHANISMS: Record<KeyFamily, number[]> = {
  rsa: [CKM.RSA_PKCS, CKM.SHA256_RSA_PKCS, CKM.RSA_PKCS_PSS, CKM.SHA256_RSA_PKCS_PSS],
  ec: [CKM.ECDSA],
  eddsa: [CKM.EDDSA],
  'ml-dsa': [CKM.ML_DSA],
  'ml-kem': [],
};
const KEYGEN: Record<KeyFamily, number> = {
  rsa: CKM.RSA_PKCS_KEY_PAIR_GEN,
  ec: CKM.EC_KEY_PAIR_GEN,
  eddsa: CKM.EC_EDWARDS_KEY_PAIR_GEN,
  'ml-dsa': CKM.ML_DSA_KEY_PAIR_GEN,
  'ml-kem': CKM.ML_KEM_KEY_PAIR_GEN,
};

/** The decided capabilities of one token. */
export class TokenCapabilities {
  /** The vendor profile in force. */
  readonly profile: VendorProfile;
  /** Mechanisms hsmkit may use: listed, not avoided by the profile, and not failed by the probe. */
  readonly usable: ReadonlySet<number>;
  /** Key type → why signing with it is refused (profile), checked by sign-plan before the module. */
  readonly signRefusals: ReadonlyMap<string, string>;
  private readonly unusable: Array<{ type: number; reason: string }> = [];
  private readonly listed: ReadonlyMap<number, ListedMechanism>;

  constructor(
    private readonly d: VendorDescription,
    private readonly policy: CapabilityPolicy = {},
  ) {
    this.profile = (d.vendor !== undefined ? vendorProfile(d.vendor) : undefined) ?? GENERIC_PROFILE;
    this.listed = new Map(d.mechanisms.map((m) => [m.type, m]));
    const usable = new Set(this.listed.keys());
    for (const a of this.profile.avoidMechanisms) {
      if (usable.delete(a.mechanism))
        this.unusable.push({ type: a.mechanism, reason: `vendor profile: ${a.reason}` });
    }
    for (const c of d.probe?.mechanisms ?? []) {
      if (!c.ok && usable.delete(c.mechanism)) {
        this.unusable.push({
          type: c.mechanism,
          reason: `listed, but a probe signature failed: ${c.error ?? 'unknown'}`,
        });
      }
    }
    this.usable = usable;
    this.signRefusals = new Map(
      this.profile.refusedKeyTypes
        .filter((r) => r.refuse === 'generate-and-sign')
        .map((r) => [r.type, `${this.profile.name}: ${r.reason}`]),
    );
  }

  /** A checked security property, if the probe ran. */
  property(id: SecurityProperty['id']): SecurityProperty | undefined {
    return this.d.probe?.properties.find((p) => p.id === id);
  }

  /**
   * Refuses a key generation hsmkit knows cannot or must not happen here, before anything is
   * created: vendor refusals, key-size limits, no usable signing mechanism, session keys on a
   * token without session objects, and non-exportable keys on a token that does not enforce it.
   */
  checkGeneration(spec: KeySpec, protection: Required<KeyProtection>): void {
    const refusal = this.refusalFor(spec);
    if (refusal)
      throw new HsmError(refusal.code as 'HSM_ERR_KEY_SIZE', refusal.reason, {
        details: { keyType: spec.type },
      });
    if (!protection.token && !this.profile.sessionObjects) {
      throw new HsmError(
        'HSM_ERR_NOT_SUPPORTED',
        `${this.profile.name} has no session objects; CKA_TOKEN=false keys are refused`,
      );
    }
    const extractable = this.property('extractable-false-enforced');
    if (
      !protection.extractable &&
      extractable?.status === 'violated' &&
      !this.policy.allowUnenforcedNonExtractable
    ) {
      throw new HsmError(
        'HSM_ERR_POLICY',
        `this token does not enforce CKA_EXTRACTABLE=false (${extractable.detail}); a non-exportable key would not be. ` +
          'Refused by default; set allowUnenforcedNonExtractable to accept such keys knowingly',
        { details: { property: extractable.id } },
      );
    }
  }

  /** Why a key type cannot be generated here, with the code, or undefined when it can. */
  refusalFor(spec: KeySpec): { code: string; reason: string } | undefined {
    const vendor: RefusedKeyType | undefined = this.profile.refusedKeyTypes.find((r) => r.type === spec.type);
    if (vendor) return { code: vendor.code, reason: `${this.profile.name}: ${vendor.reason}` };
    const max = this.profile.maxRsaBits;
    if (spec.family === 'rsa' && max !== undefined && spec.bits > max) {
      return {
        code: 'HSM_ERR_KEY_SIZE',
        reason: `${this.profile.name} generates RSA keys up to ${max} bits, not ${spec.bits}`,
      };
    }
    const gen = this.listed.get(KEYGEN[spec.family]);
    if (!gen)
      return {
        code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
        reason: `the token does not offer ${mechanismName(KEYGEN[spec.family])}`,
      };
    if (
      spec.family === 'rsa' &&
      gen.maxKeySize > 0 &&
      (spec.bits < gen.minKeySize || spec.bits > gen.maxKeySize)
    ) {
      return {
        code: 'HSM_ERR_KEY_SIZE',
        reason: `the token generates RSA keys from ${gen.minKeySize} to ${gen.maxKeySize} bits, not ${spec.bits}`,
      };
    }
    if (spec.canSign && !SIGN_MECHANISMS[spec.family].some((m) => this.usable.has(m))) {
      return {
        code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
        reason: `no usable signing mechanism for ${spec.family} keys (${SIGN_MECHANISMS[spec.family].map(mechanismName).join(', ')})`,
      };
    }
    return undefined;
  }

  /** Key types this token can generate and sign with. */
  keyTypes(): string[] {
    return KEY_TYPES.filter((t) => this.refusalFor(keySpec(t)) === undefined);
  }

  /** The full report, on top of the KMS part the key manager builds. */
  report(base: CapabilityReport): Pkcs11CapabilityReport {
    const p = this.d.probe;
    return {
      ...base,
      keyTypes: this.keyTypes(),
      vendor: {
        id: this.profile.id,
        name: this.profile.name,
        evidence: this.profile.evidence,
        selectedBy: this.d.vendorSelectedBy ?? 'none',
      },
      securityProperties: p?.properties ?? [],
      unusableMechanisms: this.unusable.map((u) => ({ ...u, name: mechanismName(u.type) })),
      refusedKeyTypes: KEY_TYPES.flatMap((t) => {
        const r = this.refusalFor(keySpec(t));
        return r ? [{ type: t, ...r }] : [];
      }),
      wrap: p?.wrap ?? { status: 'not-offered', detail: 'not probed' },
      probe: {
        objects: p?.probeObjects ?? 'none',
        durationMs: p?.durationMs ?? 0,
        ...(p?.mismatchRefusedAtInit !== undefined ? { mismatchRefusedAtInit: p.mismatchRefusedAtInit } : {}),
        notes: p?.notes ?? [],
        ...(p && this.d.probeOrigin ? { ...this.d.probeOrigin } : {}),
      },
    };
  }
}
