import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { HsmError } from '../errors/index.js';
import { KeyMetadataRepository } from './key-metadata.js';
import { migrateToLatest } from './migrations.js';
import type { Database } from './schema.js';

/** How long a connection waits for another process's write lock before failing (ms). */
export const BUSY_TIMEOUT_MS = 5000;

// Opens in this process run one after another. A store being migrated holds SQLite's write
// lock across awaits, and better-sqlite3 waits for locks synchronously, so a second open of
// the same file in the same process would block the event loop until busy_timeout expired
// instead of letting the first one finish. Other processes are handled by SQLite's locks.
let openQueue: Promise<unknown> = Promise.resolve();

function serialiseOpen<T>(open: () => Promise<T>): Promise<T> {
  const result = openQueue.then(open);
  openQueue = result.catch(() => undefined);
  return result;
}

/** The metadata store: a migrated database plus the repositories over it. */
export class Store {
  /** The Kysely handle, for repositories added later; prefer the repositories. */
  readonly db: Kysely<Database>;
  /** Key metadata and cached public keys. */
  readonly keys: KeyMetadataRepository;
  #closed = false;

  private constructor(db: Kysely<Database>) {
    this.db = db;
    this.keys = new KeyMetadataRepository(db);
  }

  /**
   * Opens (creating if needed) a SQLite store file and migrates it to the latest schema.
   * Several processes may open the same file at once (WAL mode, busy timeout).
   */
  static async openSqlite(file: string): Promise<Store> {
    // ':memory:' and file: URIs would bypass the folder/permission handling below.
    if (typeof file !== 'string' || file === '' || file === ':memory:' || file.startsWith('file:')) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        'store path must be a file path (use openMemory for tests)',
      );
    }
    const abs = path.resolve(file);
    return serialiseOpen(() =>
      Store.#open(abs, () => {
        prepareFile(abs);
        const raw = new SqliteDatabase(abs, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
        try {
          // busy_timeout first, so that switching to WAL waits for a concurrent opener.
          raw.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
          // WAL lets readers run while another process writes; without it two CLI processes
          // would keep hitting SQLITE_BUSY.
          const mode = raw.pragma('journal_mode = WAL', { simple: true });
          if (String(mode).toLowerCase() !== 'wal') {
            throw new Error(`journal_mode is ${String(mode)}, WAL is required`);
          }
          // NORMAL is durable across process crashes in WAL mode, and skips an fsync per commit.
          raw.pragma('synchronous = NORMAL');
          raw.pragma('foreign_keys = ON');
        } catch (err) {
          raw.close();
          throw err;
        }
        return raw;
      }),
    );
  }

  /** Opens a private in-memory store, migrated; for tests and dry runs. */
  static async openMemory(): Promise<Store> {
    return Store.#open(':memory:', () => {
      const raw = new SqliteDatabase(':memory:');
      raw.pragma('foreign_keys = ON');
      return raw;
    });
  }

  static async #open(where: string, connect: () => SqliteDatabase.Database): Promise<Store> {
    let raw: SqliteDatabase.Database;
    try {
      raw = connect();
    } catch (err) {
      throw storeError(`cannot open store ${where}`, err);
    }
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    try {
      await migrateToLatest(db, { dialect: 'sqlite' });
    } catch (err) {
      await db.destroy().catch(() => undefined);
      throw storeError(`cannot migrate store ${where}`, err);
    }
    return new Store(db);
  }

  /** Closes the database; later calls on the repositories throw HSM_ERR_STORE. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.db.destroy();
    } catch (err) {
      throw storeError('cannot close store', err);
    }
  }
}

/** Creates the folder (0700) and an empty database file (0600) unless they exist. */
function prepareFile(abs: string): void {
  // Only folders created here get 0700; an existing parent (e.g. /var/lib) is not ours to change.
  fs.mkdirSync(path.dirname(abs), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    // O_EXCL so a concurrent opener never sees a half-made file; SQLite treats an empty file as
    // a new database, and creates -wal/-shm with this file's mode.
    fd = fs.openSync(abs, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  try {
    fs.fchmodSync(fd, 0o600); // independent of the process umask
  } finally {
    fs.closeSync(fd);
  }
}

function storeError(what: string, err: unknown): HsmError {
  if (err instanceof HsmError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new HsmError('HSM_ERR_STORE', `${what}: ${msg}`, { cause: err });
}
