import { toHsmError } from '../errors/index.js';
import type { BatchSignResult } from './key-manager.js';
import type { SignRequest } from './requests.js';

/**
 * The {@link BatchSigner} contract over a one-at-a-time `sign`: every request is started at once
 * (calls issued in one tick travel to a member host as one IPC batch), results come back in order,
 * and each item succeeds or fails on its own, its error as an HsmError.
 */
export function signEach(
  reqs: readonly SignRequest[],
  sign: (req: SignRequest) => Promise<Uint8Array>,
): Promise<BatchSignResult[]> {
  return Promise.all(
    reqs.map((r) =>
      sign(r).then(
        (signature): BatchSignResult => ({ ok: true, signature }),
        (err): BatchSignResult => ({ ok: false, error: toHsmError(err) }),
      ),
    ),
  );
}
