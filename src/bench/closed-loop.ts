import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { procCpuSeconds } from './stats.js';

/** What one closed-loop run measured. */
export interface LoopResult {
  /** Operations (signatures) completed inside the window, per second. */
  opsPerSec: number;
  ops: number;
  seconds: number;
  /** Latencies (ms) of the calls completed inside the window. */
  latencies: number[];
  errors: number;
  /** Event-loop delay p99 of this process during the window, ms. */
  eventLoopP99ms: number;
  /** Cores used during the window: this process and each process of `pids`. */
  cpu: { parent: number; others: number[] };
}

/**
 * Closed loop: `callers` callers, each awaiting `call` (which returns how many operations it did,
 * e.g. 100 for a batch) and issuing the next, for `warmupMs` + `windowMs`. Only operations
 * completed inside the window count.
 */
export async function closedLoop(o: {
  call: () => Promise<number>;
  callers: number;
  warmupMs: number;
  windowMs: number;
  /** Processes whose CPU use is reported (member hosts). */
  pids?: () => number[];
}): Promise<LoopResult> {
  const measureFrom = performance.now() + o.warmupMs;
  const deadline = measureFrom + o.windowMs;
  const latencies: number[] = [];
  let completed = 0;
  let errors = 0;
  const eld = monitorEventLoopDelay({ resolution: 1 });
  let cpuStart: { parent: NodeJS.CpuUsage; others: number[]; pids: number[] } | undefined;
  const startTimer = setTimeout(() => {
    const pids = o.pids?.() ?? [];
    cpuStart = { parent: process.cpuUsage(), pids, others: pids.map((p) => procCpuSeconds(p, read)) };
    eld.enable();
  }, o.warmupMs);
  const worker = async () => {
    for (;;) {
      const start = performance.now();
      if (start >= deadline) return;
      let n: number;
      try {
        n = await o.call();
      } catch {
        errors++;
        continue;
      }
      const end = performance.now();
      if (end >= measureFrom && end <= deadline) {
        completed += n;
        // Every call completed in the window counts, also one issued in the warm-up: the load was
        // already full then, and slow keys in short windows would otherwise have no latency at all.
        latencies.push(end - start);
      }
    }
  };
  await Promise.all(Array.from({ length: o.callers }, worker));
  clearTimeout(startTimer);
  eld.disable();
  const wall = (performance.now() - measureFrom) / 1000;
  const parent = cpuStart ? process.cpuUsage(cpuStart.parent) : { user: Number.NaN, system: 0 };
  const others = cpuStart
    ? cpuStart.pids.map((p, i) => (procCpuSeconds(p, read) - cpuStart!.others[i]!) / wall)
    : [];
  return {
    opsPerSec: completed / (o.windowMs / 1000),
    ops: completed,
    seconds: o.windowMs / 1000,
    latencies,
    errors,
    eventLoopP99ms: eld.count > 0 ? eld.percentile(99) / 1e6 : 0,
    cpu: { parent: (parent.user + parent.system) / 1e6 / wall, others },
  };
}

const read = (path: string) => readFileSync(path, 'utf8');
