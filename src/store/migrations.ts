import {
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
  Migrator,
  sql,
} from 'kysely';
import { HsmError } from '../errors/index.js';
import type { Database } from './schema.js';

/**
 * Schema migrations, as code so the store needs no migration files next to the build output.
 *
 * Rules for every migration here, because the same set must run on PostgreSQL later:
 * - use Kysely's schema builder and portable types only (`text`, `integer`, `bigint`, `boolean`);
 * - binary as base64 text, timestamps as ISO-8601 UTC text, structured values as JSON text;
 * - never edit a migration that has shipped: add a new one. Names sort in run order.
 */

/** Name of the table where Kysely records which migrations ran (not Kysely's default, to be ours). */
export const MIGRATION_TABLE = 'hsmkit_migration';

/** Name of Kysely's migration lock table. */
export const MIGRATION_LOCK_TABLE = 'hsmkit_migration_lock';

/** The SQL dialects the store knows; decides how migrations are serialised between processes. */
export type StoreDialect = 'sqlite' | 'postgres';

/** Every migration of the store, keyed by name; Kysely runs them in name order. */
export const migrations: Record<string, Migration> = {
  '0001_key_metadata': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('key_metadata')
        // NOT NULL spelled out: SQLite lets a non-INTEGER primary key hold NULL otherwise.
        .addColumn('uri', 'text', (col) => col.primaryKey().notNull())
        .addColumn('member', 'text', (col) => col.notNull())
        .addColumn('token', 'text', (col) => col.notNull())
        .addColumn('label', 'text', (col) => col.notNull())
        .addColumn('id_hex', 'text', (col) => col.notNull())
        .addColumn('key_type', 'text', (col) => col.notNull())
        .addColumn('status', 'text', (col) =>
          col.notNull().defaultTo('active').check(sql`status in ('active', 'archived')`),
        )
        .addColumn('purpose', 'text')
        .addColumn('expires_at', 'text')
        .addColumn('ceremony_id', 'text')
        .addColumn('owner', 'text')
        .addColumn('tags', 'text', (col) => col.notNull().defaultTo('{}'))
        .addColumn('public_key_spki', 'text')
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addColumn('updated_at', 'text', (col) => col.notNull())
        .execute();
      // findByLabel is the lookup certificate managers do on every signing request.
      await db.schema
        .createIndex('key_metadata_token_label_idx')
        .on('key_metadata')
        .columns(['token', 'label'])
        .execute();
      // list() orders by (created_at, label).
      await db.schema
        .createIndex('key_metadata_created_idx')
        .on('key_metadata')
        .columns(['created_at', 'label'])
        .execute();
      await db.schema.createIndex('key_metadata_member_idx').on('key_metadata').column('member').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('key_metadata').execute();
    },
  },
  '0002_pki': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('pki_ca')
        .addColumn('name', 'text', (col) => col.primaryKey().notNull())
        .addColumn('parent', 'text')
        .addColumn('key_uri', 'text', (col) => col.notNull())
        .addColumn('key_type', 'text', (col) => col.notNull())
        .addColumn('serial', 'text', (col) => col.notNull())
        .addColumn('certificate', 'text', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createTable('pki_certificate')
        .addColumn('serial', 'text', (col) => col.primaryKey().notNull())
        .addColumn('ca', 'text', (col) => col.notNull())
        .addColumn('profile', 'text', (col) => col.notNull())
        .addColumn('subject', 'text', (col) => col.notNull())
        .addColumn('not_before', 'text', (col) => col.notNull())
        .addColumn('not_after', 'text', (col) => col.notNull())
        .addColumn('status', 'text', (col) =>
          col.notNull().defaultTo('good').check(sql`status in ('good', 'revoked')`),
        )
        .addColumn('der', 'text', (col) => col.notNull())
        .addColumn('key_uri', 'text')
        .addColumn('renewed_from', 'text')
        .addColumn('created_at', 'text', (col) => col.notNull())
        .execute();
      // OCSP pre-signing and CRLs read a CA's certificates.
      await db.schema.createIndex('pki_certificate_ca_idx').on('pki_certificate').column('ca').execute();
      await db.schema
        .createTable('pki_revocation')
        .addColumn('serial', 'text', (col) => col.primaryKey().notNull())
        .addColumn('ca', 'text', (col) => col.notNull())
        .addColumn('reason', 'integer', (col) => col.notNull())
        .addColumn('revoked_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema.createIndex('pki_revocation_ca_idx').on('pki_revocation').column('ca').execute();
      await db.schema
        .createTable('pki_crl_number')
        .addColumn('ca', 'text', (col) => col.primaryKey().notNull())
        .addColumn('last_number', 'integer', (col) => col.notNull())
        .addColumn('crl', 'text')
        .addColumn('updated_at', 'text', (col) => col.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const t of ['pki_crl_number', 'pki_revocation', 'pki_certificate', 'pki_ca']) {
        await db.schema.dropTable(t).execute();
      }
    },
  },
  '0003_governance': {
    async up(db: Kysely<unknown>): Promise<void> {
      // The audit hash chain. seq is assigned by the appender under the write lock (not
      // autoincrement), so a gap left by a deleted record is visible to audit verify.
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', 'bigint', (col) => col.primaryKey().notNull())
        .addColumn('timestamp', 'text', (col) => col.notNull())
        .addColumn('actor', 'text', (col) => col.notNull())
        .addColumn('role', 'text', (col) => col.notNull())
        .addColumn('auth_method', 'text', (col) => col.notNull())
        .addColumn('operation', 'text', (col) => col.notNull())
        .addColumn('key_uri', 'text')
        .addColumn('params_digest', 'text', (col) => col.notNull())
        .addColumn('result', 'text', (col) => col.notNull().check(sql`result in ('ok', 'denied', 'error')`))
        .addColumn('error_code', 'text')
        .addColumn('rule', 'text')
        .addColumn('member', 'text')
        .addColumn('latency_ms', 'integer', (col) => col.notNull())
        .addColumn('correlation_id', 'text', (col) => col.notNull())
        .addColumn('policy_version', 'integer')
        .addColumn('checkpoint', 'text')
        .addColumn('prev_hash', 'text', (col) => col.notNull())
        .addColumn('hash', 'text', (col) => col.notNull())
        .execute();
      await db.schema.createIndex('audit_log_timestamp_idx').on('audit_log').column('timestamp').execute();
      // Every policy ever proposed or applied; never updated except to record its approval.
      await db.schema
        .createTable('policy_version')
        .addColumn('version', 'integer', (col) => col.primaryKey().notNull())
        .addColumn('hash', 'text', (col) => col.notNull())
        .addColumn('document', 'text', (col) => col.notNull())
        .addColumn('author', 'text', (col) => col.notNull())
        .addColumn('author_role', 'text', (col) => col.notNull())
        .addColumn('status', 'text', (col) =>
          col.notNull().check(sql`status in ('pending', 'active', 'superseded')`),
        )
        .addColumn('approved_by', 'text')
        .addColumn('rolled_back_from', 'integer')
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addColumn('activated_at', 'text')
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('policy_version').execute();
      await db.schema.dropTable('audit_log').execute();
    },
  },
  '0004_ceremony': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Custodians of key ceremonies: a name and the public key of the key pair on their own token.
      await db.schema
        .createTable('ceremony_custodian')
        .addColumn('name', 'text', (col) => col.primaryKey().notNull())
        .addColumn('fingerprint', 'text', (col) => col.notNull().unique())
        .addColumn('public_key_pem', 'text', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .execute();
      // One row per ceremony run; resumed by id, refused when the script's hash changed.
      await db.schema
        .createTable('ceremony_run')
        .addColumn('id', 'text', (col) => col.primaryKey().notNull())
        .addColumn('type', 'text', (col) => col.notNull())
        .addColumn('script_sha256', 'text', (col) => col.notNull())
        .addColumn('status', 'text', (col) =>
          col.notNull().check(sql`status in ('running', 'completed', 'aborted')`),
        )
        .addColumn('started_at', 'text', (col) => col.notNull())
        .addColumn('updated_at', 'text', (col) => col.notNull())
        .addColumn('transcript', 'text')
        .execute();
      // The state of each step, written after every phase so a killed run resumes where it was.
      await db.schema
        .createTable('ceremony_step')
        .addColumn('ceremony_id', 'text', (col) => col.notNull())
        .addColumn('step', 'integer', (col) => col.notNull())
        .addColumn('status', 'text', (col) =>
          col.notNull().check(sql`status in ('awaiting_approval', 'running', 'done')`),
        )
        .addColumn('challenge', 'text')
        .addColumn('approvals', 'text')
        .addColumn('progress', 'text', (col) => col.notNull().defaultTo('{}'))
        .addColumn('result', 'text')
        .addColumn('updated_at', 'text', (col) => col.notNull())
        .addPrimaryKeyConstraint('ceremony_step_pk', ['ceremony_id', 'step'])
        .execute();
      // Challenge nonces: issued once, consumed once; a consumed nonce is a replay.
      await db.schema
        .createTable('ceremony_nonce')
        .addColumn('nonce', 'text', (col) => col.primaryKey().notNull())
        .addColumn('ceremony_id', 'text', (col) => col.notNull())
        .addColumn('step', 'integer', (col) => col.notNull())
        .addColumn('issued_at', 'text', (col) => col.notNull())
        .addColumn('used_at', 'text')
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const t of ['ceremony_nonce', 'ceremony_step', 'ceremony_run', 'ceremony_custodian']) {
        await db.schema.dropTable(t).execute();
      }
    },
  },
  '0005_service': {
    async up(db: Kysely<unknown>): Promise<void> {
      // TOTP enrolment of the service's human identities. The secret is base32 text; whoever can
      // read the store can read it, so the store file is mode 600 (docs/service.md).
      await db.schema
        .createTable('service_totp')
        .addColumn('identity', 'text', (col) => col.primaryKey().notNull())
        .addColumn('secret', 'text', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .execute();
      // Durable asynchronous jobs (POST /v1/jobs): queued rows survive a restart.
      await db.schema
        .createTable('service_job')
        .addColumn('id', 'text', (col) => col.primaryKey().notNull())
        .addColumn('kind', 'text', (col) => col.notNull())
        .addColumn('status', 'text', (col) =>
          col.notNull().check(sql`status in ('queued', 'running', 'succeeded', 'failed')`),
        )
        .addColumn('request', 'text', (col) => col.notNull())
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .addColumn('actor', 'text', (col) => col.notNull())
        .addColumn('role', 'text', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addColumn('updated_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema.createIndex('service_job_status_idx').on('service_job').column('status').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('service_job').execute();
      await db.schema.dropTable('service_totp').execute();
    },
  },
  '0006_alerting': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Alerts whose webhook delivery failed after every retry (src/alerting): kept for an operator.
      await db.schema
        .createTable('alert_dead_letter')
        .addColumn('id', 'text', (col) => col.primaryKey().notNull())
        .addColumn('alert_id', 'text', (col) => col.notNull())
        .addColumn('kind', 'text', (col) => col.notNull())
        .addColumn('target', 'text', (col) => col.notNull())
        .addColumn('payload', 'text', (col) => col.notNull())
        .addColumn('attempts', 'integer', (col) => col.notNull())
        .addColumn('last_error', 'text', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex('alert_dead_letter_created_idx')
        .on('alert_dead_letter')
        .column('created_at')
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('alert_dead_letter').execute();
    },
  },
  '0008_audit_archive': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Retention: records archived to a signed export and then removed leave an anchor here, so
      // the remaining chain still verifies from a known point (its first prevHash).
      await db.schema
        .createTable('audit_archive')
        .addColumn('through_seq', 'bigint', (col) => col.primaryKey().notNull())
        .addColumn('last_hash', 'text', (col) => col.notNull())
        .addColumn('export_dir', 'text', (col) => col.notNull())
        .addColumn('records_sha256', 'text', (col) => col.notNull())
        .addColumn('archived_at', 'text', (col) => col.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('audit_archive').execute();
    },
  },
  '0009_idempotency': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Idempotency-Key records of the service (src/server/idempotency.ts): one per caller and key.
      await db.schema
        .createTable('idempotency_key')
        .addColumn('identity', 'text', (col) => col.notNull())
        .addColumn('key', 'text', (col) => col.notNull())
        .addColumn('fingerprint', 'text', (col) => col.notNull())
        .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('in_progress', 'done')`))
        .addColumn('owner', 'text', (col) => col.notNull())
        .addColumn('response_status', 'integer')
        .addColumn('response_type', 'text')
        .addColumn('response_body', 'text')
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addColumn('expires_at', 'text', (col) => col.notNull())
        .addPrimaryKeyConstraint('idempotency_key_pk', ['identity', 'key'])
        .execute();
      await db.schema
        .createIndex('idempotency_key_expires_idx')
        .on('idempotency_key')
        .column('expires_at')
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('idempotency_key').execute();
    },
  },
  '0011_break_glass': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Break-glass requests of the service (src/server/break-glass.ts) and their approvals; an
      // approver counts once per request (primary key), the requester never.
      await db.schema
        .createTable('break_glass_request')
        .addColumn('id', 'text', (col) => col.primaryKey().notNull())
        .addColumn('requester', 'text', (col) => col.notNull())
        .addColumn('role', 'text', (col) => col.notNull())
        .addColumn('reason', 'text', (col) => col.notNull())
        .addColumn('duration_minutes', 'integer', (col) => col.notNull())
        .addColumn('quorum', 'integer', (col) => col.notNull())
        .addColumn('status', 'text', (col) =>
          col.notNull().check(sql`status in ('pending', 'active', 'expired')`),
        )
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addColumn('activated_at', 'text')
        .addColumn('expires_at', 'text')
        .execute();
      await db.schema
        .createIndex('break_glass_request_requester_idx')
        .on('break_glass_request')
        .column('requester')
        .execute();
      await db.schema
        .createTable('break_glass_approval')
        .addColumn('request_id', 'text', (col) =>
          col.notNull().references('break_glass_request.id').onDelete('cascade'),
        )
        .addColumn('approver', 'text', (col) => col.notNull())
        .addColumn('approved_at', 'text', (col) => col.notNull())
        .addPrimaryKeyConstraint('break_glass_approval_pk', ['request_id', 'approver'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('break_glass_approval').execute();
      await db.schema.dropTable('break_glass_request').execute();
    },
  },
  '0012_member_maintenance': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Members taken out of rotation by `hsmkit maintenance plan` (firmware updates): the cluster
      // skips a member while its row is active; `hsmkit maintenance end` removes the row.
      await db.schema
        .createTable('member_maintenance')
        .addColumn('member', 'text', (col) => col.primaryKey().notNull())
        .addColumn('window_start', 'text', (col) => col.notNull())
        .addColumn('window_end', 'text', (col) => col.notNull())
        .addColumn('reason', 'text', (col) => col.notNull())
        .addColumn('plan', 'text', (col) => col.notNull())
        .addColumn('created_by', 'text', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('member_maintenance').execute();
    },
  },
  '0013_job_lease': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Several `hsmkit serve` instances share the job table: a running job records which
      // instance runs it and until when that instance's heartbeat vouches for it, so a
      // starting instance marks only jobs whose owner stopped heartbeating as interrupted.
      await db.schema.alterTable('service_job').addColumn('owner', 'text').execute();
      await db.schema.alterTable('service_job').addColumn('lease_until', 'text').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('service_job').dropColumn('lease_until').execute();
      await db.schema.alterTable('service_job').dropColumn('owner').execute();
    },
  },
};

/** Name of the newest migration; a store at this migration is up to date. */
export const LATEST_MIGRATION: string = Object.keys(migrations).sort().at(-1) as string;

/** A Kysely migration provider over an in-memory set (default: {@link migrations}). */
export function migrationProvider(set: Record<string, Migration> = migrations): MigrationProvider {
  return { getMigrations: async () => set };
}

/** Options of {@link migrateToLatest}. */
export interface MigrateOptions {
  dialect: StoreDialect;
  /** Replaces the built-in set; for tests. */
  migrations?: Record<string, Migration>;
}

/**
 * Brings the schema up to the newest migration. Safe to call from several processes at once.
 * Throws HSM_ERR_STORE (with `details.migration`) when a migration fails or the store was
 * migrated by a newer hsmkit.
 */
export async function migrateToLatest(db: Kysely<Database>, options: MigrateOptions): Promise<void> {
  const set = options.migrations ?? migrations;
  const known = Object.keys(set).sort();

  let executed: string[];
  try {
    executed = await executedMigrations(db);
  } catch (err) {
    throw new HsmError('HSM_ERR_STORE', `cannot read the store's migration state: ${message(err)}`, {
      cause: err,
    });
  }
  // An older hsmkit must not read or write a schema it does not know (e.g. after a
  // downgrade); saying "newer hsmkit" tells the operator to upgrade, not to repair.
  const unknown = executed.find((name) => !Object.hasOwn(set, name));
  if (unknown !== undefined) {
    throw new HsmError(
      'HSM_ERR_STORE',
      `the store was migrated by a newer hsmkit (migration ${unknown} is unknown to this version)`,
      { details: { migration: unknown } },
    );
  }
  // The common case (every CLI run on an existing store) stays read-only, so opening a store
  // never waits on another process's write lock.
  if (known.every((name) => executed.includes(name))) return;

  const migrator = new Migrator({
    db,
    provider: migrationProvider(set),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    // Each migration creates its own tables and none depends on another's order, so a store that
    // ran a later-numbered one first (features landing in parallel) still takes the rest.
    allowUnorderedMigrations: true,
  });

  if (options.dialect === 'postgres') {
    // Kysely's PostgreSQL adapter runs migrations in one transaction under an advisory lock.
    throwIfFailed(await runMigrator(migrator));
    return;
  }

  // Kysely's SQLite adapter neither locks nor wraps migrations in a transaction, so two CLI
  // processes opening a fresh store would both try to create the tables. BEGIN IMMEDIATE takes
  // the write lock up front (waiting up to busy_timeout) and reads the migration table only
  // after it has the lock, so the second process finds the work done. As SQLite DDL is
  // transactional, it also makes a failed batch leave the schema untouched.
  // This runs on the store's single connection before anyone else can use it.
  try {
    await sql`begin immediate`.execute(db);
  } catch (err) {
    throw new HsmError('HSM_ERR_STORE', `cannot lock the store for migration: ${message(err)}`, {
      cause: err,
    });
  }
  const result = await runMigrator(migrator);
  if (result.error !== undefined) {
    await sql`rollback`.execute(db).catch(() => undefined);
    throwIfFailed(result);
  }
  try {
    await sql`commit`.execute(db);
  } catch (err) {
    await sql`rollback`.execute(db).catch(() => undefined);
    throw new HsmError('HSM_ERR_STORE', `cannot commit store migrations: ${message(err)}`, { cause: err });
  }
}

async function runMigrator(migrator: Migrator): Promise<MigrationResultSet> {
  try {
    return await migrator.migrateToLatest();
  } catch (err) {
    // migrateToLatest reports failures in its result; this is for anything it lets escape.
    return { error: err };
  }
}

function throwIfFailed(result: MigrationResultSet): void {
  if (result.error === undefined) return;
  const failed = result.results?.find((r) => r.status === 'Error')?.migrationName;
  const what = failed === undefined ? 'store migration failed' : `store migration ${failed} failed`;
  throw new HsmError('HSM_ERR_STORE', `${what}: ${message(result.error)}`, {
    cause: result.error,
    ...(failed === undefined ? {} : { details: { migration: failed } }),
  });
}

/** Names of the migrations already recorded in the store; empty for a fresh database. */
async function executedMigrations(db: Kysely<Database>): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === MIGRATION_TABLE)) return [];
  const rows = await db
    .withTables<{ [MIGRATION_TABLE]: { name: string; timestamp: string } }>()
    .selectFrom(MIGRATION_TABLE)
    .select('name')
    .execute();
  return rows.map((r) => r.name);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
