/**
 * The metadata store on a real, private PostgreSQL (test/support/postgres.ts): the repository
 * suite that runs on SQLite runs here unchanged, migrations and audit appends race across
 * processes, jobs are claimed exactly once, advisory-lock leads, and no password in errors.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { AuditLog } from '../../../src/audit/audit-log.js';
import { paramsDigest } from '../../../src/audit/audit-record.js';
import { verifyChain } from '../../../src/audit/verify-chain.js';
import { Secret } from '../../../src/config/secret.js';
import { HsmError } from '../../../src/errors/index.js';
import { AuditLogRepository } from '../../../src/store/audit-log-repository.js';
import { leadDuty } from '../../../src/store/coordinator.js';
import { LATEST_MIGRATION, MIGRATION_TABLE, migrations } from '../../../src/store/migrations.js';
import { PkiRepository } from '../../../src/store/pki-records.js';
import { PolicyRepository } from '../../../src/store/policy-repository.js';
import { ServiceJobRepository } from '../../../src/store/service-job-repository.js';
import { Store } from '../../../src/store/store.js';
import { type PostgresServer, startPostgres } from '../../support/postgres.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');

let server: PostgresServer;

/** A new empty database on the server; its URL. */
async function freshDatabase(): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client(server.url);
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

/** The environment for a child process: without node:test's context, so a child test run reports as its own. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
  return { ...env, ...extra };
}

function entry(actor: string, i: number) {
  return {
    timestamp: new Date().toISOString(),
    actor,
    role: 'admin',
    authMethod: 'local',
    operation: 'key.sign' as const,
    paramsDigest: paramsDigest({ actor, i }),
    result: 'ok' as const,
    latencyMs: 1,
    correlationId: `${actor}-${i}`,
  };
}

before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

describe('PostgreSQL store', () => {
  it('passes the key-metadata and audit-log suites that run on SQLite', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=tap',
        'src/store/key-metadata.test.ts',
        'src/audit/audit-log.test.ts',
      ],
      { cwd: ROOT, env: childEnv({ HSMKIT_TEST_POSTGRES_URL: server.url }), maxBuffer: 8 << 20 },
    );
    const pass = Number(/^# pass (\d+)/m.exec(stdout)?.[1]);
    const fail = Number(/^# fail (\d+)/m.exec(stdout)?.[1]);
    assert.ok(pass >= 20, `expected both suites to run, got ${pass} passing`);
    assert.equal(fail, 0);
  });

  it('three processes opening a fresh database migrate it once and append one chain', async () => {
    const url = await freshDatabase();
    const children = Array.from(
      { length: 3 },
      () =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            ['--import', 'tsx', path.join(import.meta.dirname, 'audit-writer-child.ts')],
            {
              cwd: ROOT,
              env: childEnv({ HSMKIT_TEST_STORE_URL: url, HSMKIT_TEST_APPENDS: '40' }),
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          );
          let out = '';
          child.stdout.on('data', (d) => {
            out += d;
          });
          child.stderr.on('data', (d) => {
            out += d;
          });
          child.on('exit', (code) =>
            code === 0 ? resolve(out) : reject(new Error(`child ${code}: ${out}`)),
          );
        }),
    );
    const outs = await Promise.all(children);
    for (const o of outs) assert.match(o, /done 40/);
    const store = await Store.openPostgres(url);
    try {
      const ran = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(
        store.db,
      );
      assert.deepEqual(ran.rows.map((r) => r.name).sort(), Object.keys(migrations).sort());
      assert.ok(ran.rows.some((r) => r.name === LATEST_MIGRATION));
      const records = await new AuditLogRepository(store.db).list();
      assert.deepEqual(
        records.map((r) => r.seq),
        Array.from({ length: 120 }, (_, i) => i + 1),
      );
      assert.equal(typeof records[0]?.seq, 'number');
      assert.equal(new Set(records.map((r) => r.actor)).size, 3);
      assert.equal(verifyChain(records, undefined).ok, true);
    } finally {
      await store.close();
    }
  });

  it('two stores (separate pools) appending concurrently keep one chain without gaps', async () => {
    const url = await freshDatabase();
    const [a, b] = [await Store.openPostgres(url), await Store.openPostgres(url)];
    try {
      const logA = new AuditLog(new AuditLogRepository(a.db));
      const logB = new AuditLog(new AuditLogRepository(b.db));
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => (i % 2 ? logA : logB).append(entry(i % 2 ? 'a' : 'b', i))),
      );
      const records = await logA.store.list();
      assert.deepEqual(
        records.map((r) => r.seq),
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      assert.equal(verifyChain(records, undefined).ok, true);
      // probe() writes nothing on PostgreSQL either.
      await logB.probe();
      assert.equal((await logA.store.list()).length, 100);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('an append that meets the database going away is retried and written once; other errors are not retried', async () => {
    const url = await freshDatabase();
    const store = await Store.openPostgres(url);
    try {
      // A trigger fails inserts the way a server shutting down does (SQLSTATE 57P01) while the
      // sequence (not rolled back with the insert) is below `fail_until`, or with a CHECK violation.
      await sql
        .raw(`create sequence audit_attempts;
          create table fault (fail_until int not null, code text not null);
          insert into fault values (0, '57P01');
          create function audit_fault() returns trigger language plpgsql as $$
          begin
            if nextval('audit_attempts') <= (select fail_until from fault) then
              raise exception 'injected fault' using errcode = (select code from fault);
            end if;
            return new;
          end $$;
          create trigger audit_fault before insert on audit_log for each statement execute function audit_fault();`)
        .execute(store.db);
      const attempts = async () =>
        Number(
          (await sql<{ n: string }>`select last_value as n from audit_attempts`.execute(store.db)).rows[0]!.n,
        );
      const fault = (failUntil: number, code: string) =>
        sql`update fault set fail_until = ${failUntil}, code = ${code}`.execute(store.db);

      const log = new AuditLog(new AuditLogRepository(store.db));
      await log.append(entry('warm', 0));
      // Two transient failures, then the write goes through: one record, in the chain.
      await fault((await attempts()) + 2, '57P01');
      const rec = await log.append(entry('restart', 1));
      assert.equal(rec.seq, 2);
      assert.equal((await log.store.list()).length, 2);
      // A database that stays away: the append gives up after the retry window, writing nothing.
      const brief = new AuditLog(new AuditLogRepository(store.db, 'postgres', 300));
      await fault(1_000_000, '57P01');
      await assert.rejects(brief.append(entry('down', 2)), (e) => HsmError.is(e, 'HSM_ERR_AUDIT'));
      // Not a connection problem (a CHECK violation): no retry, one attempt.
      await fault(1_000_000, '23514');
      const before = await attempts();
      await assert.rejects(log.append(entry('broken', 3)), (e) => HsmError.is(e, 'HSM_ERR_AUDIT'));
      assert.equal(await attempts(), before + 1);
      await fault(0, '57P01');
      const records = await log.store.list();
      assert.deepEqual(
        records.map((r) => r.actor),
        ['warm', 'restart'],
      );
      assert.equal(verifyChain(records, undefined).ok, true);
    } finally {
      await store.close();
    }
  });

  it('numbers policy versions and CRLs one at a time across stores, as numbers', async () => {
    const url = await freshDatabase();
    const [a, b] = [await Store.openPostgres(url), await Store.openPostgres(url)];
    try {
      const versions = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          new PolicyRepository(i % 2 ? a.db : b.db).add({
            document: `doc ${i}`,
            author: 'alice',
            authorRole: 'admin',
            status: 'pending',
          }),
        ),
      );
      assert.deepEqual(
        versions.map((v) => v.version).sort((x, y) => x - y),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      const crls = await Promise.all(
        Array.from({ length: 10 }, (_, i) => new PkiRepository(i % 2 ? a.db : b.db).nextCrlNumber('ca1')),
      );
      assert.deepEqual(
        crls.sort((x, y) => x - y),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      assert.equal(typeof crls[0], 'number');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('claims each queued job exactly once across two instances; fails only expired leases', async () => {
    const url = await freshDatabase();
    const [a, b] = [await Store.openPostgres(url), await Store.openPostgres(url)];
    try {
      const ja = new ServiceJobRepository(a.db);
      const jb = new ServiceJobRepository(b.db);
      for (let i = 0; i < 30; i++) {
        await ja.add({ id: `job-${i}`, kind: 'key.create', request: { i }, actor: 'alice', role: 'admin' });
      }
      const claimed: Record<string, string[]> = { a: [], b: [] };
      const worker = async (name: 'a' | 'b', repo: ServiceJobRepository) => {
        for (;;) {
          const job = await repo.claimNext(`inst-${name}`, 60_000);
          if (!job) return;
          claimed[name]!.push(job.id);
        }
      };
      await Promise.all([worker('a', ja), worker('b', jb), worker('a', ja), worker('b', jb)]);
      const all = [...claimed.a!, ...claimed.b!].sort();
      assert.equal(all.length, 30);
      assert.equal(new Set(all).size, 30);
      assert.ok(claimed.a!.length > 0 && claimed.b!.length > 0, 'both instances claimed jobs');
      const one = await ja.get('job-0');
      assert.equal(one?.status, 'running');
      assert.match(one?.owner ?? '', /^inst-[ab]$/);

      // Instance b's lease is shortened into the past (it "died"); a's jobs stay running.
      await b.db
        .updateTable('service_job')
        .set({ lease_until: '2000-01-01T00:00:00.000Z' })
        .where('owner', '=', 'inst-b')
        .execute();
      const failed = await ja.failExpired({ code: 'HSM_ERR_INTERRUPTED', message: 'owner gone' });
      assert.deepEqual(failed.map((j) => j.id).sort(), [...claimed.b!].sort());
      assert.equal((await ja.withStatus('running')).length, claimed.a!.length);
      // The dead owner can no longer record an outcome; the live one can.
      assert.equal(
        await jb.transition(claimed.b![0]!, 'running', 'succeeded', { result: 1 }, 'inst-b'),
        false,
      );
      assert.equal(
        await ja.transition(claimed.a![0]!, 'running', 'succeeded', { result: 1 }, 'inst-b'),
        false,
      );
      assert.equal(
        await ja.transition(claimed.a![0]!, 'running', 'succeeded', { result: 1 }, 'inst-a'),
        true,
      );
      assert.equal(await ja.heartbeat('inst-a', 60_000), claimed.a!.length - 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a lead is held by one instance; it passes on when the holder’s connection dies', async () => {
    const url = await freshDatabase();
    const [a, b] = [await Store.openPostgres(url), await Store.openPostgres(url)];
    try {
      const ca = a.coordinator();
      const cb = b.coordinator();
      const lead = await ca.tryLead('alerting');
      assert.ok(lead?.held);
      assert.equal(await cb.tryLead('alerting'), undefined);
      assert.equal(await ca.tryLead('alerting'), undefined, 'not re-entrant within a process');
      assert.deepEqual(await cb.runExclusive('alerting', async () => 1), { ran: false });
      assert.deepEqual(await cb.runExclusive('crl', async () => 2), { ran: true, value: 2 });

      // Kill the session that holds A's advisory lock, as a crash or network loss would.
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'hsmkit-coordinator' and pid in (select pid from pg_locks where locktype = 'advisory' and granted)`.execute(
        b.db,
      );
      let took: Awaited<ReturnType<typeof cb.tryLead>>;
      for (let i = 0; i < 50 && !took; i++) {
        took = await cb.tryLead('alerting');
        if (!took) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(took?.held, 'B took the lead after A lost its connection');
      for (let i = 0; i < 50 && lead.held; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(lead.held, false, 'A knows it lost the lead');

      // leadDuty: exactly one of two instances runs the duty; the other takes over on close.
      await took.release();
      const running: string[] = [];
      const duty = (name: string) => ({
        start: () => {
          running.push(name);
        },
        stop: () => {
          running.splice(running.indexOf(name), 1);
        },
      });
      const da = leadDuty(ca, 'drills', duty('a'), 100);
      const db = leadDuty(cb, 'drills', duty('b'), 100);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(running.length, 1);
      const first = running[0];
      await (first === 'a' ? da : db).close();
      const count = () => running.length;
      for (let i = 0; i < 30 && count() === 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(running, [first === 'a' ? 'b' : 'a']);
      await da.close();
      await db.close();
      assert.deepEqual(running, []);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('never shows the password in errors; an unreachable server is retryable', async () => {
    const wrongPassword = server.url.replace(server.password, 'not-the-password');
    const cases: Array<[string, string, string]> = [
      ['wrong password', wrongPassword, 'HSM_ERR_STORE'],
      ['nothing listening', server.url.replace(`:${server.port}/`, ':1/'), 'HSM_ERR_STORE_UNAVAILABLE'],
      ['unknown database', server.url.replace(/\/hsmkit$/, '/no_such_db'), 'HSM_ERR_STORE'],
      ['unknown host', server.url.replace('127.0.0.1', 'no-such-host.invalid'), 'HSM_ERR_STORE'],
      ['malformed URL', server.url.replace(`:${server.port}/`, ':port%zz/'), 'HSM_ERR_STORE'],
    ];
    for (const [what, url, code] of cases) {
      try {
        await Store.openPostgres(new Secret(url, 'inline'));
        assert.fail(`${what}: expected HSM_ERR_STORE`);
      } catch (err) {
        assert.ok(err instanceof HsmError, `${what}: ${String(err)}`);
        assert.equal(err.code, code, what);
        const shown = JSON.stringify({ m: err.message, d: err.details, s: err.stack, c: String(err.cause) });
        assert.ok(!shown.includes(server.password), `${what}: password in ${shown}`);
        assert.ok(!shown.includes('not-the-password'), `${what}: password in ${shown}`);
      }
    }
  });
});
