import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { withStatementCache } from './statement-cache.js';

describe('SQLite statement cache', () => {
  it('reuses a statement per SQL text and drops the least recently used beyond the limit', () => {
    const raw = new SqliteDatabase(':memory:');
    const db = withStatementCache(raw, 2);
    const a = db.prepare('select 1');
    assert.equal(db.prepare('select 1'), a);
    const b = db.prepare('select 2');
    assert.equal(db.prepare('select 1'), a); // now most recent
    db.prepare('select 3'); // evicts "select 2"
    assert.notEqual(db.prepare('select 2'), b);
    db.close();
    assert.equal(raw.open, false);
  });

  it('kysely runs writes, reads and a streamed read through cached statements', async () => {
    const db = new Kysely<{ t: { n: number } }>({
      dialect: new SqliteDialect({ database: withStatementCache(new SqliteDatabase(':memory:')) }),
    });
    await sql`create table t (n integer)`.execute(db);
    for (let i = 0; i < 5; i++) await db.insertInto('t').values({ n: i }).execute();
    const seen: number[] = [];
    for await (const row of db.selectFrom('t').select('n').orderBy('n').stream()) {
      seen.push(row.n);
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    // The same statement again, after the stream ended, and a schema change in between.
    await sql`alter table t add column m integer`.execute(db);
    const rows = await db.selectFrom('t').select('n').orderBy('n').execute();
    assert.deepEqual(
      rows.map((r) => r.n),
      [0, 1, 2, 3, 4],
    );
    await db.destroy();
  });
});
