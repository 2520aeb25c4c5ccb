import { createPublicKey } from 'node:crypto';
import type { KeyGenerationPolicy } from '../kms/key-policy.js';
import { invalidInput, policyRefusal } from './pki-errors.js';
import type { ProfileName } from './profiles.js';

/** Certificate-issuing policy. Defaults are stated in {@link defaultPkiPolicy}. */
export interface PkiPolicy {
  /** Longest validity per profile, in days. */
  maxValidityDays: Record<ProfileName, number>;
  /** Smallest subject key accepted in a CSR. */
  minimumKeySize: { rsa: number; ecdsa: 'P-256' | 'P-384' | 'P-521' };
}

/**
 * The default policy: root 25 y, intermediate 10 y, TLS server 398 d (CA/Browser Forum), TLS
 * client 825 d, code and document signing 3 y (1095 d), OCSP signing 90 d; subject keys at
 * least RSA-2048 or P-256. A configured `security_policy.minimum_key_size` raises the minimum.
 */
export function defaultPkiPolicy(keyPolicy: KeyGenerationPolicy = {}): PkiPolicy {
  return {
    maxValidityDays: {
      'root-ca': 9125,
      'intermediate-ca': 3650,
      'tls-server': 398,
      'tls-client': 825,
      'code-signing': 1095,
      'document-signing': 1095,
      'ocsp-signing': 90,
    },
    minimumKeySize: {
      rsa: Math.max(2048, keyPolicy.minimumKeySize?.rsa ?? 0),
      ecdsa: keyPolicy.minimumKeySize?.ecdsa ?? 'P-256',
    },
  };
}

/** What a subject public key is, as far as policy cares. */
export interface SubjectKeyDescription {
  family: 'rsa' | 'ec' | 'eddsa';
  /** RSA modulus bits or curve size. */
  bits: number;
  curve?: string;
}

const CURVES: Record<string, { name: string; bits: number }> = {
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
};
const STRENGTH = { 'P-256': 256, 'P-384': 384, 'P-521': 521 } as const;

/** Describes a SubjectPublicKeyInfo; an unparsable one is HSM_ERR_INVALID_INPUT. */
export function describeSubjectKey(spki: Uint8Array): SubjectKeyDescription {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (err) {
    throw invalidInput('the public key is not a valid SubjectPublicKeyInfo', err);
  }
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { family: 'rsa', bits: d.modulusLength ?? 0 };
    case 'ec': {
      const c = CURVES[d.namedCurve ?? ''];
      if (!c)
        throw policyRefusal(`EC curve ${d.namedCurve ?? '?'} is not allowed; use P-256, P-384 or P-521`);
      return { family: 'ec', bits: c.bits, curve: c.name };
    }
    case 'ed25519':
      return { family: 'eddsa', bits: 256, curve: 'Ed25519' };
    case 'ed448':
      return { family: 'eddsa', bits: 448, curve: 'Ed448' };
    default:
      throw policyRefusal(`subject key type ${key.asymmetricKeyType ?? '?'} is not allowed`);
  }
}

/** Refuses a subject key below policy (HSM_ERR_POLICY). */
export function checkSubjectKey(spki: Uint8Array, policy: PkiPolicy): SubjectKeyDescription {
  const k = describeSubjectKey(spki);
  if (k.family === 'rsa' && k.bits < policy.minimumKeySize.rsa) {
    throw policyRefusal(
      `RSA key of ${k.bits} bits is below the policy minimum of ${policy.minimumKeySize.rsa}`,
    );
  }
  if (k.family === 'ec' && k.bits < STRENGTH[policy.minimumKeySize.ecdsa]) {
    throw policyRefusal(`EC key on ${k.curve} is below the policy minimum ${policy.minimumKeySize.ecdsa}`);
  }
  return k;
}

/** Refuses a validity above the profile's cap (HSM_ERR_POLICY) or a non-positive one. */
export function checkValidity(profile: ProfileName, validityMs: number, policy: PkiPolicy): void {
  if (!(validityMs > 0)) throw invalidInput('validity must be positive');
  const cap = policy.maxValidityDays[profile];
  if (validityMs > cap * 86_400_000) {
    throw policyRefusal(
      `validity ${Math.round(validityMs / 86_400_000)} d is above the ${profile} cap of ${cap} d`,
    );
  }
}
