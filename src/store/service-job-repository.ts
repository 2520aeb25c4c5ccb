import type { Kysely, Selectable } from 'kysely';
import type { Database, ServiceJobTable } from './schema.js';

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
}

/** Durable jobs: a queued job survives a restart of the service. */
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
    };
    await this.db.insertInto('service_job').values(row).execute();
    return fromRow(row);
  }

  /** One job, or undefined. */
  async get(id: string): Promise<JobRecord | undefined> {
    const row = await this.db.selectFrom('service_job').selectAll().where('id', '=', id).executeTakeFirst();
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
   * Moves a job from `from` to `to`; false when it was not in `from` (another runner took it), so
   * a job runs at most once.
   */
  async transition(
    id: string,
    from: JobStatus,
    to: JobStatus,
    outcome: { result?: unknown; error?: { code: string; message: string } } = {},
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('service_job')
      .set({
        status: to,
        updated_at: new Date().toISOString(),
        ...(outcome.result === undefined ? {} : { result: JSON.stringify(outcome.result) }),
        ...(outcome.error === undefined ? {} : { error: JSON.stringify(outcome.error) }),
      })
      .where('id', '=', id)
      .where('status', '=', from)
      .executeTakeFirst();
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
  if (row.result !== null) out.result = JSON.parse(row.result);
  if (row.error !== null) out.error = JSON.parse(row.error);
  return out;
}
