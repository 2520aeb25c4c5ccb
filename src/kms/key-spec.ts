import { HsmError } from '../errors/index.js';

/** The key types hsmkit can generate, where the token offers them. */
export const KEY_TYPES = [
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
  'rsa-8192',
  'ec-p256',
  'ec-p384',
  'ec-p521',
  'ed25519',
  'ed448',
  'ml-dsa-44',
  'ml-dsa-65',
  'ml-dsa-87',
  'ml-kem-512',
  'ml-kem-768',
  'ml-kem-1024',
] as const;

/** A key type name, e.g. `ec-p384`. */
export type KeyType = (typeof KEY_TYPES)[number];

/** Algorithm family of a key type. */
export type KeyFamily = 'rsa' | 'ec' | 'eddsa' | 'ml-dsa' | 'ml-kem';

/** What hsmkit needs to know about a key type. */
export interface KeySpec {
  type: KeyType;
  family: KeyFamily;
  /** RSA modulus bits, or the nominal strength for the others. */
  bits: number;
  /** Curve for EC and EdDSA keys. */
  curve?: 'P-256' | 'P-384' | 'P-521' | 'Ed25519' | 'Ed448';
  /** ML-DSA / ML-KEM parameter set (44/65/87, 512/768/1024). */
  parameterSet?: number;
  /** Whether keys of this type can sign (ML-KEM keys cannot). */
  canSign: boolean;
}

const SPECS: Record<KeyType, KeySpec> = {
  'rsa-2048': { type: 'rsa-2048', family: 'rsa', bits: 2048, canSign: true },
  'rsa-3072': { type: 'rsa-3072', family: 'rsa', bits: 3072, canSign: true },
  'rsa-4096': { type: 'rsa-4096', family: 'rsa', bits: 4096, canSign: true },
  'rsa-8192': { type: 'rsa-8192', family: 'rsa', bits: 8192, canSign: true },
  'ec-p256': { type: 'ec-p256', family: 'ec', bits: 256, curve: 'P-256', canSign: true },
  'ec-p384': { type: 'ec-p384', family: 'ec', bits: 384, curve: 'P-384', canSign: true },
  'ec-p521': { type: 'ec-p521', family: 'ec', bits: 521, curve: 'P-521', canSign: true },
  ed25519: { type: 'ed25519', family: 'eddsa', bits: 255, curve: 'Ed25519', canSign: true },
  ed448: { type: 'ed448', family: 'eddsa', bits: 448, curve: 'Ed448', canSign: true },
  'ml-dsa-44': { type: 'ml-dsa-44', family: 'ml-dsa', bits: 128, parameterSet: 44, canSign: true },
  'ml-dsa-65': { type: 'ml-dsa-65', family: 'ml-dsa', bits: 192, parameterSet: 65, canSign: true },
  'ml-dsa-87': { type: 'ml-dsa-87', family: 'ml-dsa', bits: 256, parameterSet: 87, canSign: true },
  'ml-kem-512': { type: 'ml-kem-512', family: 'ml-kem', bits: 128, parameterSet: 512, canSign: false },
  'ml-kem-768': { type: 'ml-kem-768', family: 'ml-kem', bits: 192, parameterSet: 768, canSign: false },
  'ml-kem-1024': { type: 'ml-kem-1024', family: 'ml-kem', bits: 256, parameterSet: 1024, canSign: false },
};

const ALIASES: Record<string, KeyType> = {
  'ecdsa-p256': 'ec-p256',
  'ecdsa-p384': 'ec-p384',
  'ecdsa-p521': 'ec-p521',
  'p-256': 'ec-p256',
  'p-384': 'ec-p384',
  'p-521': 'ec-p521',
  p256: 'ec-p256',
  p384: 'ec-p384',
  p521: 'ec-p521',
  'ec-p-256': 'ec-p256',
  'ec-p-384': 'ec-p384',
  'ec-p-521': 'ec-p521',
};

/** The spec of a key type. */
export function keySpec(type: KeyType): KeySpec {
  return SPECS[type];
}

/**
 * Parses a key type name as users write it: `rsa-4096`, `RSA_4096`, `ec-p384`, `ecdsa-p384`,
 * `P-384`, `ed25519`, `ML-DSA-65`. Unknown names are HSM_ERR_INVALID_INPUT listing the valid ones.
 */
export function parseKeyType(input: string): KeySpec {
  const norm = String(input).trim().toLowerCase().replace(/_/g, '-');
  // Own properties only: `constructor` or `__proto__` must not resolve to Object.prototype members.
  const type = (
    Object.hasOwn(SPECS, norm) ? norm : Object.hasOwn(ALIASES, norm) ? ALIASES[norm] : undefined
  ) as KeyType | undefined;
  if (type === undefined) {
    const rsa = /^rsa-(\d+)$/.exec(norm);
    if (rsa) {
      throw new HsmError(
        'HSM_ERR_KEY_SIZE',
        `RSA key size ${rsa[1]} is not supported; choose 2048, 3072, 4096 or 8192`,
        { details: { keyType: input } },
      );
    }
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `unknown key type "${printable(input)}"; valid types: ${KEY_TYPES.join(', ')}`,
    );
  }
  return SPECS[type];
}

/** Builds a key type from the parts of a key generation request ("RSA" + 4096, "EC" + "P-384"). */
export function keyTypeFromParts(algorithm: string, sizeOrCurve?: string | number): KeySpec {
  const alg = String(algorithm).trim().toLowerCase().replace(/_/g, '-');
  if (sizeOrCurve === undefined) return parseKeyType(alg);
  const param = String(sizeOrCurve).trim().toLowerCase().replace(/_/g, '-');
  if (alg === 'rsa') return parseKeyType(`rsa-${param}`);
  if (alg === 'ec' || alg === 'ecdsa') return parseKeyType(`ec-${param.replace(/^p-?/, 'p')}`);
  if (alg === 'eddsa' || alg === 'ed') return parseKeyType(param);
  if (alg === 'ml-dsa' || alg === 'ml-kem') return parseKeyType(`${alg}-${param}`);
  return parseKeyType(`${alg}-${param}`);
}

function printable(s: string): string {
  return String(s)
    .slice(0, 64)
    .replace(/[^\x20-\x7e]/g, '?');
}
