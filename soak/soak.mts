/**
 * `npm run soak -- --minutes N [--out DIR] [--concurrency C]`: a sustained mixed load through the
 * HTTP API of one `hsmkit serve --tls` process over a 3-member SoftHSM cluster (replicated keys),
 * with a fault every minute, rotating: SIGKILL of a member host, SIGSTOP of a member host for 4 s,
 * SIGKILL of the service and a restart (callers replay by Idempotency-Key). Every request carries
 * its own Idempotency-Key and is retried with it on transport errors and retryable answers, so
 * each request ends with exactly one answer. Writes DIR/soak-YYYY-MM-DD.{md,json}
 * (default docs/reliability). How to read the report: docs/reliability/README.md.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, verify } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ServeHarness } from '../test/chaos/serve-process.js';
import type { Answer, Call } from '../test/integration/server/https-client.js';
import { listObjects } from '../test/support/tools.js';
import { memberHosts, openFds, rssBytes } from './proc.js';
import {
  type FaultRecord,
  markdown,
  minutes as perMinute,
  type RequestRecord,
  type Sample,
  type SoakResult,
  slope,
} from './report.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    out: { type: 'string', default: 'docs/reliability' },
    concurrency: { type: 'string', default: '8' },
  },
});
const MINUTES = Math.max(1, Number(values.minutes));
const CONCURRENCY = Math.max(1, Number(values.concurrency));
const MEMBERS = 3;
/** A request not answered within this long (across its retries) counts as unanswered. */
const REQUEST_DEADLINE_MS = 120_000;
/** Operations, by weight per 100 requests. */
const MIX = [
  ...Array(40).fill('sign'),
  ...Array(24).fill('batch'),
  ...Array(26).fill('ocsp'),
  ...Array(5).fill('issue'),
  ...Array(5).fill('keygen'),
] as const;
const FAULTS = ['member-host-sigkill', 'member-host-sigstop', 'service-kill-restart'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sum of `hsmkit_session_pool_in_use` and `_idle` over the members, from `/metrics`. */
let metricsPort: number | undefined;
async function sessionsNow(): Promise<number | undefined> {
  if (metricsPort === undefined) return undefined;
  try {
    const text = await (
      await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(2000) })
    ).text();
    let sum = 0;
    let seen = false;
    for (const line of text.split('\n')) {
      const m = /^hsmkit_session_pool_(?:in_use|idle)\{[^}]*\} ([0-9.eE+-]+)$/.exec(line);
      if (m) {
        sum += Number(m[1]);
        seen = true;
      }
    }
    return seen ? sum : undefined;
  } catch {
    return undefined;
  }
}
const log = (msg: string) => process.stderr.write(`[soak ${new Date().toISOString()}] ${msg}\n`);

/** A request that keeps its call (to replay it later) and its final answer's body. */
interface Kept {
  call: Call;
  status: number;
  text: string;
}

