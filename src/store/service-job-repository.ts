import type { Kysely, Selectable } from 'kysely';
import type { Database, ServiceJobTable } from './schema.js';
import { storeDialectOf } from './store-dialect.js';
import { storeQuery } from './store-query.js';

/** Where a job is in its life. */
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

/** One asynchronous job of the service. */
export interface JobRecord {
  id: string;
  kind: string;
  status: JobStatus;
  request: unknown;
  result?: unknown;
  error?: { code: string; message: string };
  actor: string;
  role: string;
  createdAt: string;
  updatedAt: string;
  /** Instance running (or last running) the job. */
  owner?: string;
  /** Until when the owner's claim holds (ISO-8601 UTC). */
  leaseUntil?: string;
}

/**
 * Durable jobs: a queued job survives a restart of the service. Several service instances share
 * the table: a job is claimed atomically by one instance ({@link claimNext}), which renews a lease
 * on it while it runs ({@link heartbeat}); only a job whose lease ran out is failed as interrupted
 * ({@link failExpired}).
 */
export class ServiceJobRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records a new queued job. */
  async add(job: {
    id: string;
    kind: string;
    request: unknown;
    actor: string;
    role: string;
  }): Promise<JobRecord> {
    const now = new Date().toISOString();
    const row = {
      id: job.id,
      kind: job.kind,
      status: 'queued',
      request: JSON.stringify(job.request),
      result: null,
      error: null,
      actor: job.actor,
      role: job.role,
      created_at: now,
      updated_at: now,
      owner: null,
      lease_until: null,
    };
    await storeQuery('storing the job', () => this.db.insertInto('service_job').values(row).execute());
    return fromRow(row);
  }

  /** One job, or undefined. */
  async get(id: string): Promise<JobRecord | undefined> {
    const row = await storeQuery('reading the job', () =>
      this.db.selectFrom('service_job').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row === undefined ? undefined : fromRow(row);
  }

  /** Jobs in one status, oldest first. */
  async withStatus(status: JobStatus): Promise<JobRecord[]> {
    const rows = await this.db
      .selectFrom('service_job')
      .selectAll()
      .where('status', '=', status)
      .orderBy('created_at')
      .execute();
    return rows.map(fromRow);
  }

  /**
   * Claims the oldest queued job for `owner` (status running, lease `leaseMs` from now) in one
   * statement, so two instances never claim the same job; undefined when none is queued. On
   * PostgreSQL the candidate row is locked `FOR UPDATE SKIP LOCKED`, so concurrent claimers take
   * different jobs instead of queueing on one; SQLite serialises writers anyway.
   */
  async claimNext(owner: string, leaseMs: number): Promise<JobRecord | undefined> {
    const now = new Date();
    let next = this.db
      .selectFrom('service_job')
      .select('id')
      .where('status', '=', 'queued')
      .orderBy('created_at')
      .orderBy('id')
      .limit(1);
    if (storeDialectOf(this.db) === 'postgres') next = next.forUpdate().skipLocked();
    const row = await this.db
      .updateTable('service_job')
      .set({
        status: 'running',
        owner,
        lease_until: new Date(now.getTime() + leaseMs).toISOString(),
        updated_at: now.toISOString(),
      })
      .where('id', '=', (eb) => eb.selectFrom(next.as('n')).select('n.id'))
      // Re-checked on the row itself: on PostgreSQL a concurrent claimer may have committed
      // between the sub-select and the update.
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /** Extends the lease of every job `owner` is running; returns how many it still holds. */
  async heartbeat(owner: string, leaseMs: number): Promise<number> {
    const now = new Date();
    const r = await this.db
      .updateTable('service_job')
      .set({ lease_until: new Date(now.getTime() + leaseMs).toISOString() })
      .where('status', '=', 'running')
      .where('owner', '=', owner)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /**
   * Fails running jobs whose owner's lease ran out before `now` (or that have no lease: jobs
   * from before leases existed) with `error`; returns them. A job whose owner is alive keeps
   * running.
   */
  async failExpired(error: { code: string; message: string }, now = new Date()): Promise<JobRecord[]> {
    const rows = await this.db
      .updateTable('service_job')
      .set({ status: 'failed', updated_at: now.toISOString(), error: JSON.stringify(error) })
      .where('status', '=', 'running')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now.toISOString())]))
      .returningAll()
      .execute();
    return rows.map(fromRow);
  }

  /** Gives a running job of `owner` back to the queue (it did not start); false if it is not `owner`'s. */
  async release(id: string, owner: string): Promise<boolean> {
    const r = await storeQuery('releasing the job', () =>
      this.db
        .updateTable('service_job')
        .set({ status: 'queued', owner: null, lease_until: null, updated_at: new Date().toISOString() })
        .where('id', '=', id)
        .where('status', '=', 'running')
        .where('owner', '=', owner)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Moves a job from `from` to `to`; false when it was not in `from` (another runner took it), so
   * a job runs at most once. With `owner`, also false when another instance owns it now.
   */
  async transition(
    id: string,
    from: JobStatus,
    to: JobStatus,
    outcome: { result?: unknown; error?: { code: string; message: string } } = {},
    owner?: string,
  ): Promise<boolean> {
    let q = this.db
      .updateTable('service_job')
      .set({
        status: to,
        updated_at: new Date().toISOString(),
        ...(outcome.result === undefined ? {} : { result: JSON.stringify(outcome.result) }),
        ...(outcome.error === undefined ? {} : { error: JSON.stringify(outcome.error) }),
      })
      .where('id', '=', id)
      .where('status', '=', from);
    if (owner !== undefined) q = q.where('owner', '=', owner);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}

function fromRow(row: Selectable<ServiceJobTable>): JobRecord {
  const out: JobRecord = {
    id: row.id,
    kind: row.kind,
    status: row.status as JobStatus,
    request: JSON.parse(row.request),
    actor: row.actor,
    role: row.role,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.owner != null) out.owner = row.owner;
  if (row.lease_until != null) out.leaseUntil = row.lease_until;
  if (row.result !== null) out.result = JSON.parse(row.result);
  if (row.error !== null) out.error = JSON.parse(row.error);
  return out;
}
