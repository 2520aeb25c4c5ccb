import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** TOTP secrets of the service's human identities. The secret is only ever read to verify a code. */
export class ServiceTotpRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores (or replaces, on re-enrolment) the secret of `identity`. */
  async enrol(identity: string, secret: string): Promise<void> {
    const created_at = new Date().toISOString();
    await this.db
      .insertInto('service_totp')
      .values({ identity, secret, created_at })
      .onConflict((oc) => oc.column('identity').doUpdateSet({ secret, created_at }))
      .execute();
  }

  /** The secret of `identity`, or undefined when it never enrolled. */
  async secret(identity: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('service_totp')
      .select('secret')
      .where('identity', '=', identity)
      .executeTakeFirst();
    return row?.secret;
  }

  /** Removes the enrolment of `identity`; true when there was one. */
  async remove(identity: string): Promise<boolean> {
    const r = await this.db.deleteFrom('service_totp').where('identity', '=', identity).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
