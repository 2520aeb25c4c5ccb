// Dev aid: only the HTTP figure (P-256 batch by default) against the service, no C baseline.
// node --import tsx bench/http-only.mts [P-256|RSA-2048|Ed25519] [seconds] [single]
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchConfig } from '../src/bench/bench-config.js';
import { createBenchToken } from '../src/bench/bench-token.js';
import { benchKey } from '../src/bench/keys.js';
import { ServiceUnderTest } from '../src/bench/service-under-test.js';

const name = process.argv[2] ?? 'P-256';
const seconds = Number(process.argv[3] ?? 8);
const cfg = benchConfig(false);
const tok = createBenchToken(`bench-httponly-${Date.now().toString(36)}`);
const svc = new ServiceUnderTest(
  mkdtempSync(join(tmpdir(), 'httponly-')),
  tok,
  cfg.batchItems,
  cfg.hostProcesses,
);
try {
  const k = benchKey(name);
  await svc.prepare([k]);
  await svc.start();
  // Diagnosis aid: HSMKIT_BENCH_RENICE=-10 raises the service's priority, to tell scheduling delay
  // (other processes on the same cores) from the service's own long tasks in the event-loop figure.
  if (process.env.HSMKIT_BENCH_RENICE)
    execFileSync('renice', ['-n', process.env.HSMKIT_BENCH_RENICE, '-p', String(svc.pid)]);
  await svc.metric('nodejs_eventloop_lag_p99_seconds');
  const single = process.argv[4] === 'single';
  const connections = Number(process.argv[5] ?? cfg.httpConnections * (single ? 8 : 1));
  const r = await svc.load(k, { connections, warmupMs: 1000, seconds, single });
  const el = await svc.metric('nodejs_eventloop_lag_p99_seconds');
  console.log(
    JSON.stringify({
      key: name,
      sigPerSec: Math.round(r.items / r.seconds),
      requests: r.requests,
      errors: r.errors,
      firstError: r.firstError,
      eventLoopP99ms: Math.round(el * 1e4) / 10,
    }),
  );
} finally {
  await svc.stop();
  tok.cleanup();
}
