/**
 * hsmkit key types and signature algorithms mapped to Cloud KMS CryptoKeyVersionAlgorithm, in one
 * table. A Cloud KMS key version is bound to one algorithm (padding and hash included), so the
 * mapping is fixed when the key is created.
 */
import { HsmError } from '../../errors/index.js';
import type { KeyType } from '../../kms/key-spec.js';
import { algorithmName, type SignAlgorithm, type SignHash } from '../../kms/sign-algorithm.js';

/** One Cloud KMS signing algorithm and what it means in hsmkit terms. */
export interface GcpAlgorithm {
  /** The CryptoKeyVersionAlgorithm name. */
  name: string;
  keyType: KeyType;
  sign: SignAlgorithm;
  /** `digest`: hsmkit sends a prehash. `data`: the service signs the message itself (EdDSA, ML-DSA). */
  input: 'digest' | 'data';
  /** How the public key is fetched: PEM (with pemCrc32c), or NIST_PQC raw bytes (post-quantum). */
  publicKeyFormat: 'PEM' | 'NIST_PQC';
}

const rsa = (bits: 2048 | 3072 | 4096, scheme: 'rsa-pkcs1' | 'rsa-pss', hash: SignHash): GcpAlgorithm => ({
  name: `RSA_SIGN_${scheme === 'rsa-pkcs1' ? 'PKCS1' : 'PSS'}_${bits}_${hash.toUpperCase()}`,
  keyType: `rsa-${bits}`,
  sign: { scheme, hash },
  input: 'digest',
  publicKeyFormat: 'PEM',
});

const mlDsa = (set: 44 | 65 | 87): GcpAlgorithm => ({
  // The "randomized", pure variants: the service signs the message. The _EXTERNAL_MU variants take
  // a SHAKE-256 message representative, which hsmkit's SignRequest has no field for.
  name: `PQ_SIGN_ML_DSA_${set}`,
  keyType: `ml-dsa-${set}`,
  sign: { scheme: 'ml-dsa' },
  input: 'data',
  publicKeyFormat: 'NIST_PQC',
});

/**
 * Every algorithm hsmkit uses, the default for a key type first. Not mapped, on purpose:
 * EC_SIGN_SECP256K1_SHA256 (no hsmkit key type), RSA_SIGN_RAW_PKCS1_* (raw padding is the
 * caller's job and invites misuse), SLH-DSA (no hsmkit key type).
 */
export const GCP_ALGORITHMS: readonly GcpAlgorithm[] = [
  rsa(2048, 'rsa-pkcs1', 'sha256'),
  rsa(2048, 'rsa-pss', 'sha256'),
  rsa(3072, 'rsa-pkcs1', 'sha256'),
  rsa(3072, 'rsa-pss', 'sha256'),
  rsa(4096, 'rsa-pkcs1', 'sha256'),
  rsa(4096, 'rsa-pkcs1', 'sha512'),
  rsa(4096, 'rsa-pss', 'sha256'),
  rsa(4096, 'rsa-pss', 'sha512'),
  {
    name: 'EC_SIGN_P256_SHA256',
    keyType: 'ec-p256',
    sign: { scheme: 'ecdsa', hash: 'sha256' },
    input: 'digest',
    publicKeyFormat: 'PEM',
  },
  {
    name: 'EC_SIGN_P384_SHA384',
    keyType: 'ec-p384',
    sign: { scheme: 'ecdsa', hash: 'sha384' },
    input: 'digest',
    publicKeyFormat: 'PEM',
  },
  {
    name: 'EC_SIGN_ED25519',
    keyType: 'ed25519',
    sign: { scheme: 'eddsa' },
    input: 'data',
    publicKeyFormat: 'PEM',
  },
  mlDsa(44),
  mlDsa(65),
  mlDsa(87),
];

const sameSign = (a: SignAlgorithm, b: SignAlgorithm): boolean => a.scheme === b.scheme && a.hash === b.hash;

/**
 * The Cloud KMS algorithm for a key type and (optionally) a signature algorithm. Types Cloud KMS
 * does not offer (rsa-8192, ec-p521, ed448, ml-kem-*) are HSM_ERR_MECHANISM_UNSUPPORTED: there is
 * no software fallback.
 */
export function gcpAlgorithmFor(type: KeyType, sign?: SignAlgorithm): GcpAlgorithm {
  const candidates = GCP_ALGORITHMS.filter((a) => a.keyType === type);
  if (candidates.length === 0) {
    throw new HsmError(
      'HSM_ERR_MECHANISM_UNSUPPORTED',
      `Cloud KMS offers no signing algorithm for ${type} keys`,
    );
  }
  if (sign === undefined) return candidates[0]!;
  const match = candidates.find((a) => sameSign(a.sign, sign));
  if (!match) {
    throw new HsmError(
      'HSM_ERR_MECHANISM_UNSUPPORTED',
      `Cloud KMS offers ${type} with ${candidates.map((a) => algorithmName(a.sign)).join(', ')}, not ${algorithmName(sign)}`,
    );
  }
  return match;
}

/** The table entry of a Cloud KMS algorithm name, or undefined for one hsmkit does not use. */
export function gcpAlgorithmNamed(name: string): GcpAlgorithm | undefined {
  return GCP_ALGORITHMS.find((a) => a.name === name);
}
