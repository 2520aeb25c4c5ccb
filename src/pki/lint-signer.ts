import { webcrypto } from 'node:crypto';
import type { KeyAlgorithms } from './key-algorithms.js';

// One throw-away key per algorithm per process: it signs only lint copies, which are compared
// and discarded, never issued (boulder's ceremony tool does the same with its lint signer).
const keys = new Map<string, Promise<webcrypto.CryptoKeyPair>>();

/**
 * A software key of the same signature algorithm as an HSM key, for the throw-away copy that is
 * linted before the HSM signs. The TBS carries only the algorithm identifier, not the key, so a
 * smaller RSA key gives the same TBS.
 */
export function lintSigningKey(alg: KeyAlgorithms): Promise<webcrypto.CryptoKeyPair> {
  const id = JSON.stringify(alg.web);
  let k = keys.get(id);
  if (!k) {
    const w = alg.web;
    const params =
      w.name === 'RSASSA-PKCS1-v1_5'
        ? { name: w.name, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: w.hash! }
        : w.name === 'ECDSA'
          ? { name: 'ECDSA', namedCurve: w.namedCurve! }
          : { name: w.name };
    k = webcrypto.subtle.generateKey(params, false, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
    keys.set(id, k);
  }
  return k;
}
