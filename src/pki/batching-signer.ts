import type { SignRequest } from '../kms/requests.js';
import type { TbsSigner } from './hsm-crypto.js';
import { type PkiKeyManager, signAll } from './pki-key-manager.js';
import { HSM_KEY } from './signing-key.js';

/**
 * A TbsSigner that gathers the signatures asked for in one tick and sends them to the HSM as one
 * `signBatch` call (one IPC batch to the member host), then hands each caller its signature.
 * `onBatch` is told each batch's size (for tests and metrics).
 */
export function batchingTbsSigner(km: PkiKeyManager, onBatch?: (size: number) => void): TbsSigner {
  let pending: Array<{ req: SignRequest; resolve: (s: Uint8Array) => void; reject: (e: unknown) => void }> =
    [];
  const flush = () => {
    const batch = pending;
    pending = [];
    onBatch?.(batch.length);
    signAll(
      km,
      batch.map((b) => b.req),
    ).then(
      (sigs) => {
        for (const [i, b] of batch.entries()) b.resolve(sigs[i]!);
      },
      // signAll throws the first failure; per-item errors then fail each waiting caller.
      (err) => {
        for (const b of batch) b.reject(err);
      },
    );
  };
  return (key, tbs) =>
    new Promise((resolve, reject) => {
      const k = key[HSM_KEY];
      if (pending.length === 0) setImmediate(flush);
      pending.push({
        req: { key: k.uri, data: tbs, algorithm: k.algorithms.sign, format: 'raw' },
        resolve,
        reject,
      });
    });
}
