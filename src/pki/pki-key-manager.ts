import { HsmError } from '../errors/index.js';
import {
  type BatchSigner,
  isBatchSigner,
  isRandomSource,
  type KeyManager,
  type RandomSource,
} from '../kms/key-manager.js';
import type { SignRequest } from '../kms/requests.js';

/** What the PKI layer needs: the core KeyManager plus the HSM's RNG (for serials and nonces). */
export type PkiKeyManager = KeyManager & RandomSource & Partial<BatchSigner>;

/** Checks that `km` has an RNG; serials must come from the HSM, never from software. */
export function asPkiKeyManager(km: KeyManager): PkiKeyManager {
  if (!isRandomSource(km)) {
    throw new HsmError('HSM_ERR_MECHANISM_UNSUPPORTED', 'the key manager has no RNG; serials need one');
  }
  return km;
}

/** Signs many requests, in one batch when the key manager can; the first failure is thrown. */
export async function signAll(km: PkiKeyManager, reqs: SignRequest[]): Promise<Uint8Array[]> {
  if (reqs.length === 0) return [];
  if (!isBatchSigner(km)) return Promise.all(reqs.map((r) => km.sign(r)));
  const results = await km.signBatch(reqs);
  return results.map((r) => {
    if (!r.ok) throw r.error;
    return r.signature;
  });
}
