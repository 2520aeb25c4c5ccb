import { HsmError } from '../errors/index.js';
import type { KeySpec } from './key-spec.js';
import type { KeyProtection } from './requests.js';

/** The part of the configured security_policy that governs key generation. */
export interface KeyGenerationPolicy {
  /** Smallest RSA modulus and weakest EC curve allowed (seed: rsa 4096, ecdsa P-384). */
  minimumKeySize?: { rsa?: number; ecdsa?: 'P-256' | 'P-384' | 'P-521' };
  /** What generated keys must be. extractable=false forbids extractable keys; sensitive=true forbids non-sensitive ones. */
  keyAttributes?: { extractable: boolean; persistent: boolean; sensitive: boolean };
}

const EC_STRENGTH = { 'P-256': 256, 'P-384': 384, 'P-521': 521 } as const;

/** Applies the policy's defaults to a request's protection and refuses what the policy forbids. */
export function applyKeyPolicy(
  spec: KeySpec,
  requested: KeyProtection | undefined,
  policy: KeyGenerationPolicy = {},
): Required<KeyProtection> {
  const attrs = policy.keyAttributes ?? { extractable: false, persistent: true, sensitive: true };
  const protection: Required<KeyProtection> = {
    token: requested?.token ?? attrs.persistent,
    private: requested?.private ?? true,
    sensitive: requested?.sensitive ?? true,
    extractable: requested?.extractable ?? false,
    wrapWithTrusted: requested?.wrapWithTrusted ?? false,
  };
  const min = policy.minimumKeySize ?? {};
  if (spec.family === 'rsa' && min.rsa !== undefined && spec.bits < min.rsa) {
    throw new HsmError(
      'HSM_ERR_POLICY',
      `policy requires RSA keys of at least ${min.rsa} bits; ${spec.type} is ${spec.bits}`,
    );
  }
  if (spec.family === 'ec' && min.ecdsa !== undefined && spec.bits < EC_STRENGTH[min.ecdsa]) {
    throw new HsmError(
      'HSM_ERR_POLICY',
      `policy requires ECDSA keys on ${min.ecdsa} or stronger; ${spec.type} is weaker`,
    );
  }
  // Extractable only under CKA_WRAP_WITH_TRUSTED is how the cluster replicates keys HSM to HSM:
  // the key can leave only wrapped by the trusted replication key, never in the clear.
  if (protection.extractable && !protection.wrapWithTrusted && !attrs.extractable) {
    throw new HsmError(
      'HSM_ERR_POLICY',
      'policy forbids extractable keys (security_policy.key_attributes.extractable is false)',
    );
  }
  if (!protection.sensitive && attrs.sensitive) {
    throw new HsmError(
      'HSM_ERR_POLICY',
      'policy forbids non-sensitive keys (security_policy.key_attributes.sensitive is true)',
    );
  }
  if (!protection.private) {
    throw new HsmError(
      'HSM_ERR_POLICY',
      'private keys must be CKA_PRIVATE: a key usable without login is refused',
    );
  }
  if (!protection.token && attrs.persistent) {
    throw new HsmError(
      'HSM_ERR_POLICY',
      'policy requires persistent (token) keys (security_policy.key_attributes.persistent is true)',
    );
  }
  return protection;
}
