import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { HsmError } from '../errors/index.js';
import { type Coordinator, LocalCoordinator, PostgresCoordinator } from './coordinator.js';
import { KeyMetadataRepository } from './key-metadata.js';
import { migrateToLatest, type StoreDialect } from './migrations.js';
import { createPostgresPool, scrubConnectionSecrets } from './postgres-connection.js';
import type { Database } from './schema.js';
import { withStatementCache } from './statement-cache.js';
import { isTransientPostgresError } from './transient-error.js';

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

/** Advisory lock key held around migrations on PostgreSQL ("hsmmigra"), on top of Kysely's own. */
export const MIGRATION_ADVISORY_LOCK = 0x68736d6d69677261n;

/** The metadata store: a migrated database plus the repositories over it. */
export class Store {
  /** The Kysely handle, for repositories added later; prefer the repositories. */
  readonly db: Kysely<Database>;
  /** Key metadata and cached public keys. */
  readonly keys: KeyMetadataRepository;
  /** Which database this store is on. */
  readonly dialect: StoreDialect;
  readonly #postgresUrl: string | undefined;
  #coordinator: Coordinator | undefined;
  #closed = false;

  private constructor(db: Kysely<Database>, dialect: StoreDialect, postgresUrl?: string) {
    this.db = db;
    this.dialect = dialect;
    this.#postgresUrl = postgresUrl;
    this.keys = new KeyMetadataRepository(db);
  }

  /**
   * Opens a PostgreSQL store (`postgres://user:password@host:port/db`) and migrates it. Several
   * processes may open the same database at once: migrations run once, under an advisory lock.
   * The URL (a config Secret, or a string) never appears in errors: driver messages are scrubbed.
   */
  static async openPostgres(url: string | { reveal(): string }): Promise<Store> {
    const text = typeof url === 'string' ? url : url.reveal();
    if (!/^postgres(ql)?:\/\//.test(text)) {
      throw new HsmError('HSM_ERR_INVALID_INPUT', 'store url must be a postgres:// or postgresql:// URL');
    }
    const where = describePostgres(text);
    let db: Kysely<Database>;
    try {
      db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPostgresPool(text) }) });
    } catch (err) {
      throw storeError(`cannot open store ${where}`, err, text);
    }
    try {
      // Kysely's Migrator takes its own advisory lock, but reads and creates its bookkeeping
      // tables before that; one session lock around the whole run makes a second process wait
      // and then find every migration done. Held on one connection, released in finally.
      await db.connection().execute(async (conn) => {
        await sql`select pg_advisory_lock(${MIGRATION_ADVISORY_LOCK})`.execute(conn);
        try {
          await migrateToLatest(conn, { dialect: 'postgres' });
        } finally {
          await sql`select pg_advisory_unlock(${MIGRATION_ADVISORY_LOCK})`
            .execute(conn)
            .catch(() => undefined);
        }
      });
    } catch (err) {
      await db.destroy().catch(() => undefined);
      throw storeError(`cannot migrate store ${where}`, err, text);
    }
    return new Store(db, 'postgres', text);
  }

  /**
   * The store's coordinator for once-per-cluster duties (one per store, shared by every duty):
   * PostgreSQL advisory locks on one dedicated connection, or in-process locks on SQLite.
   * Closed with the store.
   */
  coordinator(): Coordinator {
    this.#coordinator ??=
      this.#postgresUrl === undefined ? new LocalCoordinator() : new PostgresCoordinator(this.#postgresUrl);
    return this.#coordinator;
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
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
    try {
      await migrateToLatest(db, { dialect: 'sqlite' });
    } catch (err) {
      await db.destroy().catch(() => undefined);
      throw storeError(`cannot migrate store ${where}`, err);
    }
    return new Store(db, 'sqlite');
  }

  /** Closes the database; later calls on the repositories throw HSM_ERR_STORE. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#coordinator?.close().catch(() => undefined);
    try {
      await this.db.destroy();
    } catch (err) {
      throw storeError('cannot close store', err, this.#postgresUrl);
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

/** `postgres://host:port/db` without user-info, for messages. */
function describePostgres(url: string): string {
  try {
    const u = new URL(url);
    return `postgres://${u.host}${u.pathname}`;
  } catch {
    return 'postgres://[unparsable URL]';
  }
}

function storeError(what: string, err: unknown, secretUrl?: string): HsmError {
  const scrub = (m: string) => (secretUrl === undefined ? m : scrubConnectionSecrets(m, secretUrl));
  if (err instanceof HsmError && secretUrl === undefined) return err;
  // A database that cannot be reached now is worth retrying; anything else is a store failure.
  const driver = err instanceof HsmError ? err.cause : err;
  const code = isTransientPostgresError(driver) ? 'HSM_ERR_STORE_UNAVAILABLE' : 'HSM_ERR_STORE';
  if (err instanceof HsmError) {
    // A migration error wraps the driver's message; rebuild it scrubbed, without the raw cause.
    return new HsmError(
      err.code === 'HSM_ERR_STORE' ? code : err.code,
      scrub(err.message),
      err.details ? { details: err.details } : {},
    );
  }
  const msg = err instanceof Error ? err.message : String(err);
  // The driver error is not kept as the cause on PostgreSQL: it may quote the connection string.
  return new HsmError(
    code,
    `${what}: ${scrub(msg)}`,
    secretUrl === undefined ? { cause: err } : { details: { driverCode: driverCode(err) } },
  );
}

function driverCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'unknown';
}
