import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { AuditRecord } from '../audit/audit-record.js';
import type { AuditArchiveAnchor, AuditRange, AuditStore } from '../audit/audit-store.js';
import { HsmError } from '../errors/index.js';
import type { StoreDialect } from './migrations.js';
import type { AuditLogTable, Database } from './schema.js';
import { storeDialectOf } from './store-dialect.js';
import { isTransientPostgresError } from './transient-error.js';

/** Advisory lock key of the audit chain on PostgreSQL (any fixed 64-bit number; "hsmaudit"). */
export const AUDIT_ADVISORY_LOCK = 0x68736d6175646974n;

type Row = Selectable<AuditLogTable>;
type Db = Kysely<Database> | Transaction<Database>;

/**
 * The audit log in the store. Append-only: this class has no update or delete. Each append reads
 * the tip and inserts the next record while holding the database's write lock (SQLite
 * `BEGIN IMMEDIATE`; PostgreSQL a transaction with `pg_advisory_xact_lock`), so writers in other
 * processes cannot fork the chain either.
 */
export class AuditLogRepository implements AuditStore {
  constructor(
    private readonly db: Kysely<Database>,
    /** Default: read from `db`'s adapter. */
    private readonly dialect: StoreDialect = storeDialectOf(db),
    /**
     * How long an append keeps trying while PostgreSQL is unreachable (a restart, a failover)
     * before it fails. The record is usually of an operation the HSM has already performed, so
     * waiting for the database beats losing the record. Default 15 s.
     */
    private readonly retryMs = 15_000,
  ) {}

  async append(seal: (seq: number, prevHash: string) => AuditRecord): Promise<AuditRecord> {
    return (await this.appendMany([seal]))[0]!;
  }

  async appendMany(
    seals: ReadonlyArray<(seq: number, prevHash: string) => AuditRecord>,
  ): Promise<AuditRecord[]> {
    if (seals.length === 0) return [];
    const deadline = Date.now() + this.retryMs;
    // The records the last failed attempt tried to write: its commit may have gone through
    // before the connection died, and then they must not be written twice.
    let attempted: AuditRecord[] | undefined;
    for (let pause = 100; ; pause = Math.min(2 * pause, 1000)) {
      try {
        return await this.#locked(async (db) => {
          if (attempted && (await this.#written(db, attempted.at(-1)!))) return attempted;
          const tip = await this.#chainEnd(db);
          let seq = tip?.seq ?? 0;
          let prev = tip?.hash ?? '0'.repeat(64);
          const recs = seals.map((seal) => {
            const rec = seal(++seq, prev);
            prev = rec.hash;
            return rec;
          });
          attempted = recs;
          // Bounded multi-row inserts (SQLite allows at most 32,766 bound values per statement).
          for (let i = 0; i < recs.length; i += 100) {
            await db
              .insertInto('audit_log')
              .values(recs.slice(i, i + 100).map(toRow))
              .execute();
          }
          return recs;
        }, true);
      } catch (err) {
        // SQLite waits for its lock itself (busy_timeout); only a database that went away is retried.
        if (this.dialect !== 'postgres' || !isTransientPostgresError(err) || Date.now() + pause > deadline)
          throw err;
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  /** Whether `rec` is in the log (same place, same hash). */
  async #written(db: Db, rec: AuditRecord): Promise<boolean> {
    const row = await db.selectFrom('audit_log').select('hash').where('seq', '=', rec.seq).executeTakeFirst();
    return row?.hash === rec.hash;
  }

  async probe(): Promise<void> {
    // A write that is rolled back: proves the lock can be taken and the file written, and leaves nothing.
    await this.#locked(async (db) => {
      await db
        .insertInto('audit_log')
        .values(
          toRow({
            seq: -1,
            timestamp: '',
            actor: '',
            role: '',
            authMethod: '',
            operation: 'probe',
            paramsDigest: '',
            result: 'ok',
            latencyMs: 0,
            correlationId: '',
            prevHash: '',
            hash: '',
          }),
        )
        .execute();
    }, false);
  }

  async tip(): Promise<AuditRecord | undefined> {
    return this.#tip(this.db);
  }

