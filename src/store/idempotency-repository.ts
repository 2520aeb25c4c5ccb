import type { Kysely, Selectable } from 'kysely';
import type { Database, IdempotencyKeyTable } from './schema.js';
import { storeQuery } from './store-query.js';

/** One Idempotency-Key record: a request in progress, or its stored answer. */
export interface IdempotencyRecord {
  identity: string;
  key: string;
  fingerprint: string;
  status: 'in_progress' | 'done';
  /** The process holding the key while in progress (`host/pid/boot`). */
  owner: string;
  response?: { status: number; type: string; body: Buffer };
  createdAt: string;
  expiresAt: string;
}

/**
 * Idempotency keys of the service (migration 0009). Portable SQL only (SQLite and PostgreSQL):
 * a claim is an insert that does nothing on conflict, a take-over is a conditional update, so two
 * processes never both hold one key.
 */
export class IdempotencyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Claims `key` for `identity` in progress. Returns undefined when the claim succeeded, or the
   * record already there (an expired one is removed first and the claim retried once).
   */
  async claim(r: {
    identity: string;
    key: string;
    fingerprint: string;
    owner: string;
    now: Date;
    ttlMs: number;
  }): Promise<IdempotencyRecord | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const inserted = await storeQuery('claim an idempotency key', () =>
        this.db
          .insertInto('idempotency_key')
          .values({
            identity: r.identity,
            key: r.key,
            fingerprint: r.fingerprint,
            status: 'in_progress',
            owner: r.owner,
            response_status: null,
            response_type: null,
            response_body: null,
            created_at: r.now.toISOString(),
            expires_at: new Date(r.now.getTime() + r.ttlMs).toISOString(),
          })
          .onConflict((oc) => oc.columns(['identity', 'key']).doNothing())
          .executeTakeFirst(),
      );
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return undefined;
      const existing = await this.get(r.identity, r.key);
      if (existing === undefined) continue; // removed in between: claim again
      if (existing.expiresAt > r.now.toISOString()) return existing;
      await this.db
        .deleteFrom('idempotency_key')
        .where('identity', '=', r.identity)
        .where('key', '=', r.key)
        .where('expires_at', '=', existing.expiresAt)
        .execute();
    }
    return this.get(r.identity, r.key);
  }

  /** Moves an in-progress key from `from` to `to` (a dead process's key); false if someone else did. */
  async takeOver(identity: string, key: string, from: string, to: string): Promise<boolean> {
    const r = await storeQuery('take over an idempotency key', () =>
      this.db
        .updateTable('idempotency_key')
        .set({ owner: to })
        .where('identity', '=', identity)
        .where('key', '=', key)
        .where('owner', '=', from)
        .where('status', '=', 'in_progress')
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  /** Stores the final answer of a key this process holds. */
  async complete(
    identity: string,
    key: string,
    owner: string,
    response: { status: number; type: string; body: Buffer },
  ): Promise<void> {
    await storeQuery('store an idempotent answer', () =>
      this.db
        .updateTable('idempotency_key')
        .set({
          status: 'done',
          response_status: response.status,
          response_type: response.type,
          response_body: response.body.toString('base64'),
        })
        .where('identity', '=', identity)
        .where('key', '=', key)
        .where('owner', '=', owner)
        .where('status', '=', 'in_progress')
        .execute(),
    );
  }

  /** Gives a key up without an answer (a retryable failure): the caller may try it again. */
  async release(identity: string, key: string, owner: string): Promise<void> {
    await storeQuery('release an idempotency key', () =>
      this.db
        .deleteFrom('idempotency_key')
        .where('identity', '=', identity)
        .where('key', '=', key)
        .where('owner', '=', owner)
        .where('status', '=', 'in_progress')
        .execute(),
    );
  }

  /** One record, or undefined. */
  async get(identity: string, key: string): Promise<IdempotencyRecord | undefined> {
    const row = await storeQuery('read an idempotency key', () =>
      this.db
        .selectFrom('idempotency_key')
        .selectAll()
        .where('identity', '=', identity)
        .where('key', '=', key)
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : fromRow(row);
  }

  /** Removes records expired at `now`; returns how many. */
  async prune(now: Date): Promise<number> {
    const r = await storeQuery('prune idempotency keys', () =>
      this.db.deleteFrom('idempotency_key').where('expires_at', '<=', now.toISOString()).executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }
}

function fromRow(row: Selectable<IdempotencyKeyTable>): IdempotencyRecord {
  const out: IdempotencyRecord = {
    identity: row.identity,
    key: row.key,
    fingerprint: row.fingerprint,
    status: row.status === 'done' ? 'done' : 'in_progress',
    owner: row.owner,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
  if (row.status === 'done' && row.response_status !== null) {
    out.response = {
      status: row.response_status,
      type: row.response_type ?? 'application/json',
      body: Buffer.from(row.response_body ?? '', 'base64'),
    };
  }
  return out;
}