async function main(): Promise<void> {
  const loadStart = loadavg();
  log(`setting up a ${MEMBERS}-member cluster and the service`);
  const h = await ServeHarness.create({ members: MEMBERS, metrics: true });
  metricsPort = h.metricsPort;
  // Reset when the load starts: minutes and faults count from there.
  let t0 = Date.now();
  const now = () => Date.now() - t0;
  const records: RequestRecord[] = [];
  const samples: Sample[] = [];
  const faults: FaultRecord[] = [];
  const kept: Kept[] = [];
  const labels: string[] = [];
  let badSignatures = 0;
  let issuance =
    'through the API (POST /v1/pki/certificates); the CA key is a cluster key, replicated to the three members like every other key, so member faults rotate over all three nodes';
  try {
    // A CA on the cluster (library PKI through the CLI, before the service starts), then the service.
    const caPem = join(h.dir, 'soak-ca.pem');
    // On the cluster: the CA key is replicated to every member, its metadata kept by the cluster.
    await h.cliOk([
      'ca',
      'init',
      '--name',
      'soak-ca',
      '--subject',
      'CN=Soak CA',
      '--key-type',
      'ec-p256',
      '--out',
      caPem,
    ]);
    await h.start(180_000);
    const key = await h.send({
      method: 'POST',
      path: '/v1/keys',
      client: h.clients.operator,
      body: { label: 'soak-p256', key_type: 'ec-p256' },
    });
    if (key.status !== 201) throw new Error(`soak key: ${key.status} ${key.text}`);
    const pem = key.json.public_key_pem as string;

    // An external CSR to issue from, and an OCSP request for a certificate the CA issued.
    const csrFile = join(h.dir, 'soak.csr');
    execFileSync(
      'openssl',
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(h.dir, 'soak-leaf.key'),
        '-out',
        csrFile,
        '-subj',
        '/CN=soak.test',
        '-addext',
        'subjectAltName=DNS:soak.test',
      ],
      { stdio: 'ignore' },
    );
    const csrPem = readFileSync(csrFile, 'utf8');
    const issueBody = { ca: 'soak-ca', csr_pem: csrPem, profile: 'tls-server', validity_days: 30 };
    const first = await h.send({
      method: 'POST',
      path: '/v1/pki/certificates',
      client: h.clients.admin,
      body: issueBody,
    });
    let serial = first.status === 201 ? (first.json.serial as string) : undefined;
    if (!serial) {
      issuance = `not through the API (POST /v1/pki/certificates answered ${first.status}); the library PKI issued the OCSP subject through the CLI, and issue requests are left out of the mix`;
      const certFile = join(h.dir, 'leaf.pem');
      await h.cliOk([
        'cert',
        'issue',
        '--ca',
        'soak-ca',
        '--csr',
        csrFile,
        '--profile',
        'tls-server',
        '--out',
        certFile,
      ]);
      serial = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-serial'])
        .toString()
        .split('=')[1]!
        .trim();
    }
    const ocspReq = join(h.dir, 'ocsp.der');
    execFileSync(
      'openssl',
      ['ocsp', '-issuer', caPem, '-serial', `0x${serial}`, '-no_nonce', '-reqout', ocspReq],
      {
        stdio: 'ignore',
      },
    );
    const ocspDer = readFileSync(ocspReq);
    const canIssue = first.status === 201;

    let next = 0;
    let stopping = false;
    const build = (id: number, op: string): Call | undefined => {
      const headers = { 'idempotency-key': `soak-${id}-${randomBytes(6).toString('hex')}` };
      switch (op) {
        case 'sign':
          return {
            method: 'POST',
            path: '/v1/sign',
            client: h.clients.signer,
            headers,
            body: { key: 'soak-p256', data: randomBytes(64).toString('base64') },
          };
        case 'batch':
          return {
            method: 'POST',
            path: '/v1/sign/batch',
            client: h.clients.signer,
            headers,
            body: {
              items: Array.from({ length: 8 }, () => ({
                key: 'soak-p256',
                digest: randomBytes(32).toString('base64'),
                algorithm: { scheme: 'ecdsa', hash: 'sha256' },
              })),
            },
          };
        case 'ocsp':
          // OCSP is a public route, but the listener is mutual TLS: any client certificate of the CA.
          return {
            method: 'POST',
            path: '/ocsp',
            client: h.clients.signer,
            raw: ocspDer,
            contentType: 'application/ocsp-request',
          };
        case 'issue':
          return canIssue
            ? {
                method: 'POST',
                path: '/v1/pki/certificates',
                client: h.clients.admin,
                headers,
                body: issueBody,
              }
            : undefined;
        default: {
          const label = `soak-k-${id}`;
          labels.push(label);
          return {
            method: 'POST',
            path: '/v1/keys',
            client: h.clients.operator,
            headers,
            body: { label, key_type: 'ec-p256' },
          };
        }
      }
    };

    /**
     * responseStatus of an OCSPResponse (SEQUENCE { ENUMERATED … }), or -1. The client decodes
     * bodies as UTF-8: the ASCII bytes 0a 01 NN survive, the length octets before them may not.
     */
    const ocspStatus = (a: Answer): number => {
      if (a.status !== 200 || !a.type.startsWith('application/ocsp-response')) return -1;
      const at = a.text.slice(0, 12).indexOf('\n\u0001');
      return at < 0 ? -1 : a.text.charCodeAt(at + 2);
    };
    /** Whether a final answer is a success, checked independently where cheap. */
    const judge = (op: string, call: Call, a: Answer): boolean => {
      if (op === 'ocsp') return ocspStatus(a) === 0; // successful
      if (a.status < 200 || a.status > 299) return false;
      if (op === 'sign') {
        const data = Buffer.from((call.body as { data: string }).data, 'base64');
        const good = verify('sha256', data, pem, Buffer.from(a.json.signature, 'base64'));
        if (!good) badSignatures++;
        return good;
      }
      if (op === 'batch') return (a.json.results as Array<{ ok: boolean }>).every((r) => r.ok);
      return true;
    };

    const runOne = async (id: number, op: string): Promise<void> => {
      const call = build(id, op);
      if (!call) return runOne(id, 'sign');
      const startedMs = now();
      let attempts = 0;
      let final: Answer | undefined;
      let latencyMs = 0;
      while (!final && now() - startedMs < REQUEST_DEADLINE_MS) {
        attempts++;
        const a0 = performance.now();
        try {
          const a = await h.send(call);
          latencyMs = performance.now() - a0;
          // OCSP tryLater(3) is the responder's "retry": its signing key's member is down.
          const retry =
            a.status === 409 ||
            a.status === 429 ||
            a.status === 503 ||
            (op === 'ocsp' && ocspStatus(a) === 3);
          if (retry) await sleep(Math.min(1000, 100 * attempts));
          else final = a;
        } catch {
          await sleep(Math.min(1000, 100 * attempts)); // connection refused/reset: the service is down
        }
      }
      const ok = final ? judge(op, call, final) : false;
      const rec: RequestRecord = {
        id,
        op,
        startedMs,
        latencyMs: Math.round(latencyMs * 10) / 10,
        attempts,
        status: final?.status ?? 0,
        ok,
        replayed: Boolean(final?.headers['idempotent-replayed'] || final?.headers['idempotent-recovered']),
      };
      if (final && !ok)
        rec.code =
          final.json?.code ?? (op === 'ocsp' ? `OCSP status ${ocspStatus(final)}` : `HTTP ${final.status}`);
      records.push(rec);
      // Keep every retried request and a sample of the others for the exactly-once check.
      if (final && op !== 'ocsp' && (attempts > 1 || id % 25 === 0))
        kept.push({ call, status: final.status, text: final.text });
    };

    t0 = Date.now();
    log(`load starts: ${CONCURRENCY} callers for ${MINUTES} min`);
    const workers = Array.from({ length: CONCURRENCY }, async () => {
      while (!stopping) {
        const id = next++;
        await runOne(id, MIX[id % MIX.length]!);
      }
    });

    const sampler = setInterval(() => {
      const pid = h.pid;
      const hosts = pid ? memberHosts(pid) : [];
      const sample: Sample = {
        atMs: now(),
        servePid: pid,
        serveRssMiB: pid ? Math.round(((rssBytes(pid) ?? 0) / 1048576) * 10) / 10 : undefined,
        serveFds: pid ? openFds(pid) : undefined,
        hostFds: hosts.reduce((s, x) => s + (openFds(x.pid) ?? 0), 0),
        hosts: hosts.length,
      };
      samples.push(sample);
      // PKCS#11 operation sessions open in the member hosts (in use + idle), from the service's
      // own session-pool gauges; absent while the service restarts.
      void sessionsNow().then((n) => {
        if (n !== undefined) sample.sessions = n;
      });
    }, 5000);

    // A fault at 30 s into every minute.
    const firstOkAfter = (ms: number) => {
      const done = records
        .filter((r) => r.ok && r.startedMs + r.latencyMs >= ms)
        .map((r) => r.startedMs + r.latencyMs);
      return done.length ? Math.min(...done) - ms : undefined;
    };
    for (let m = 0; m < MINUTES; m++) {
      const at = m * 60_000 + 30_000;
      while (now() < at) await sleep(200);
      const kind = FAULTS[m % FAULTS.length]!;
      // Member faults rotate over every node (each holds a copy of every key, the CA key included).
      const node = Math.floor(m / FAULTS.length) % MEMBERS;
      const conf = h.tokens[node]!.conf;
      const rec: FaultRecord = { atMs: now(), kind, detail: '' };
      faults.push(rec);
      const pid = h.pid;
      const hosts = pid ? memberHosts(pid).filter((x) => x.conf === conf) : [];
      if (kind === 'member-host-sigkill') {
        for (const x of hosts) process.kill(x.pid, 'SIGKILL');
        rec.detail = `node${node}: host pid ${hosts.map((x) => x.pid).join(',') || 'none found'}`;
      } else if (kind === 'member-host-sigstop') {
        for (const x of hosts) process.kill(x.pid, 'SIGSTOP');
        rec.detail = `node${node}: host pid ${hosts.map((x) => x.pid).join(',') || 'none found'} stopped 4 s`;
        await sleep(4000);
        for (const x of hosts) {
          try {
            process.kill(x.pid, 'SIGCONT');
          } catch {
            // killed meanwhile by the member's operation timeout, and respawned
          }
        }
      } else {
        const old = h.pid;
        await h.kill();
        const down = now();
        // The machine is shared: a start may be slow. A start that does not listen in 3 min is
        // killed and tried again (recorded), so one slow start does not end the soak.
        let starts = 0;
        for (;;) {
          starts++;
          try {
            await h.start(180_000);
            break;
          } catch (err) {
            log(`restart ${starts} failed: ${(err as Error).message.slice(0, 300)}`);
            await h.kill();
            if (starts >= 3) throw err;
          }
        }
        rec.detail = `serve pid ${old} SIGKILLed; new pid ${h.pid} listening after ${now() - down} ms${starts > 1 ? ` (${starts} starts)` : ''}`;
      }
      log(`fault ${kind}: ${rec.detail}`);
    }
    while (now() < MINUTES * 60_000) await sleep(200);
    stopping = true;
    await Promise.all(workers);
    clearInterval(sampler);
    for (const f of faults) {
      const r = firstOkAfter(f.atMs);
      if (r !== undefined) f.recoveryMs = r;
    }

    // Exactly once: the kept requests replay their stored answers.
    log(`replaying ${kept.length} requests by their Idempotency-Key`);
    let mismatches = 0;
    for (const k of kept) {
      const a = await h.send(k.call);
      if (a.status !== k.status || a.text !== k.text || a.headers['idempotent-replayed'] !== 'true')
        mismatches++;
    }
    await h.stop();

    // No key label twice on any member token (pkcs11-tool, not hsmkit).
    let duplicates = 0;
    for (const t of h.tokens) {
      const seen = new Map<string, number>();
      for (const o of listObjects(t, 'privkey')) seen.set(o.label ?? '', (seen.get(o.label ?? '') ?? 0) + 1);
      for (const n of seen.values()) if (n > 1) duplicates++;
    }
    const audit = await h.cli(['audit', 'verify']);

    // Figures.
    const ok = records.filter((r) => r.ok).length;
    const failed: Record<string, number> = {};
    for (const r of records.filter((x) => !x.ok))
      failed[r.code ?? 'unanswered'] = (failed[r.code ?? 'unanswered'] ?? 0) + 1;
    const byOp: Record<string, { requests: number; ok: number }> = {};
    for (const r of records) {
      byOp[r.op] ??= { requests: 0, ok: 0 };
      byOp[r.op]!.requests++;
      if (r.ok) byOp[r.op]!.ok++;
    }
    const incarnationSlope = (pick: (s: Sample) => number | undefined): number => {
      const pids = [...new Set(samples.map((s) => s.servePid).filter((p) => p !== undefined))];
      let weighted = 0;
      let weight = 0;
      for (const p of pids) {
        const mine = samples.filter((s) => s.servePid === p);
        const start = mine[0]!.atMs;
        const pts = mine
          .filter((s) => s.atMs - start >= 60_000 && pick(s) !== undefined)
          .map((s): [number, number] => [s.atMs / 60_000, pick(s)!]);
        const k = slope(pts);
        if (!Number.isNaN(k)) {
          weighted += k * pts.length;
          weight += pts.length;
        }
      }
      return weight === 0 ? Number.NaN : weighted / weight;
    };
    const rssSlope = incarnationSlope((s) => s.serveRssMiB);
    const fdSlope = incarnationSlope((s) => s.serveFds);
    const hostFdSlope = incarnationSlope((s) => s.hostFds);
    const successRatio = records.length === 0 ? 0 : ok / records.length;
    const notes: string[] = [];
    if (Number.isNaN(rssSlope))
      notes.push('Too short for a slope: each service process needs samples past its first minute.');
    if (badSignatures > 0) notes.push(`${badSignatures} signatures did not verify.`);
    const interrupted = records.filter((r) => r.code === 'HSM_ERR_INTERRUPTED').length;
    if (interrupted > 0)
      notes.push(
        `${interrupted} request(s) ended HSM_ERR_INTERRUPTED: cut off by a service kill on a route without a recovery rule (the default refuses to redo an operation whose effect is unknown; docs/service.md).`,
      );
    // A leak is growth: a falling RSS or descriptor count (warm-up, a restart) is not one.
    const flat = (k: number, bound: number) => Number.isNaN(k) || k < bound;
    const result: SoakResult = {
      date: new Date().toISOString().slice(0, 10),
      minutes: MINUTES,
      members: MEMBERS,
      concurrency: CONCURRENCY,
      loadAverage: { start: loadStart, end: loadavg() },
      issuance,
      totals: {
        requests: records.length,
        ok,
        successRatio,
        firstTryOk: records.filter((r) => r.ok && r.attempts === 1).length,
        retriedOk: records.filter((r) => r.ok && r.attempts > 1).length,
        failed,
        unanswered: records.filter((r) => r.status === 0).length,
        byOp,
      },
      exactlyOnce: {
        replayChecked: kept.length,
        replayMismatches: mismatches,
        labelsCreated: labels.length,
        labelDuplicates: duplicates,
      },
      minutesTable: perMinute(records, samples, faults, MINUTES),
      faults,
      samples,
      verdict: {
        rssSlopeMiBPerMin: rssSlope,
        serveFdSlopePerMin: fdSlope,
        hostFdSlopePerMin: hostFdSlope,
        auditVerify: audit.code === 0 ? 'passed' : `FAILED (${audit.stdout.slice(0, 200)})`,
        pass:
          successRatio >= 0.9999 &&
          mismatches === 0 &&
          duplicates === 0 &&
          badSignatures === 0 &&
          audit.code === 0 &&
          flat(rssSlope, 2) &&
          flat(fdSlope, 1) &&
          flat(hostFdSlope, 1),
        notes,
      },
    };
    mkdirSync(values.out!, { recursive: true });
    const base = join(values.out!, `soak-${result.date}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(`${base}.md`, markdown(result));
    log(
      `report: ${base}.md (${result.verdict.pass ? 'PASS' : 'FAIL'}; success ${(100 * successRatio).toFixed(4)} %)`,
    );
    process.exitCode = result.verdict.pass ? 0 : 1;
  } finally {
    await h.cleanup();
  }
}

await main();
