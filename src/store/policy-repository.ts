import { createHash } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import { HsmError } from '../errors/index.js';
import type { Database, PolicyVersionTable } from './schema.js';
import { storeDialectOf } from './store-dialect.js';

/** One stored policy version. */
export interface PolicyVersionRecord {
  version: number;
  /** SHA-256 hex of the document text. */
  hash: string;
  document: string;
  author: string;
  authorRole: string;
  status: 'pending' | 'active' | 'superseded';
  approvedBy?: string;
  rolledBackFrom?: number;
  createdAt: string;
  activatedAt?: string;
}

/** A version to store. */
export interface NewPolicyVersion {
  document: string;
  author: string;
  authorRole: string;
  status: 'pending' | 'active';
  approvedBy?: string;
  rolledBackFrom?: number;
}

/** Advisory lock key serialising policy version numbering on PostgreSQL ("hsmpolcy"). */
export const POLICY_ADVISORY_LOCK = 0x68736d706f6c6379n;

/** Policy versions: numbered, hashed, never deleted. At most one is active. */
export class PolicyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The active version, if a policy was ever applied. */
  async active(): Promise<PolicyVersionRecord | undefined> {
    const row = await this.db
      .selectFrom('policy_version')
      .selectAll()
      .where('status', '=', 'active')
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /** One version. */
  async get(version: number): Promise<PolicyVersionRecord | undefined> {
    const row = await this.db
      .selectFrom('policy_version')
      .selectAll()
      .where('version', '=', version)
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /** Every version, oldest first. */
  async list(): Promise<PolicyVersionRecord[]> {
    return (await this.db.selectFrom('policy_version').selectAll().orderBy('version').execute()).map(fromRow);
  }

  /** The newest pending version with this document hash. */
  async pendingByHash(hash: string): Promise<PolicyVersionRecord | undefined> {
    const row = await this.db
      .selectFrom('policy_version')
      .selectAll()
      .where('status', '=', 'pending')
      .where('hash', '=', hash)
      .orderBy('version', 'desc')
      .executeTakeFirst();
    return row === undefined ? undefined : fromRow(row);
  }

  /** Stores a new version; an `active` one supersedes the previous active version in the same transaction. */
  async add(v: NewPolicyVersion): Promise<PolicyVersionRecord> {
    return this.db.transaction().execute(async (trx) => {
      // PostgreSQL (read committed) would let two instances read the same max(version); the
      // transaction-scoped advisory lock makes numbering one at a time. SQLite serialises writers.
      if (storeDialectOf(trx) === 'postgres') {
        await sql`select pg_advisory_xact_lock(${POLICY_ADVISORY_LOCK})`.execute(trx);
      }
      const last = await trx
        .selectFrom('policy_version')
        .select(sql<number>`max(version)`.as('v'))
        .executeTakeFirst();
      const version = Number(last?.v ?? 0) + 1;
      const now = new Date().toISOString();
      if (v.status === 'active') {
        await trx
          .updateTable('policy_version')
          .set({ status: 'superseded' })
          .where('status', '=', 'active')
          .execute();
      }
      const row: PolicyVersionTable = {
        version,
        hash: hashDocument(v.document),
        document: v.document,
        author: v.author,
        author_role: v.authorRole,
        status: v.status,
        approved_by: v.approvedBy ?? null,
        rolled_back_from: v.rolledBackFrom ?? null,
        created_at: now,
        activated_at: v.status === 'active' ? now : null,
      };
      await trx.insertInto('policy_version').values(row).execute();
      return fromRow(row);
    });
  }

  /** Activates a pending version with its approver (dual control). */
  async approve(version: number, approvedBy: string): Promise<PolicyVersionRecord> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('policy_version')
        .selectAll()
        .where('version', '=', version)
        .executeTakeFirst();
      if (row === undefined || row.status !== 'pending') {
        throw new HsmError('HSM_ERR_INVALID_INPUT', `policy version ${version} is not pending approval`);
      }
      const now = new Date().toISOString();
      await trx
        .updateTable('policy_version')
        .set({ status: 'superseded' })
        .where('status', '=', 'active')
        .execute();
      await trx
        .updateTable('policy_version')
        .set({ status: 'active', approved_by: approvedBy, activated_at: now })
        .where('version', '=', version)
        .execute();
      return fromRow({ ...row, status: 'active', approved_by: approvedBy, activated_at: now });
    });
  }
}

/** SHA-256 hex of a policy document's text. */
export function hashDocument(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function fromRow(row: Selectable<PolicyVersionTable>): PolicyVersionRecord {
  const rec: PolicyVersionRecord = {
    version: Number(row.version),
    hash: row.hash,
    document: row.document,
    author: row.author,
    authorRole: row.author_role,
    status: row.status as PolicyVersionRecord['status'],
    createdAt: row.created_at,
  };
  if (row.approved_by !== null) rec.approvedBy = row.approved_by;
  if (row.rolled_back_from !== null) rec.rolledBackFrom = Number(row.rolled_back_from);
  if (row.activated_at !== null) rec.activatedAt = row.activated_at;
  return rec;
}
