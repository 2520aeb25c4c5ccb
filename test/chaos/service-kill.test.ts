/**
 * Chaos (issue 11): `hsmkit serve --tls`, a real process on a real SoftHSM token, is SIGKILLed
 * while concurrent sign, sign/batch, key generation and job requests — each with its own
 * Idempotency-Key — are in flight; it is restarted on the same store and token and every request
 * that got no answer is sent again with the same key. Then: every request has exactly one answer
 * (sending it once more replays that answer byte for byte), every signature verifies (node's
 * OpenSSL, public key from the API), no key label exists twice on the token (pkcs11-tool), jobs
 * ended succeeded or HSM_ERR_INTERRUPTED and none ran twice, and `hsmkit audit verify` passes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, verify } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Answer, Call } from '../integration/server/https-client.js';
import { listObjects } from '../support/tools.js';
import { ServeHarness } from './serve-process.js';

/** Concurrent callers during the load. */
const WORKERS = 6;
/** Requests sent before the kill may come (it comes when a key generation is in flight). */
const REQUESTS_BEFORE_KILL = 30;
/** The kill comes at the latest after this long. */
const LOAD_MAX_MS = 20_000;

type Kind = 'sign' | 'batch' | 'key' | 'job';

interface Tracked {
  n: number;
  kind: Kind;
  call: Call;
  /** Data signed (sign) or per item (batch), to verify against. */
  data: Buffer[];
  /** The answer that counts: the first non-retryable one. */
  answer?: Answer;
  /** Why the last try got no final answer. */
  lastError?: string;
  /** Sent before the kill and not answered: cut off by it. */
  cutOff: boolean;
  /** Sent and not yet answered. */
  inFlight?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retryable answers (a 409 in progress, 503 while members come up, 429) do not count as final. */
function isFinal(a: Answer): boolean {
  return !(a.status === 409 || a.status === 429 || a.status === 503);
}

describe('chaos: hsmkit serve SIGKILLed mid-batch, restarted, every request replayed by its Idempotency-Key', () => {
  let h: ServeHarness;
  let pem: string;

  before(async () => {
    h = await ServeHarness.create();
    await h.start();
    const k = await h.send({
      method: 'POST',
      path: '/v1/keys',
      client: h.clients.operator,
      body: { label: 'kill-p256', key_type: 'ec-p256' },
    });
    assert.equal(k.status, 201, k.text);
    pem = k.json.public_key_pem;
  });

  after(async () => {
    await h?.cleanup();
  });

  it('nothing accepted is lost or done twice', async () => {
    const tracked: Tracked[] = [];
    let next = 0;
    let killed = false;
    const make = (): Tracked => {
      const n = next++;
      const kind: Kind = (['batch', 'sign', 'batch', 'key', 'sign', 'batch', 'job'] as const)[n % 7]!;
      const headers = { 'idempotency-key': `kill-${n}-${randomBytes(4).toString('hex')}` };
      if (kind === 'sign') {
        const d = randomBytes(48);
        return {
          n,
          kind,
          data: [d],
          cutOff: false,
          call: {
            method: 'POST',
            path: '/v1/sign',
            client: h.clients.signer,
            headers,
            body: { key: 'kill-p256', data: d.toString('base64') },
          },
        };
      }
      if (kind === 'batch') {
        const data = Array.from({ length: 8 }, () => randomBytes(40));
        return {
          n,
          kind,
          data,
          cutOff: false,
          call: {
            method: 'POST',
            path: '/v1/sign/batch',
            client: h.clients.signer,
            headers,
            body: {
              items: data.map((d) => ({
                key: 'kill-p256',
                digest: createHash('sha256').update(d).digest('base64'),
                algorithm: { scheme: 'ecdsa', hash: 'sha256' },
              })),
            },
          },
        };
      }
      if (kind === 'key') {
        return {
          n,
          kind,
          data: [],
          cutOff: false,
          // RSA-2048 generation takes ~0.3–1 s: long enough to be caught by the kill.
          call: {
            method: 'POST',
            path: '/v1/keys',
            client: h.clients.operator,
            headers,
            body: { label: `kill-key-${n}`, key_type: 'rsa-2048' },
          },
        };
      }
      return {
        n,
        kind,
        data: [],
        cutOff: false,
        call: {
          method: 'POST',
          path: '/v1/jobs',
          client: h.clients.operator,
          headers,
          body: { kind: 'key.create', request: { label: `kill-job-${n}`, key_type: 'rsa-2048' } },
        },
      };
    };

    const sendOnce = async (t: Tracked): Promise<void> => {
      try {
        const a = await h.send(t.call);
        if (isFinal(a)) t.answer = a;
        else t.lastError = `${a.status} ${a.json?.code ?? ''}`;
      } catch (err) {
        t.lastError = (err as Error).message;
      }
    };

    // Load, then the kill while requests are in flight.
    const workers = Array.from({ length: WORKERS }, async () => {
      while (!killed) {
        const t = make();
        tracked.push(t);
        t.inFlight = true;
        await sendOnce(t);
        t.inFlight = false;
        if (!t.answer && killed) t.cutOff = true;
      }
    });
    const started = Date.now();
    const keyInFlight = () => tracked.some((t) => t.inFlight && t.kind === 'key');
    while (Date.now() - started < LOAD_MAX_MS && !(tracked.length >= REQUESTS_BEFORE_KILL && keyInFlight())) {
      await sleep(20);
    }
    const inFlightAtKill = tracked.filter((t) => t.inFlight).map((t) => t.kind);
    killed = true;
    await h.kill();
    await Promise.all(workers);
    const cutOff = tracked.filter((t) => !t.answer);
    assert.ok(tracked.length >= REQUESTS_BEFORE_KILL, `load ran (${tracked.length} requests)`);
    assert.ok(cutOff.length > 0, 'the kill cut requests off mid-flight');

    // Restart on the same store and token; replay every unanswered request with its own key.
    await h.start();
    for (let round = 0; round < 120 && tracked.some((t) => !t.answer); round++) {
      await Promise.all(tracked.filter((t) => !t.answer).map(sendOnce));
      if (tracked.some((t) => !t.answer)) await sleep(500);
    }
    const unanswered = tracked.filter((t) => !t.answer);
    assert.deepEqual(
      unanswered.map((t) => `${t.kind} #${t.n}: ${t.lastError}`),
      [],
      'every request is answered after the restart',
    );

    // Exactly one answer: sending each request once more replays the stored answer byte for byte.
    for (const t of tracked) {
      const again = await h.send(t.call);
      assert.equal(again.headers['idempotent-replayed'], 'true', `${t.kind} #${t.n} replayed`);
      assert.equal(again.status, t.answer!.status, `${t.kind} #${t.n} same status`);
      assert.equal(again.text, t.answer!.text, `${t.kind} #${t.n} same body`);
    }

    // What each answer says, checked independently.
    const outcomes: Record<string, number> = {};
    const jobIds: Array<{ id: string; label: string }> = [];
    for (const t of tracked) {
      const a = t.answer!;
      const tag = `${t.kind}:${a.status}${a.json?.code ? `:${a.json.code}` : ''}`;
      outcomes[tag] = (outcomes[tag] ?? 0) + 1;
      if (t.kind === 'sign') {
        assert.equal(a.status, 200, a.text);
        assert.ok(
          verify('sha256', t.data[0]!, pem, Buffer.from(a.json.signature, 'base64')),
          'signature verifies',
        );
      } else if (t.kind === 'batch') {
        assert.equal(a.status, 200, a.text);
        const results = a.json.results as Array<{ ok: boolean; signature?: string }>;
        assert.equal(results.length, t.data.length);
        results.forEach((r, i) => {
          assert.equal(r.ok, true, JSON.stringify(r));
          assert.ok(
            verify('sha256', t.data[i]!, pem, Buffer.from(r.signature!, 'base64')),
            'batch item verifies',
          );
        });
      } else if (t.kind === 'key') {
        assert.equal(a.status, 201, a.text);
        assert.equal(a.json.label, (t.call.body as { label: string }).label);
      } else {
        // A job submission cut off mid-request is answered HSM_ERR_INTERRUPTED, never submitted twice.
        assert.ok(a.status === 202 || a.json?.code === 'HSM_ERR_INTERRUPTED', a.text);
        if (a.status === 202) jobIds.push({ id: a.json.id, label: `kill-job-${t.n}` });
      }
    }

    // Jobs end succeeded, or failed HSM_ERR_INTERRUPTED when the kill caught them running.
    const jobEnds: Record<string, number> = {};
    for (const j of jobIds) {
      let job: { status: string; error?: { code: string } } = { status: 'queued' };
      for (let i = 0; i < 300 && (job.status === 'queued' || job.status === 'running'); i++) {
        job = (await h.send({ path: `/v1/jobs/${j.id}`, client: h.clients.operator })).json;
        if (job.status === 'queued' || job.status === 'running') await sleep(200);
      }
      const end = job.status === 'failed' ? `failed:${job.error?.code}` : job.status;
      jobEnds[end] = (jobEnds[end] ?? 0) + 1;
      assert.ok(end === 'succeeded' || end === 'failed:HSM_ERR_INTERRUPTED', `${j.id}: ${end}`);
    }

    await h.stop();

    // The token, read by pkcs11-tool: no label twice; every key answered 201 exists once.
    const privs = listObjects(h.tokens[0]!, 'privkey');
    const byLabel = new Map<string, number>();
    for (const o of privs) byLabel.set(o.label ?? '', (byLabel.get(o.label ?? '') ?? 0) + 1);
    for (const [label, count] of byLabel) assert.equal(count, 1, `label ${label} exists ${count} times`);
    for (const t of tracked.filter((x) => x.kind === 'key')) {
      assert.equal(byLabel.get((t.call.body as { label: string }).label), 1, `key #${t.n} on the token`);
    }
    for (const j of jobIds) assert.ok((byLabel.get(j.label) ?? 0) <= 1);

    // The store: no job ran twice (at most one key.create audit record per job), chain verifies.
    const db = new Database(join(h.dir, 'hsmkit.db'), { readonly: true });
    try {
      for (const j of jobIds) {
        const runs = db
          .prepare(
            `select count(*) as n from audit_log where operation = 'key.create' and correlation_id = ?`,
          )
          .get(j.id) as { n: number };
        assert.ok(runs.n <= 1, `job ${j.id} ran ${runs.n} times`);
      }
    } finally {
      db.close();
    }
    const verified = await h.cli(['audit', 'verify']);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);

    console.log(
      'service kill',
      JSON.stringify({
        requests: tracked.length,
        cutOffByKill: cutOff.length,
        inFlightAtKill,
        recoveredAfterKill: tracked.filter((t) => t.answer!.headers['idempotent-recovered'] === 'true')
          .length,
        outcomes,
        jobEnds,
        servicePids: h.pids,
      }),
    );
  });
});
