import type { BenchConfig } from './bench-config.js';
import type { FailoverFigure, ScalingFigure } from './cluster-bench.js';
import type { ConnectFigure } from './connect-bench.js';
import type { HttpFigure, MemoryFigure } from './http-bench.js';
import type { KeygenFigure } from './keygen-bench.js';
import type { ThroughputFigure } from './library-bench.js';

/** Everything one benchmark run measured (bench/results/latest.json). */
export interface BenchReport {
  benchmark: string;
  date: string;
  quick: boolean;
  machine: {
    cpus: number;
    cpuModel: string;
    node: string;
    softhsm: string;
    /** 1, 5 and 15 minute load averages at start and end. */
    loadAverage: { start: number[]; end: number[] };
    fromSource: boolean;
  };
  config: BenchConfig;
  durationSeconds: number;
  /** True when the C baseline could not get the machine's cores in some throughput round (other load). */
  disturbed: boolean;
  figures: {
    latency: Array<{
      key: string;
      hsmkit: { p50us: number; p99us: number };
      c: { p50us: number; p99us: number };
      p50Ratio: number;
    }>;
    throughput: ThroughputFigure[];
    batch: Array<ThroughputFigure & { itemsPerCall: number }>;
    keygen: KeygenFigure[];
    connect: ConnectFigure;
    http: HttpFigure[];
    memory: MemoryFigure;
    scaling: ScalingFigure;
    failover: FailoverFigure;
  };
  /** Sections that failed, with the error message. */
  failures: Record<string, string>;
  targets: TargetRow[];
}

/** One row of the targets table. */
export interface TargetRow {
  figure: string;
  target: string;
  measured: string;
  baseline: string;
  ratio: string;
  verdict: 'met' | 'missed' | 'not measured';
}

