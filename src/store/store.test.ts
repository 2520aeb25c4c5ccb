import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type Kysely, sql } from 'kysely';
import { type ErrorCode, HsmError } from '../errors/index.js';
import {
  LATEST_MIGRATION,
  MIGRATION_TABLE,
  migrateToLatest,
  migrations,
  type NewKeyRecord,
  Store,
} from './index.js';

const run = promisify(execFile);

async function expectCode(
  work: Promise<unknown>,
  code: ErrorCode,
  check?: (err: HsmError) => void,
): Promise<void> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof HsmError, `expected HsmError, got ${String(err)}`);
    assert.equal(err.code, code);
    check?.(err);
    return;
  }
  assert.fail(`expected ${code}, but nothing was thrown`);
}

function newKey(name: string, extra: Partial<NewKeyRecord> = {}): NewKeyRecord {
  return {
    uri: `pkcs11:token=dev;object=${name};type=private`,
    member: 'softhsm-a',
    token: 'dev',
    label: name,
    idHex: '01',
    keyType: 'ed25519',
    status: 'active',
    tags: {},
    ...extra,
  };
}

async function executedMigrations(store: Store): Promise<string[]> {
  const { rows } = await sql<{
    name: string;
  }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(store.db);
  return rows.map((r) => r.name);
}

