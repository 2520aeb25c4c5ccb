import { hsmkitPaths } from '../config/home.js';
import type { HsmkitConfig } from '../config/schema.js';
import { Store } from '../store/store.js';

/**
 * Opens the configured metadata store: SQLite at `store.path` (default `~/.hsmkit/hsmkit.db`) or
 * PostgreSQL at `store.url`. Every CLI command and `hsmkit serve` opens the store through here.
 */
export async function openStore(config: Pick<HsmkitConfig, 'store'>): Promise<Store> {
  const s = config.store;
  if (s.driver === 'postgres') return Store.openPostgres(s.url);
  return Store.openSqlite(s.path ?? hsmkitPaths().database);
}
