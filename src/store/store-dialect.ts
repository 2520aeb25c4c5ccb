import { type Kysely, PostgresAdapter } from 'kysely';
import type { StoreDialect } from './migrations.js';

/**
 * Which database a Kysely handle talks to, read from its adapter, so that a repository built on
 * any handle of a store (the store's own, a transaction, a single connection) picks the right
 * locking without every caller passing the dialect along.
 */
export function storeDialectOf(db: Kysely<unknown> | { getExecutor(): { adapter: unknown } }): StoreDialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}