const f = (x: number | undefined, d = 0) =>
  x === undefined || !Number.isFinite(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const verdict = (ok: boolean | undefined): TargetRow['verdict'] =>
  ok === undefined ? 'not measured' : ok ? 'met' : 'missed';

/** Checks every target of issue 10 against the figures (goals, which are above the seed's floors). */
export function evaluateTargets(r: BenchReport): TargetRow[] {
  const fig = r.figures;
  const rows: TargetRow[] = [];
  const kg = fig.keygen?.find((k) => k.type === 'rsa-4096');
  rows.push({
    figure: 'RSA-4096 keygen',
    target: 'p50 < 2 s (p90 reported)',
    measured: kg ? `p50 ${f(kg.hsmkit.p50, 2)} s, p90 ${f(kg.hsmkit.p90, 2)} s` : '–',
    baseline: kg?.c ? `C p50 ${f(kg.c.p50, 2)} s, p90 ${f(kg.c.p90, 2)} s` : '–',
    ratio: f(kg?.p50Ratio ?? undefined, 2),
    verdict: verdict(kg && kg.hsmkit.p50 < 2),
  });
  // Full load = every session busy (2 callers per host process); see SaturationFigure.
  const saturated = (fig.throughput ?? []).filter((t) => t.saturation);
  const worstP99 = saturated.length
    ? saturated.reduce((a, t) => (t.saturation!.p99ms > a.saturation!.p99ms ? t : a))
    : undefined;
  const ws = worstP99?.saturation;
  rows.push({
    figure: 'Signing latency at full load',
    target: 'p99 < 100 ms (every key type)',
    measured:
      worstP99 && ws
        ? `worst p99 ${f(ws.p99ms, 1)} ms (${worstP99.key}, ${ws.callers} callers: ${f(ws.opsPerSec)}/s, ${f((100 * ws.opsPerSec) / worstP99.hsmkit.opsPerSec)} % of the ${r.config.inFlight}-caller rate)`
        : '–',
    baseline: worstP99 ? `C p99 ${f(worstP99.c.p99ms, 2)} ms (${worstP99.c.mode})` : '–',
    ratio: '–',
    verdict: verdict(ws && saturated.every((t) => t.saturation!.p99ms < 100)),
  });
  for (const l of fig.latency ?? [])
    rows.push({
      figure: `Single-caller latency ${l.key}`,
      target: 'p50 within 10 % of C (ratio ≤ 1.10)',
      measured: `p50 ${f(l.hsmkit.p50us)} µs`,
      baseline: `C p50 ${f(l.c.p50us)} µs`,
      ratio: f(l.p50Ratio, 2),
      verdict: verdict(l.p50Ratio <= 1.1),
    });
  for (const name of ['RSA-2048', 'P-256', 'P-384', 'P-521', 'Ed25519', 'Ed448']) {
    const t = fig.throughput?.find((x) => x.key === name);
    rows.push({
      figure: `Bulk signing, library, ${name}`,
      target: '> 1000/s',
      measured: t ? `${f(t.hsmkit.opsPerSec)}/s` : '–',
      baseline: t ? `C ${f(t.c.opsPerSec)}/s` : '–',
      ratio: f(t?.ratio, 2),
      verdict: verdict(t && t.hsmkit.opsPerSec > 1000),
    });
  }
  for (const name of ['P-256', 'Ed25519']) {
    const h = fig.http?.find((x) => x.key === name && x.itemsPerRequest > 1);
    rows.push({
      figure: `Bulk signing, HTTP, ${name}`,
      target: '> 1000/s',
      measured: h ? `${f(h.hsmkit.signaturesPerSec)}/s (${h.route})` : '–',
      baseline: h ? `C ${f(h.c.opsPerSec)}/s` : '–',
      ratio: f(h?.ratio, 2),
      verdict: verdict(h && h.hsmkit.signaturesPerSec > 1000),
    });
  }
  for (const t of fig.throughput ?? [])
    rows.push({
      figure: `Library throughput ${t.key}`,
      target: 'ratio ≥ 0.90 of C',
      measured: `${f(t.hsmkit.opsPerSec)}/s`,
      baseline: `C ${f(t.c.opsPerSec)}/s (${t.c.mode})`,
      ratio: f(t.ratio, 2),
      verdict: verdict(t.ratio >= 0.9),
    });
  for (const name of ['P-256', 'RSA-2048']) {
    const h = fig.http?.find((x) => x.key === name && x.itemsPerRequest > 1);
    rows.push({
      figure: `HTTP batch throughput ${name}`,
      target: 'ratio ≥ 0.70 of C',
      measured: h ? `${f(h.hsmkit.signaturesPerSec)}/s` : '–',
      baseline: h ? `C ${f(h.c.opsPerSec)}/s` : '–',
      ratio: f(h?.ratio, 2),
      verdict: verdict(h && h.ratio >= 0.7),
    });
  }
  const cn = fig.connect;
  rows.push({
    figure: 'Connection setup (1 host, cold start to first signature)',
    target: 'p99 < 500 ms; goal 150 ms',
    measured: cn ? `p50 ${f(cn.hosts1.p50ms)} ms, p99 ${f(cn.hosts1.p99ms)} ms` : '–',
    baseline: cn ? `C p50 ${f(cn.c.p50ms, 1)} ms` : '–',
    ratio: f(cn?.p50Ratio, 1),
    verdict: verdict(cn && cn.hosts1.p99ms < 500),
  });
  // A known token (the capability probe cached from an earlier start, as the CLI and the service
  // keep it): what a restart or a respawned host pays. The row above is the first start on a token.
  const cc = cn?.hosts1CachedProbe;
  rows.push({
    figure: 'Connection setup (1 host, known token: probe cached)',
    target: 'p99 < 500 ms; goal 150 ms',
    measured: cc ? `p50 ${f(cc.p50ms)} ms, p99 ${f(cc.p99ms)} ms` : '–',
    baseline: cn ? `C p50 ${f(cn.c.p50ms, 1)} ms` : '–',
    ratio: cc && cn ? f(cc.p50ms / cn.c.p50ms, 1) : '–',
    verdict: verdict(cc && cc.p99ms < 500),
  });
  rows.push({
    figure: 'Connection setup, goal',
    target: 'p99 < 150 ms',
    measured: cn ? `p99 ${f(cn.hosts1.p99ms)} ms (probe), ${cc ? f(cc.p99ms) : '–'} ms (cached)` : '–',
    baseline: '–',
    ratio: '–',
    verdict: verdict(cn && Math.min(cn.hosts1.p99ms, cc?.p99ms ?? Infinity) < 150),
  });
  const fo = fig.failover;
  rows.push({
    figure: `Failover (${fo?.kills ?? '–'} member kills)`,
    target: 'p99 < 1 s; goal p99 < 200 ms',
    measured: fo ? `p50 ${f(fo.p50ms)} ms, p99 ${f(fo.p99ms)} ms` : '–',
    baseline: '–',
    ratio: '–',
    verdict: verdict(fo && fo.p99ms < 1000),
  });
  rows.push({
    figure: 'Failover, goal',
    target: 'p99 < 200 ms',
    measured: fo ? `p99 ${f(fo.p99ms)} ms` : '–',
    baseline: '–',
    ratio: '–',
    verdict: verdict(fo && fo.p99ms < 200),
  });
  const worstEl = fig.http?.reduce((a, h) => (h.hsmkit.eventLoopP99ms > a.hsmkit.eventLoopP99ms ? h : a));
  rows.push({
    figure: 'Event-loop delay of the service at full load',
    target: 'p99 < 20 ms',
    measured: worstEl ? `worst p99 ${f(worstEl.hsmkit.eventLoopP99ms, 1)} ms (${worstEl.key})` : '–',
    baseline: '–',
    ratio: '–',
    verdict: verdict(worstEl && worstEl.hsmkit.eventLoopP99ms < 20),
  });
  const m = fig.memory;
  rows.push({
    figure: `Memory after ${m ? f(m.signatures) : '–'} signatures`,
    target: 'no growth (RSS after ≤ 1.25 × before)',
    measured: m ? `RSS ${f(m.rssBeforeMb)} → ${f(m.rssAfterMb)} MB, peak ${f(m.peakRssMb)} MB` : '–',
    baseline: '–',
    ratio: m ? `growth ${f(m.growth, 2)}` : '–',
    verdict: verdict(m && m.growth < 1.25),
  });
  return rows;
}
