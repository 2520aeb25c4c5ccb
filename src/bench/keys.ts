import { createHash } from 'node:crypto';
import type { KeyType } from '../kms/key-spec.js';
import type { SignRequest } from '../kms/requests.js';

/** The message whose SHA-256 both sides sign (the C baseline has the digest built in). */
export const MESSAGE = Buffer.from('hsmkit benchmark message');
/** SHA-256 of {@link MESSAGE}. */
export const DIGEST = createHash('sha256').update(MESSAGE).digest();
const C_DIGEST_HEX = 'b40aee4e271eadca3a236e4e9a5452116993ecc76d65ba2d30b05c35b43af001';
if (DIGEST.toString('hex') !== C_DIGEST_HEX) throw new Error('fixed digest differs from the C baseline');

/** A key the benchmark signs with, and how the C baseline signs the same bytes. */
export interface BenchKey {
  name: string;
  label: string;
  type: KeyType;
  cMech: 'ecdsa' | 'rsa-pkcs' | 'eddsa';
  /** What hsmkit is asked to sign: it hands C_Sign exactly the bytes the C loop signs. */
  request: SignRequest;
  /** The message the signature verifies against. */
  message: Buffer;
}

function key(name: string, type: KeyType, cMech: BenchKey['cMech']): BenchKey {
  const label = `bench-${type}`;
  const request: SignRequest =
    cMech === 'eddsa'
      ? { key: label, data: DIGEST }
      : {
          key: label,
          digest: DIGEST,
          algorithm: { scheme: cMech === 'ecdsa' ? 'ecdsa' : 'rsa-pkcs1', hash: 'sha256' },
        };
  return { name, label, type, cMech, request, message: cMech === 'eddsa' ? DIGEST : MESSAGE };
}

/** Every signing key type of the issue, in report order. */
export const BENCH_KEYS: BenchKey[] = [
  key('RSA-2048', 'rsa-2048', 'rsa-pkcs'),
  key('RSA-3072', 'rsa-3072', 'rsa-pkcs'),
  key('RSA-4096', 'rsa-4096', 'rsa-pkcs'),
  key('P-256', 'ec-p256', 'ecdsa'),
  key('P-384', 'ec-p384', 'ecdsa'),
  key('P-521', 'ec-p521', 'ecdsa'),
  key('Ed25519', 'ed25519', 'eddsa'),
  key('Ed448', 'ed448', 'eddsa'),
];

/** The key of `name` (throws on a typo). */
export function benchKey(name: string): BenchKey {
  const k = BENCH_KEYS.find((x) => x.name === name);
  if (!k) throw new Error(`no bench key ${name}`);
  return k;
}
