/**
 * The HTTP load generator of the benchmark, run as its own process (never inside the service or
 * the benchmark's process): `connections` keep-alive mutual-TLS connections, each posting the same
 * body (`POST /v1/sign/batch`, or `/v1/sign` for one signature) and awaiting the answer before the
 * next (closed loop). Stops after
 * `seconds`, or once `items` signatures came back. Reads its job as JSON from the environment
 * variable HSMKIT_BENCH_LOAD and prints one JSON line: requests, signatures, errors, latencies.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

interface LoadJob {
  url: string;
  ca: string;
  cert: string;
  key: string;
  body: string;
  connections: number;
  warmupMs: number;
  seconds?: number;
  items?: number;
}

const job = JSON.parse(process.env.HSMKIT_BENCH_LOAD ?? '{}') as LoadJob;
const agent = new Agent({
  keepAlive: true,
  maxSockets: job.connections,
  ca: readFileSync(job.ca),
  cert: readFileSync(job.cert),
  key: readFileSync(job.key),
});
const body = Buffer.from(job.body);
const url = new URL(job.url);

function post(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
          const answer = JSON.parse(Buffer.concat(chunks).toString()) as {
            results?: Array<{ ok: boolean }>;
            signature?: string;
          };
          resolve(answer.results ? answer.results.filter((r) => r.ok).length : answer.signature ? 1 : 0);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // A request the service never answers must not hang the benchmark.
    req.setTimeout(120_000, () => req.destroy(new Error('no answer within 120 s')));
    req.end(body);
  });
}

const started = performance.now();
const from = started + job.warmupMs;
const until = job.seconds === undefined ? Number.POSITIVE_INFINITY : from + job.seconds * 1000;
const latencies: number[] = [];
let requests = 0;
let items = 0;
let errors = 0;
let firstError: string | undefined;

async function worker(): Promise<void> {
  for (;;) {
    const s = performance.now();
    if (s >= until || (job.items !== undefined && items >= job.items)) return;
    try {
      const n = await post();
      const e = performance.now();
      if (e >= from && e <= until) {
        requests++;
        items += n;
        latencies.push(e - s); // completed in the window, whenever issued (the load was already full)
      }
    } catch (err) {
      errors++;
      firstError ??= (err as Error).message;
      if (errors > 100) return;
    }
  }
}

await Promise.all(Array.from({ length: job.connections }, worker));
const seconds = (Math.min(performance.now(), until) - from) / 1000;
agent.destroy();
process.stdout.write(`${JSON.stringify({ requests, items, errors, firstError, seconds, latencies })}\n`);
