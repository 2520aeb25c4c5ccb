import type { BenchConfig } from './bench-config.js';
import type { CBaseline } from './c-baseline.js';
import type { BenchKey } from './keys.js';
import type { ServiceUnderTest } from './service-under-test.js';
import { median, pct, ratio, round } from './stats.js';

/** HTTP signing throughput of one key type through the service, next to the C baseline. */
export interface HttpFigure {
  key: string;
  route: string;
  itemsPerRequest: number;
  hsmkit: {
    signaturesPerSec: number;
    requestsPerSec: number;
    p50ms: number;
    p99ms: number;
    errors: number;
    /** The service's event-loop delay p99 over the run (its /metrics), ms. */
    eventLoopP99ms: number;
  };
  c: { mode: string; opsPerSec: number };
  ratio: number;
  connections: number;
}

/** C (the better of 2 threads and 2 processes), then the load generator against the service. */
export async function httpFigure(
  cfg: BenchConfig,
  c: CBaseline,
  svc: ServiceUnderTest,
  key: BenchKey,
  batchSize: number,
  /** One signature per request (`POST /v1/sign`): the per-request cost, rather than bulk. */
  single = false,
): Promise<HttpFigure> {
  const cr = await c.best(key, cfg.quick ? 1 : cfg.httpSeconds / 2, cfg.quick);
  await svc.metric('nodejs_eventloop_lag_p99_seconds'); // resets the service's histogram
  const r = await svc.load(key, {
    connections: cfg.httpConnections * (single ? 8 : 1),
    warmupMs: cfg.quick ? 500 : 1000,
    seconds: cfg.httpSeconds,
    single,
  });
  const eventLoop = await svc.metric('nodejs_eventloop_lag_p99_seconds');
  if (r.requests === 0)
    throw new Error(`HTTP ${key.name}: no request succeeded (${r.firstError ?? 'no error'})`);
  const perSec = r.items / r.seconds;
  return {
    key: key.name,
    route: single ? 'POST /v1/sign' : 'POST /v1/sign/batch',
    itemsPerRequest: single ? 1 : batchSize,
    hsmkit: {
      signaturesPerSec: round(perSec, 0),
      requestsPerSec: round(r.requests / r.seconds, 1),
      p50ms: round(median(r.latencies), 2),
      p99ms: round(pct(r.latencies, 0.99), 2),
      errors: r.errors,
      eventLoopP99ms: round(eventLoop * 1000, 2),
    },
    c: { mode: cr.mode, opsPerSec: round(cr.opsPerSec, 0) },
    ratio: ratio(perSec, cr.opsPerSec),
    connections: cfg.httpConnections * (single ? 8 : 1),
  };
}

/** Memory of the service: peak RSS under load, and RSS before and after `signatures` more signatures. */
export interface MemoryFigure {
  signatures: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  /** RSS after ÷ RSS before: about 1 when nothing leaks. */
  growth: number;
  peakRssMb: number;
  seconds: number;
}

/** Drives `cfg.memorySignatures` signatures through the service and compares its RSS. */
export async function memoryFigure(
  cfg: BenchConfig,
  svc: ServiceUnderTest,
  key: BenchKey,
): Promise<MemoryFigure> {
  const before = svc.memory();
  const r = await svc.load(key, {
    connections: cfg.httpConnections,
    warmupMs: 0,
    items: cfg.memorySignatures,
  });
  if (r.items < cfg.memorySignatures)
    throw new Error(`memory run: only ${r.items} signatures (${r.firstError})`);
  const after = svc.memory();
  return {
    signatures: r.items,
    rssBeforeMb: round(before.rssMb, 1),
    rssAfterMb: round(after.rssMb, 1),
    growth: ratio(after.rssMb, before.rssMb),
    peakRssMb: round(after.peakRssMb, 1),
    seconds: round(r.seconds, 1),
  };
}