  async list(range: AuditRange = {}): Promise<AuditRecord[]> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (range.fromSeq !== undefined) q = q.where('seq', '>=', range.fromSeq);
    if (range.toSeq !== undefined) q = q.where('seq', '<=', range.toSeq);
    if (range.fromTime !== undefined) q = q.where('timestamp', '>=', range.fromTime);
    if (range.toTime !== undefined) q = q.where('timestamp', '<=', range.toTime);
    return (await q.orderBy('seq').execute()).map(fromRow);
  }

  async archive(anchor: AuditArchiveAnchor): Promise<void> {
    await this.#locked(async (db) => {
      const last = await db
        .selectFrom('audit_log')
        .selectAll()
        .where('seq', '=', anchor.throughSeq)
        .executeTakeFirst();
      if (!last || last.hash !== anchor.lastHash) {
        throw new HsmError(
          'HSM_ERR_AUDIT_CHAIN',
          `record ${anchor.throughSeq} is not the one that was exported`,
        );
      }
      await db.deleteFrom('audit_log').where('seq', '<=', anchor.throughSeq).execute();
      await db
        .insertInto('audit_archive')
        .values({
          through_seq: anchor.throughSeq,
          last_hash: anchor.lastHash,
          export_dir: anchor.exportDir,
          records_sha256: anchor.recordsSha256,
          archived_at: anchor.archivedAt,
        })
        .execute();
    }, true);
  }

  async archiveAnchor(): Promise<AuditArchiveAnchor | undefined> {
    const row = await this.db
      .selectFrom('audit_archive')
      .selectAll()
      .orderBy('through_seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      throughSeq: Number(row.through_seq),
      lastHash: row.last_hash,
      exportDir: row.export_dir,
      recordsSha256: row.records_sha256,
      archivedAt: row.archived_at,
    };
  }

  /** Where the next record attaches: the last record, or, when retention removed them all, the archive anchor. */
  async #chainEnd(db: Db): Promise<{ seq: number; hash: string } | undefined> {
    const tip = await this.#tip(db);
    if (tip) return tip;
    const anchor = await db
      .selectFrom('audit_archive')
      .selectAll()
      .orderBy('through_seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return anchor ? { seq: Number(anchor.through_seq), hash: anchor.last_hash } : undefined;
  }

  async #tip(db: Db): Promise<AuditRecord | undefined> {
    const row = await db
      .selectFrom('audit_log')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /** Runs `fn` holding the chain's write lock; commits when `commit`, else rolls back. */
  async #locked<T>(fn: (db: Db) => Promise<T>, commit: boolean): Promise<T> {
    if (this.dialect === 'postgres') {
      // The transaction-scoped advisory lock serialises appenders in every process (and on every
      // pooled connection of this one); it is released by the commit or rollback.
      const rollback = new Error('rollback');
      let out: T | undefined;
      try {
        await this.db.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(${AUDIT_ADVISORY_LOCK})`.execute(trx);
          out = await fn(trx);
          if (!commit) throw rollback;
        });
      } catch (err) {
        if (err !== rollback) throw err;
      }
      return out as T;
    }
    return this.db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const out = await fn(conn);
        await sql.raw(commit ? 'commit' : 'rollback').execute(conn);
        return out;
      } catch (err) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw err;
      }
    });
  }
}

function toRow(r: AuditRecord): AuditLogTable {
  return {
    seq: r.seq,
    timestamp: r.timestamp,
    actor: r.actor,
    role: r.role,
    auth_method: r.authMethod,
    operation: r.operation,
    key_uri: r.keyUri ?? null,
    params_digest: r.paramsDigest,
    result: r.result,
    error_code: r.errorCode ?? null,
    rule: r.rule ?? null,
    member: r.member ?? null,
    latency_ms: r.latencyMs,
    correlation_id: r.correlationId,
    policy_version: r.policyVersion ?? null,
    checkpoint: r.checkpoint === undefined ? null : JSON.stringify(r.checkpoint),
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}

/** Rebuilds a record; a checkpoint column that is not JSON is kept as an unverifiable payload. */
function fromRow(row: Row): AuditRecord {
  const rec: AuditRecord = {
    seq: Number(row.seq),
    timestamp: row.timestamp,
    actor: row.actor,
    role: row.role,
    authMethod: row.auth_method,
    operation: row.operation,
    paramsDigest: row.params_digest,
    result: row.result as AuditRecord['result'],
    latencyMs: Number(row.latency_ms),
    correlationId: row.correlation_id,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
  if (row.key_uri !== null) rec.keyUri = row.key_uri;
  if (row.error_code !== null) rec.errorCode = row.error_code;
  if (row.rule !== null) rec.rule = row.rule;
  if (row.member !== null) rec.member = row.member;
  if (row.policy_version !== null) rec.policyVersion = Number(row.policy_version);
  if (row.checkpoint !== null) {
    try {
      rec.checkpoint = JSON.parse(row.checkpoint);
    } catch {
      // Verification will find the record's hash does not match; keep the raw text for the report.
      rec.checkpoint = { payload: row.checkpoint, signature: '', algorithm: '', keyUri: '' };
    }
  }
  return rec;
}
