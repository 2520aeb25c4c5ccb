import { HsmError } from '../errors/index.js';
import type { KeyFamily } from './key-spec.js';

/** Hashes hsmkit signs with. */
export type SignHash = 'sha256' | 'sha384' | 'sha512';

/** A signature scheme. */
export type SignScheme = 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa' | 'eddsa' | 'ml-dsa';

/** A fully specified signature algorithm. */
export interface SignAlgorithm {
  scheme: SignScheme;
  /** The message hash. Absent for EdDSA and ML-DSA, which sign the message itself. */
  hash?: SignHash;
}

const HASHES: Record<string, SignHash> = {
  sha256: 'sha256',
  'sha-256': 'sha256',
  sha384: 'sha384',
  'sha-384': 'sha384',
  sha512: 'sha512',
  'sha-512': 'sha512',
};

/** The algorithm used when the caller names none, or names only a hash. */
export function defaultAlgorithm(family: KeyFamily, hash: SignHash = 'sha256'): SignAlgorithm {
  switch (family) {
    case 'rsa':
      return { scheme: 'rsa-pkcs1', hash };
    case 'ec':
      return { scheme: 'ecdsa', hash };
    case 'eddsa':
      return { scheme: 'eddsa' };
    case 'ml-dsa':
      return { scheme: 'ml-dsa' };
    case 'ml-kem':
      throw new HsmError('HSM_ERR_KEY_FUNCTION_NOT_PERMITTED', 'ML-KEM keys encapsulate; they cannot sign');
  }
}

/**
 * Parses an algorithm as users write it, for a key of the given family: a hash alone (`sha384`),
 * or a scheme with a hash (`RSA-PSS-SHA256`, `pss-sha512`, `pkcs1-sha256`, `ECDSA-SHA384`), or
 * `EdDSA` / `ML-DSA`. A scheme that does not fit the key is HSM_ERR_INVALID_INPUT.
 */
export function parseSignAlgorithm(input: string | undefined, family: KeyFamily): SignAlgorithm {
  if (input === undefined || input === '') return defaultAlgorithm(family);
  const norm = input.trim().toLowerCase().replace(/_/g, '-');
  const hashOnly = HASHES[norm];
  if (hashOnly) {
    if (family === 'eddsa' || family === 'ml-dsa') {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `${family} signs the message itself; a hash (${input}) does not apply`,
      );
    }
    return defaultAlgorithm(family, hashOnly);
  }
  const m = /^(rsa-pkcs1|rsa-pss|pkcs1|pss|ecdsa|eddsa|ed25519|ed448|ml-dsa)(?:-(sha-?\d{3}))?$/.exec(norm);
  if (!m) throw new HsmError('HSM_ERR_INVALID_INPUT', `unknown signature algorithm "${input.slice(0, 64)}"`);
  const schemeWord = m[1]!;
  const hash = m[2] === undefined ? undefined : HASHES[m[2]];
  if (m[2] !== undefined && hash === undefined) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `unsupported hash in "${input.slice(0, 64)}"; use sha256, sha384 or sha512`,
    );
  }
  const scheme: SignScheme =
    schemeWord === 'pkcs1' || schemeWord === 'rsa-pkcs1'
      ? 'rsa-pkcs1'
      : schemeWord === 'pss' || schemeWord === 'rsa-pss'
        ? 'rsa-pss'
        : schemeWord === 'ecdsa'
          ? 'ecdsa'
          : schemeWord === 'ml-dsa'
            ? 'ml-dsa'
            : 'eddsa';
  const fits: Record<SignScheme, KeyFamily> = {
    'rsa-pkcs1': 'rsa',
    'rsa-pss': 'rsa',
    ecdsa: 'ec',
    eddsa: 'eddsa',
    'ml-dsa': 'ml-dsa',
  };
  if (fits[scheme] !== family) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `algorithm ${input.slice(0, 64)} does not fit a ${family} key`,
    );
  }
  if (scheme === 'eddsa' || scheme === 'ml-dsa') {
    if (hash !== undefined)
      throw new HsmError('HSM_ERR_INVALID_INPUT', `${scheme} signs the message itself; do not name a hash`);
    return { scheme };
  }
  return { scheme, hash: hash ?? 'sha256' };
}

/** A stable display name, e.g. `RSA-PSS-SHA256`, `ECDSA-SHA384`, `EdDSA`. */
export function algorithmName(alg: SignAlgorithm): string {
  const base = {
    'rsa-pkcs1': 'RSA-PKCS1',
    'rsa-pss': 'RSA-PSS',
    ecdsa: 'ECDSA',
    eddsa: 'EdDSA',
    'ml-dsa': 'ML-DSA',
  }[alg.scheme];
  return alg.hash ? `${base}-${alg.hash.toUpperCase()}` : base;
}
