import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * The SQLite database as kysely sees it, with prepared statements kept and reused by SQL text.
 * kysely's SQLite driver prepares every query anew, and better-sqlite3 has no statement cache, so
 * each audit append (the service's hottest write) paid a prepare. Reuse is safe: the driver runs
 * one query at a time on its single connection (a mutex, held by a streaming read until it ends),
 * so a cached statement is never in use twice. SQLite re-prepares a statement itself after a
 * schema change. Least recently used statements beyond `max` are dropped.
 */
export function withStatementCache(db: SqliteDatabase, max = 256): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare(sql: string): SqliteStatement {
      const hit = cache.get(sql);
      if (hit) {
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = db.prepare(sql);
      cache.set(sql, stmt);
      if (cache.size > max) cache.delete(cache.keys().next().value as string);
      return stmt;
    },
  };
}
