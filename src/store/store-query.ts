import { HsmError } from '../errors/index.js';
import { isTransientPostgresError } from './transient-error.js';

/**
 * Runs a store query, turning driver errors (including "store closed") into HSM_ERR_STORE naming
 * `what`; a database that cannot be reached now (PostgreSQL down or restarting) gives the
 * retryable HSM_ERR_STORE_UNAVAILABLE instead.
 */
export async function storeQuery<T>(what: string, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (err instanceof HsmError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    if (isTransientPostgresError(err)) {
      throw new HsmError('HSM_ERR_STORE_UNAVAILABLE', `${what} failed: ${msg}`, { cause: err });
    }
    throw new HsmError('HSM_ERR_STORE', `${what} failed: ${msg}`, { cause: err });
  }
}
