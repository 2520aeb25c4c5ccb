import { HsmError } from '../errors/index.js';

/** Runs a store query, turning driver errors (including "store closed") into HSM_ERR_STORE naming `what`. */
export async function storeQuery<T>(what: string, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (err instanceof HsmError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new HsmError('HSM_ERR_STORE', `${what} failed: ${msg}`, { cause: err });
  }
}