describe('Store', () => {
  let dir: string;
  let n = 0;
  const freshPath = () => {
    n += 1;
    return path.join(dir, `s${n}`, 'nested', 'store.db');
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsmkit-store-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the folder 0700 and the file 0600, with the required pragmas', async () => {
    const file = freshPath();
    const store = await Store.openSqlite(file);
    try {
      await store.keys.insert(newKey('k1')); // so the -wal file exists
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.equal(fs.statSync(`${file}-wal`).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
      assert.equal(fs.statSync(path.dirname(path.dirname(file))).mode & 0o777, 0o700);
      const pragma = async (name: string) =>
        Object.values(
          (await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(store.db)).rows[0] ?? {},
        )[0];
      assert.equal(await pragma('journal_mode'), 'wal');
      assert.equal(await pragma('busy_timeout'), 5000);
      assert.equal(await pragma('foreign_keys'), 1);
      assert.equal(await pragma('synchronous'), 1); // NORMAL
    } finally {
      await store.close();
    }
  });

  it('does not loosen or tighten an existing parent folder', async () => {
    const parent = path.join(dir, 'shared');
    fs.mkdirSync(parent, { mode: 0o755 });
    fs.chmodSync(parent, 0o755);
    const store = await Store.openSqlite(path.join(parent, 'store.db'));
    await store.close();
    assert.equal(fs.statSync(parent).mode & 0o777, 0o755);
    assert.equal(fs.statSync(path.join(parent, 'store.db')).mode & 0o777, 0o600);
  });

  it('migrations are idempotent: reopen keeps the data and the schema at the latest migration', async () => {
    const file = freshPath();
    const first = await Store.openSqlite(file);
    const rec = await first.keys.insert(
      newKey('kept', { tags: { a: 'b' }, publicKeySpki: new Uint8Array([0, 1]) }),
    );
    assert.deepEqual(await executedMigrations(first), Object.keys(migrations).sort());
    await first.close();

    for (let i = 0; i < 2; i += 1) {
      const again = await Store.openSqlite(file);
      try {
        assert.deepEqual(await again.keys.list(), [rec]);
        const executed = await executedMigrations(again);
        assert.deepEqual(executed, Object.keys(migrations).sort());
        assert.equal(executed.at(-1), LATEST_MIGRATION);
      } finally {
        await again.close();
      }
    }
  });

  it('two instances on one file see each other’s writes', async () => {
    const file = freshPath();
    const a = await Store.openSqlite(file);
    const b = await Store.openSqlite(file);
    try {
      const rec = await a.keys.insert(newKey('shared'));
      assert.deepEqual(await b.keys.get(rec.uri), rec);
      const updated = await b.keys.update(rec.uri, { status: 'archived', owner: 'b' });
      assert.deepEqual(await a.keys.get(rec.uri), updated);
      await expectCode(b.keys.insert(newKey('shared')), 'HSM_ERR_KEY_EXISTS');
      assert.equal(await a.keys.delete(rec.uri), true);
      assert.equal(await b.keys.get(rec.uri), undefined);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('concurrent opens of a fresh file in one process both succeed', async () => {
    const file = freshPath();
    const stores = await Promise.all([
      Store.openSqlite(file),
      Store.openSqlite(file),
      Store.openSqlite(file),
    ]);
    try {
      await Promise.all(stores.map((s, i) => s.keys.insert(newKey(`p${i}`))));
      for (const s of stores) assert.equal((await s.keys.list()).length, 3);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('several processes opening and writing a fresh file at once all succeed', async () => {
    const file = freshPath();
    const perChild = 25;
    const children = 4;
    const script = path.join(dir, 'writer.mjs');
    fs.writeFileSync(
      script,
      `const [modUrl, file, who, count, startAt] = process.argv.slice(2);
const { Store } = await import(modUrl);
// Start together so the opens (file creation, WAL switch, migration) really race.
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
const store = await Store.openSqlite(file);
for (let i = 0; i < Number(count); i += 1) {
  await store.keys.insert({ uri: 'pkcs11:token=dev;object=' + who + '-' + i + ';type=private', member: who,
    token: 'dev', label: who + '-' + i, idHex: '01', keyType: 'ed25519', status: 'active', tags: {} });
}
await store.close();
`,
    );
    const modUrl = new URL('./index.ts', import.meta.url).href;
    const startAt = String(Date.now() + 2000);
    await Promise.all(
      Array.from({ length: children }, (_, i) =>
        run(process.execPath, ['--import', 'tsx', script, modUrl, file, `w${i}`, String(perChild), startAt], {
          cwd: process.cwd(),
        }),
      ),
    );
    const store = await Store.openSqlite(file);
    try {
      assert.equal((await store.keys.list()).length, children * perChild);
      assert.deepEqual(await executedMigrations(store), Object.keys(migrations).sort());
    } finally {
      await store.close();
    }
  });

  it('a closed store throws HSM_ERR_STORE, not a raw error', async () => {
    const store = await Store.openSqlite(freshPath());
    const rec = await store.keys.insert(newKey('k'));
    await store.close();
    await store.close(); // idempotent
    await expectCode(store.keys.get(rec.uri), 'HSM_ERR_STORE');
    await expectCode(store.keys.insert(newKey('k2')), 'HSM_ERR_STORE');
    await expectCode(store.keys.findByLabel('dev', 'k'), 'HSM_ERR_STORE');
    await expectCode(store.keys.list(), 'HSM_ERR_STORE');
    await expectCode(store.keys.update(rec.uri, { status: 'archived' }), 'HSM_ERR_STORE');
    await expectCode(store.keys.update(rec.uri, {}), 'HSM_ERR_STORE');
    await expectCode(store.keys.delete(rec.uri), 'HSM_ERR_STORE');
  });

  it('a failing migration is HSM_ERR_STORE naming it, and rolls the whole batch back', async () => {
    const store = await Store.openMemory();
    try {
      const broken = {
        ...migrations,
        '9000_half_done': {
          async up(db: Kysely<unknown>) {
            await db.schema.createTable('half_done').addColumn('x', 'text').execute();
            await sql`this is not sql`.execute(db);
          },
        },
      };
      await expectCode(
        migrateToLatest(store.db, { dialect: 'sqlite', migrations: broken }),
        'HSM_ERR_STORE',
        (e) => assert.deepEqual(e.details, { migration: '9000_half_done' }),
      );
      const tables = await store.db.introspection.getTables();
      assert.equal(
        tables.some((t) => t.name === 'half_done'),
        false,
      );
      assert.deepEqual(await executedMigrations(store), Object.keys(migrations).sort());
      // The connection is not left inside the failed transaction.
      await store.keys.insert(newKey('after'));
      assert.equal((await store.keys.list()).length, 1);
    } finally {
      await store.close();
    }
  });

  it('refuses a store migrated by a newer hsmkit', async () => {
    const file = freshPath();
    const store = await Store.openSqlite(file);
    await sql`insert into ${sql.table(MIGRATION_TABLE)} (name, timestamp) values ('9999_future', '2099-01-01T00:00:00.000Z')`.execute(
      store.db,
    );
    await store.close();
    await expectCode(Store.openSqlite(file), 'HSM_ERR_STORE', (e) =>
      assert.deepEqual(e.details, { migration: '9999_future' }),
    );
  });

  it('a file that is not a database is HSM_ERR_STORE; a bad path is HSM_ERR_INVALID_INPUT', async () => {
    const file = path.join(dir, 'junk.db');
    fs.writeFileSync(file, 'this is not a sqlite database, just some text that is long enough'.repeat(10));
    await expectCode(Store.openSqlite(file), 'HSM_ERR_STORE');
    await expectCode(Store.openSqlite(':memory:'), 'HSM_ERR_INVALID_INPUT');
    await expectCode(Store.openSqlite(''), 'HSM_ERR_INVALID_INPUT');
    // A later open of a good file still works (the open queue is not poisoned).
    const ok = await Store.openSqlite(freshPath());
    await ok.close();
  });

  it('openMemory gives an empty, migrated store', async () => {
    const store = await Store.openMemory();
    try {
      assert.deepEqual(await store.keys.list(), []);
      assert.deepEqual(await executedMigrations(store), Object.keys(migrations).sort());
    } finally {
      await store.close();
    }
  });
});
