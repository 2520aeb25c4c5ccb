import { CKA } from '../constants.js';
import type { KeyOps } from './key-ops.js';
import type { TokenConnection } from './token-connection.js';

/** What one host reports for metrics: its operation-session pool and the objects on the token. */
export interface HostStatsHeader {
  /** Sessions this host's pool has open, of them idle, and its bound. */
  pool: { open: number; idle: number; max: number };
  /** Token objects (CKA_TOKEN true) visible to the logged-in user: the key slots in use. */
  objects: number;
}

/**
 * Counts for `hsmkit_session_pool_*` and `hsmkit_key_slots_used`. The object count runs on a pooled
 * session (C_FindObjects in batches); the pool is read after that session is back.
 */
export function hostStats(conn: TokenConnection, ops: KeyOps): HostStatsHeader {
  const objects = conn.run(
    'count token objects',
    true,
    (s) => ops.findHandles(s, [{ type: CKA.TOKEN, value: true }]).length,
  );
  return { pool: { open: conn.pool.size, idle: conn.pool.idleCount, max: conn.pool.max }, objects };
}
