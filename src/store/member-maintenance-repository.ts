import type { Kysely } from 'kysely';
import { HsmError } from '../errors/index.js';
import type { Database } from './schema.js';
import { storeQuery } from './store-query.js';

/** A member out of rotation, as stored. */
export interface MemberMaintenance {
  member: string;
  windowStart: string;
  windowEnd: string;
  reason: string;
  /** The checklist that admitted it (JSON). */
  plan: string;
  createdBy: string;
  createdAt: string;
}

/**
 * Members taken out of rotation for maintenance (`hsmkit maintenance plan`). A member stays out
 * from the moment its row is written until `end` removes it, whatever the window says: the window
 * is the plan, ending maintenance is an operator's decision after the member is checked.
 */
export class MemberMaintenanceRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records `m`; a member already in maintenance is HSM_ERR_INVALID_INPUT. */
  async begin(m: MemberMaintenance): Promise<void> {
    const existing = await this.get(m.member);
    if (existing)
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `member ${m.member} is already in maintenance (since ${existing.createdAt}); end it first`,
      );
    await storeQuery('recording member maintenance', () =>
      this.db
        .insertInto('member_maintenance')
        .values({
          member: m.member,
          window_start: m.windowStart,
          window_end: m.windowEnd,
          reason: m.reason,
          plan: m.plan,
          created_by: m.createdBy,
          created_at: m.createdAt,
        })
        .execute(),
    );
  }

  /** Returns the member to rotation; false when it was not in maintenance. */
  async end(member: string): Promise<boolean> {
    const r = await storeQuery('ending member maintenance', () =>
      this.db.deleteFrom('member_maintenance').where('member', '=', member).executeTakeFirst(),
    );
    return Number(r.numDeletedRows) > 0;
  }

  async get(member: string): Promise<MemberMaintenance | undefined> {
    const row = await storeQuery('reading member maintenance', () =>
      this.db.selectFrom('member_maintenance').selectAll().where('member', '=', member).executeTakeFirst(),
    );
    return row ? toRecord(row) : undefined;
  }

  /** Every member in maintenance. */
  async list(): Promise<MemberMaintenance[]> {
    const rows = await storeQuery('listing member maintenance', () =>
      this.db.selectFrom('member_maintenance').selectAll().orderBy('member').execute(),
    );
    return rows.map(toRecord);
  }
}

function toRecord(r: Database['member_maintenance']): MemberMaintenance {
  return {
    member: r.member,
    windowStart: r.window_start,
    windowEnd: r.window_end,
    reason: r.reason,
    plan: r.plan,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}
