import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';
import { storeQuery } from './store-query.js';

/** A break-glass request as stored, with its approvers. */
export interface BreakGlassRecord {
  id: string;
  requester: string;
  role: string;
  reason: string;
  durationMinutes: number;
  quorum: number;
  /** `pending` until quorum, then `active` (the grant itself ends at `expiresAt`). */
  status: 'pending' | 'active' | 'expired';
  createdAt: string;
  activatedAt?: string;
  expiresAt?: string;
  /** Identity names that approved, oldest first. */
  approvers: string[];
}

/** A new request. */
export interface NewBreakGlassRequest {
  id: string;
  requester: string;
  role: string;
  reason: string;
  durationMinutes: number;
  quorum: number;
  createdAt: string;
}

/**
 * Break-glass requests and approvals in the store. Approving and activating run in one transaction
 * so two approvers racing cannot both miss (or both make) the quorum, and the primary key makes an
 * approver count once whatever the callers do.
 */
export class BreakGlassRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a new pending request. */
  async create(r: NewBreakGlassRequest): Promise<BreakGlassRecord> {
    await storeQuery('storing the break-glass request', () =>
      this.db
        .insertInto('break_glass_request')
        .values({
          id: r.id,
          requester: r.requester,
          role: r.role,
          reason: r.reason,
          duration_minutes: r.durationMinutes,
          quorum: r.quorum,
          status: 'pending',
          created_at: r.createdAt,
          activated_at: null,
          expires_at: null,
        })
        .execute(),
    );
    return { ...r, status: 'pending', approvers: [] };
  }

  /** One request, or undefined. */
  async get(id: string): Promise<BreakGlassRecord | undefined> {
    return storeQuery('reading the break-glass request', async () => {
      const row = await this.db
        .selectFrom('break_glass_request')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row) return undefined;
      return toRecord(row, await this.#approvers([id]));
    });
  }

  /** The newest requests first (at most `limit`). */
  async list(limit = 100): Promise<BreakGlassRecord[]> {
    return storeQuery('listing break-glass requests', async () => {
      const rows = await this.db
        .selectFrom('break_glass_request')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .limit(limit)
        .execute();
      const approvals = await this.#approvers(rows.map((r) => r.id));
      return rows.map((r) => toRecord(r, approvals));
    });
  }

  /** Active grants of `requester` for `role` whose end is after `nowIso`. */
  async activeGrant(requester: string, role: string, nowIso: string): Promise<BreakGlassRecord | undefined> {
    return storeQuery('reading break-glass grants', async () => {
      const row = await this.db
        .selectFrom('break_glass_request')
        .selectAll()
        .where('requester', '=', requester)
        .where('role', '=', role)
        .where('status', '=', 'active')
        .where('expires_at', '>', nowIso)
        .orderBy('expires_at', 'desc')
        .executeTakeFirst();
      return row ? toRecord(row, await this.#approvers([row.id])) : undefined;
    });
  }

  /** How many grants are in force at `nowIso`. */
  async countActive(nowIso: string): Promise<number> {
    return storeQuery('counting break-glass grants', async () => {
      const r = await this.db
        .selectFrom('break_glass_request')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', 'active')
        .where('expires_at', '>', nowIso)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    });
  }

  /**
   * Records `approver`'s approval and, when it completes the quorum, activates the request until
   * `approvedAt` + its duration. Returns the request after the change and whether this approval was
   * new (false: the approver had approved before, nothing changed).
   */
  async approve(
    id: string,
    approver: string,
    approvedAt: Date,
  ): Promise<{ record: BreakGlassRecord; added: boolean; activated: boolean } | undefined> {
    return storeQuery('recording the break-glass approval', () =>
      this.db.transaction().execute(async (tx) => {
        // A no-op update first takes the request's row lock (PostgreSQL) or the write lock (SQLite),
        // so concurrent approvals are counted one after another and the quorum is seen exactly once.
        await tx
          .updateTable('break_glass_request')
          .set({ status: sql<string>`status` })
          .where('id', '=', id)
          .execute();
        const row = await tx
          .selectFrom('break_glass_request')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst();
        if (!row) return undefined;
        const at = approvedAt.toISOString();
        const r = await tx
          .insertInto('break_glass_approval')
          .values({ request_id: id, approver, approved_at: at })
          .onConflict((oc) => oc.columns(['request_id', 'approver']).doNothing())
          .executeTakeFirst();
        const added = Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
        const count = await tx
          .selectFrom('break_glass_approval')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('request_id', '=', id)
          .executeTakeFirstOrThrow();
        let activated = false;
        if (row.status === 'pending' && Number(count.n) >= row.quorum) {
          const expires = new Date(approvedAt.getTime() + row.duration_minutes * 60_000).toISOString();
          await tx
            .updateTable('break_glass_request')
            .set({ status: 'active', activated_at: at, expires_at: expires })
            .where('id', '=', id)
            .where('status', '=', 'pending')
            .execute();
          activated = true;
        }
        const after = await tx
          .selectFrom('break_glass_request')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        const approvals = await tx
          .selectFrom('break_glass_approval')
          .select(['request_id', 'approver'])
          .where('request_id', '=', id)
          .orderBy('approved_at')
          .orderBy('approver')
          .execute();
        return { record: toRecord(after, group(approvals)), added, activated };
      }),
    );
  }

  async #approvers(ids: string[]): Promise<Map<string, string[]>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('break_glass_approval')
      .select(['request_id', 'approver'])
      .where('request_id', 'in', ids)
      .orderBy('approved_at')
      .orderBy('approver')
      .execute();
    return group(rows);
  }
}

function group(rows: Array<{ request_id: string; approver: string }>): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const r of rows) m.set(r.request_id, [...(m.get(r.request_id) ?? []), r.approver]);
  return m;
}

function toRecord(row: Database['break_glass_request'], approvals: Map<string, string[]>): BreakGlassRecord {
  return {
    id: row.id,
    requester: row.requester,
    role: row.role,
    reason: row.reason,
    durationMinutes: row.duration_minutes,
    quorum: row.quorum,
    status: row.status as BreakGlassRecord['status'],
    createdAt: row.created_at,
    ...(row.activated_at ? { activatedAt: row.activated_at } : {}),
    ...(row.expires_at ? { expiresAt: row.expires_at } : {}),
    approvers: approvals.get(row.id) ?? [],
  };
}
