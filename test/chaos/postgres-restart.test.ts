/**
 * Chaos: PostgreSQL restarts under load while two `hsmkit serve` instances share it. Callers see
 * success or a problem document with a retryable status (503) — never a hang, a dropped
 * connection or a crashed service; nothing the service accepted is lost (every 200 signature has
 * its audit record, every 202 job finishes); both instances recover by themselves; and the audit
 * chain verifies afterwards (`hsmkit audit verify`).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, it } from 'node:test';
import pg from 'pg';
import { type Instance, TwoInstanceHarness } from '../integration/server/two-instances-harness.js';

let h: TwoInstanceHarness;
let a: Instance;
let b: Instance;

before(async () => {
  h = await TwoInstanceHarness.create();
  [a, b] = await Promise.all([h.startInstance('a'), h.startInstance('b')]);
  const made = await h.send(a, {
    method: 'POST',
    path: '/v1/keys',
    client: h.clients.operator,
    body: { label: 'chaos-p256', key_type: 'ec-p256' },
  });
  assert.equal(made.status, 201, made.text);
});
after(async () => {
  await h?.cleanup();
});

interface Outcome {
  path: string;
  status: number;
  code?: string;
  at: number;
}

it('PostgreSQL restarting mid-load: retryable errors or success, nothing lost, recovery, chain verifies', async () => {
  const outcomes: Outcome[] = [];
  const jobs: string[] = [];
  let stop = false;
  let n = 0;
  const worker = async (w: number) => {
    while (!stop) {
      const i = n++;
      const inst = (i + w) % 2 ? a : b;
      const digest = createHash('sha256').update(`chaos-${i}`).digest('base64');
      const r = await h.send(inst, {
        method: 'POST',
        path: '/v1/sign',
        client: h.clients.signer,
        body: { key: 'chaos-p256', digest, algorithm: { scheme: 'ecdsa', hash: 'sha256' } },
      });
      outcomes.push({
        path: '/v1/sign',
        status: r.status,
        at: Date.now(),
        ...(r.json?.code ? { code: r.json.code } : {}),
      });
      if (i % 25 === 0) {
        const j = await h.send(inst, {
          method: 'POST',
          path: '/v1/jobs',
          client: h.clients.operator,
          body: { kind: 'key.create', request: { label: `chaos-job-${i}`, key_type: 'ec-p256' } },
        });
        outcomes.push({
          path: '/v1/jobs',
          status: j.status,
          at: Date.now(),
          ...(j.json?.code ? { code: j.json.code } : {}),
        });
        if (j.status === 202) jobs.push(j.json.id);
      }
      if (r.status !== 200) await new Promise((res) => setTimeout(res, 50));
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
  await new Promise((r) => setTimeout(r, 3000));
  const downAt = Date.now();
  await h.pg.restart(2000);
  const upAt = Date.now();
  // Keep the load going until both instances answered successfully again, and a while longer.
  const recoverBy = upAt + 30_000;
  for (;;) {
    const after = outcomes.filter((o) => o.at > upAt + 500);
    if (after.filter((o) => o.status === 200).length >= 50) break;
    assert.ok(Date.now() < recoverBy, `no recovery within 30 s: ${JSON.stringify(after.slice(-5))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  stop = true;
  await load;

  // Both services are still running: nothing crashed.
  for (const inst of [a, b]) assert.equal(inst.child.exitCode, null, `${inst.name} exited: ${inst.stderr()}`);

  const failures = outcomes.filter((o) => o.status !== 200 && o.status !== 202);
  const ok = outcomes.filter((o) => o.status === 200).length;
  process.stdout.write(
    `# ${outcomes.length} answers, ${ok} signatures, ${failures.length} refused while PostgreSQL was down ` +
      `(${Date.now() - downAt} ms window incl. recovery); codes ${JSON.stringify(countBy(failures))}\n`,
  );
  assert.ok(failures.length > 0, 'the restart was noticed by callers (otherwise the test proved nothing)');
  for (const f of failures) {
    assert.equal(f.status, 503, `a refusal during the restart must be retryable: ${JSON.stringify(f)}`);
    assert.match(f.code ?? '', /^HSM_ERR_/);
  }
  // After recovery, nothing fails any more.
  const late = outcomes.filter((o) => o.at > upAt + 10_000);
  assert.ok(
    late.every((o) => o.status === 200 || o.status === 202),
    JSON.stringify(late.filter((o) => o.status >= 300)),
  );

  // Every accepted job finishes, exactly once.
  const c = new pg.Client(h.pg.url);
  await c.connect();
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const rows = (await c.query('select id, status, error from service_job where id = any($1)', [jobs]))
        .rows;
      assert.equal(rows.length, jobs.length, 'every accepted job is recorded');
      if (rows.every((r) => r.status === 'succeeded' || r.status === 'failed')) {
        // A job that met the outage before reaching the HSM went back to the queue and ran later.
        const failed = rows.filter((r) => r.status === 'failed');
        assert.deepEqual(failed, [], 'every accepted job succeeds');
        process.stdout.write(`# ${jobs.length} jobs accepted, all succeeded\n`);
        const audited = (
          await c.query(
            "select correlation_id, count(*) as n from audit_log where operation = 'key.create' and result = 'ok' and correlation_id = any($1) group by correlation_id",
            [jobs],
          )
        ).rows;
        for (const r of audited) assert.equal(Number(r.n), 1, `job ${r.correlation_id} ran twice`);
        assert.equal(audited.length, jobs.length, 'every job has its audit record');
        break;
      }
      assert.ok(
        Date.now() < deadline,
        `jobs still pending: ${JSON.stringify(rows.filter((r) => r.status !== 'succeeded'))}`,
      );
      await new Promise((r) => setTimeout(r, 500));
    }
    const signed = (
      await c.query(
        "select count(*) as n from audit_log where operation = 'key.sign' and result = 'ok' and key_uri like '%chaos-p256%'",
      )
    ).rows[0];
    assert.ok(Number(signed.n) >= ok, `${ok} signatures returned, ${signed.n} audited`);
  } finally {
    await c.end();
  }

  const verify = await h.cli(['audit', 'verify']);
  assert.equal(verify.code, 0, verify.stderr + verify.stdout);
  assert.equal(JSON.parse(verify.stdout).ok, true);
  for (const inst of [a, b]) assert.ok(!inst.stderr().includes(h.pg.password), 'no password in service logs');
});

function countBy(list: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of list) {
    const k = `${o.path} ${o.status} ${o.code ?? ''}`.trim();
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
