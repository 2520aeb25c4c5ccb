/**
 * PKCS#1 v1.5 DigestInfo. With CKM_RSA_PKCS the token pads whatever it is given, so hsmkit must
 * hand it DigestInfo(hash OID, digest) itself when signing a precomputed hash.
 */
import { createHash } from 'node:crypto';
import { HsmError } from '../errors/index.js';
import { assertBytes, concatBytes } from './der.js';

/** A hash hsmkit signs with. Names match node:crypto. */
export type HashName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** Digest size in bytes per hash. */
export const HASH_SIZES: Readonly<Record<HashName, number>> = {
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

// The fixed DER prefixes from RFC 8017 §9.2 note 1 (AlgorithmIdentifier with NULL parameters, then the
// OCTET STRING header). Kept literal so they can be checked against the RFC by eye.
const PREFIXES: Record<HashName, Uint8Array> = {
  sha1: hex('3021300906052b0e03021a05000414'),
  sha224: hex('302d300d06096086480165030402040500041c'),
  sha256: hex('3031300d060960864801650304020105000420'),
  sha384: hex('3041300d060960864801650304020205000430'),
  sha512: hex('3051300d060960864801650304020305000440'),
};

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

/** True when `value` is a supported hash name (exact, lower-case form). */
export function isHashName(value: unknown): value is HashName {
  return typeof value === 'string' && Object.hasOwn(HASH_SIZES, value);
}

function checkHash(hash: HashName): void {
  if (!isHashName(hash)) throw new HsmError('HSM_ERR_INVALID_INPUT', `unsupported hash: ${String(hash)}`);
}

/** Builds the PKCS#1 v1.5 DigestInfo DER for `digest`, which must have the hash's exact size. */
export function digestInfo(hash: HashName, digest: Uint8Array): Uint8Array {
  checkHash(hash);
  assertBytes(digest, 'digest');
  if (digest.length !== HASH_SIZES[hash]) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `${hash} digest must be ${HASH_SIZES[hash]} bytes, got ${digest.length}`,
    );
  }
  return concatBytes(PREFIXES[hash], digest);
}

/** Hashes `data` in software with node:crypto. */
export function hashData(hash: HashName, data: Uint8Array): Uint8Array {
  checkHash(hash);
  assertBytes(data, 'data');
  // Copy out of the Buffer so callers get a plain Uint8Array (deepStrictEqual treats them differently).
  return Uint8Array.from(createHash(hash).update(data).digest());
}

/** Parses a hash name such as `sha256`, `SHA-256` or `SHA256` (case-insensitive). */
export function parseHashName(s: string): HashName {
  const m = typeof s === 'string' ? /^sha-?(1|224|256|384|512)$/i.exec(s) : null;
  if (m === null)
    throw new HsmError('HSM_ERR_INVALID_INPUT', `unsupported hash name: ${String(s).slice(0, 64)}`);
  return `sha${m[1]}` as HashName;
}
