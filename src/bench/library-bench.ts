import type { Pkcs11KeyManager } from '../adapters/pkcs11/pkcs11-key-manager.js';
import type { BenchConfig } from './bench-config.js';
import type { CBaseline, CSignResult } from './c-baseline.js';
import { closedLoop, type LoopResult } from './closed-loop.js';
import type { BenchKey } from './keys.js';
import { median, pct, ratio, round } from './stats.js';

/**
 * Latency at full load without an artificial queue: 2 callers per host process keep every session
 * busy (one call in the token, the next one waiting), so the token's capacity is used while a
 * call waits for at most one other. With 64 callers the latency is the queue (callers ÷ rate,
 * Little's law), a property of the offered load rather than of hsmkit.
 */
export interface SaturationFigure {
  callers: number;
  opsPerSec: number;
  p50ms: number;
  p99ms: number;
}

/** Library throughput of one key type, next to the C baseline of the same rounds. */
export interface ThroughputFigure {
  key: string;
  saturation?: SaturationFigure;
  hsmkit: { opsPerSec: number; p50ms: number; p99ms: number; errors: number; cpuCores: number };
  c: { mode: string; opsPerSec: number; p50ms: number; p99ms: number; cpuCores: number };
  /** Median over rounds of hsmkit ÷ the better C mode of the same round. */
  ratio: number;
  perRound: Array<{ hsmkit: number; c: number; cMode: string; ratio: number; cCores: number }>;
}

const cores = (h: LoopResult) => h.cpu.parent + h.cpu.others.reduce((a, b) => a + (b || 0), 0);

/** Rounds of C (2 threads, 2 processes; the better counts) then hsmkit, so drift hits both. */
async function rounds(
  cfg: BenchConfig,
  c: CBaseline,
  key: BenchKey,
  hsmkit: () => Promise<LoopResult>,
): Promise<Array<{ c: CSignResult & { mode: string }; h: LoopResult }>> {
  const out = [];
  for (let r = 0; r < cfg.throughputRounds; r++) {
    const cr = await c.best(key, cfg.throughputSeconds, cfg.quick);
    out.push({ c: cr, h: await hsmkit() });
  }
  return out;
}

function figure(
  key: string,
  rs: Array<{ c: CSignResult & { mode: string }; h: LoopResult }>,
): ThroughputFigure {
  const lat = rs.flatMap((x) => x.h.latencies);
  const med = (f: (x: (typeof rs)[number]) => number) => median(rs.map(f));
  const bestC = rs.reduce((a, b) => (b.c.opsPerSec > a.c.opsPerSec ? b : a)).c;
  return {
    key,
    hsmkit: {
      opsPerSec: round(
        med((x) => x.h.opsPerSec),
        0,
      ),
      p50ms: round(median(lat), 2),
      p99ms: round(pct(lat, 0.99), 2),
      errors: rs.reduce((n, x) => n + x.h.errors, 0),
      cpuCores: round(
        med((x) => cores(x.h)),
        2,
      ),
    },
    c: {
      mode: bestC.mode,
      opsPerSec: round(
        med((x) => x.c.opsPerSec),
        0,
      ),
      p50ms: round(med((x) => x.c.p50us) / 1000, 3),
      p99ms: round(med((x) => x.c.p99us) / 1000, 3),
      cpuCores: round(
        med((x) => x.c.cpuCores),
        2,
      ),
    },
    ratio: round(
      med((x) => x.h.opsPerSec / x.c.opsPerSec),
      3,
    ),
    perRound: rs.map((x) => ({
      hsmkit: round(x.h.opsPerSec, 0),
      c: round(x.c.opsPerSec, 0),
      cMode: x.c.mode,
      ratio: ratio(x.h.opsPerSec, x.c.opsPerSec),
      cCores: round(x.c.cpuCores, 2),
    })),
  };
}

/** `km.sign` from `cfg.inFlight` callers over the member's host processes. */
export async function libraryThroughput(
  cfg: BenchConfig,
  c: CBaseline,
  km: Pkcs11KeyManager,
  key: BenchKey,
): Promise<ThroughputFigure> {
  const rs = await rounds(cfg, c, key, () =>
    closedLoop({
      call: async () => {
        await km.sign(key.request);
        return 1;
      },
      callers: cfg.inFlight,
      warmupMs: cfg.warmupMs,
      windowMs: cfg.throughputSeconds * 1000,
      pids: () => km.member.hostPids,
    }),
  );
  const callers = 2 * Math.max(1, km.member.hostPids.length);
  const sat = await closedLoop({
    call: async () => {
      await km.sign(key.request);
      return 1;
    },
    callers,
    warmupMs: cfg.warmupMs,
    windowMs: cfg.throughputSeconds * 1000,
  });
  return {
    ...figure(key.name, rs),
    saturation: {
      callers,
      opsPerSec: round(sat.opsPerSec, 0),
      p50ms: round(median(sat.latencies), 2),
      p99ms: round(pct(sat.latencies, 0.99), 2),
    },
  };
}

/** `km.signBatch` of `cfg.batchItems` requests per call, `cfg.batchCallers` calls in flight. */
export async function batchThroughput(
  cfg: BenchConfig,
  c: CBaseline,
  km: Pkcs11KeyManager,
  key: BenchKey,
): Promise<ThroughputFigure & { itemsPerCall: number }> {
  const reqs = Array.from({ length: cfg.batchItems }, () => key.request);
  const rs = await rounds(cfg, c, key, () =>
    closedLoop({
      call: async () => {
        const results = await km.signBatch(reqs);
        if (!results.every((r) => r.ok)) throw new Error('batch item failed');
        return results.length;
      },
      callers: cfg.batchCallers,
      warmupMs: cfg.warmupMs,
      windowMs: cfg.throughputSeconds * 1000,
      pids: () => km.member.hostPids,
    }),
  );
  return { ...figure(key.name, rs), itemsPerCall: cfg.batchItems };
}

/** One caller, `await km.sign()` one after another, next to C with 1 thread. */
export async function singleCallerLatency(
  cfg: BenchConfig,
  c: CBaseline,
  km: Pkcs11KeyManager,
  key: BenchKey,
): Promise<{
  key: string;
  hsmkit: { p50us: number; p99us: number };
  c: { p50us: number; p99us: number };
  p50Ratio: number;
}> {
  const cr = await c.sign(key, { threads: 1, seconds: cfg.quick ? 1 : 2 });
  for (let i = 0; i < Math.max(50, cfg.latencySignatures / 10); i++) await km.sign(key.request);
  const lat = new Float64Array(cfg.latencySignatures);
  for (let i = 0; i < lat.length; i++) {
    const s = performance.now();
    await km.sign(key.request);
    lat[i] = (performance.now() - s) * 1000;
  }
  return {
    key: key.name,
    hsmkit: { p50us: round(median(lat), 1), p99us: round(pct(lat, 0.99), 1) },
    c: { p50us: cr.p50us, p99us: cr.p99us },
    p50Ratio: ratio(median(lat), cr.p50us),
  };
}
