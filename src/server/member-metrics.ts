import { Counter, Gauge } from 'prom-client';
import { isRandomSource } from '../kms/key-manager.js';
import {
  isMemberTelemetry,
  type MemberBreakerState,
  type MemberProbe,
  type MemberTelemetryReport,
} from '../kms/member-telemetry.js';
import { checkRngSample, DEFAULT_SAMPLE_BYTES, type RngTest } from './rng-health.js';
import type { ServiceMetrics } from './service-metrics.js';

/** Breaker state as exported by `hsmkit_breaker_state`. */
const BREAKER_VALUE: Record<MemberBreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Settings of the member metrics. */
export interface MemberMetricsOptions {
  /** How often each member's RNG is sampled and tested; default 60000 ms. */
  rngIntervalMs?: number;
  /** Bytes per RNG sample; default 4096. */
  rngSampleBytes?: number;
  /** Telemetry readings are reused for this long across one scrape's gauges; default 1000 ms. */
  cacheMs?: number;
}

/** Running member metrics; `stop` ends the RNG timer. */
export interface MemberMetrics {
  /** Samples and tests every member's RNG now (also run on the timer). */
  checkRng(): Promise<void>;
  stop(): void;
}

/**
 * Per-member gauges on the service's registry, read at scrape time through the kms-level
 * {@link MemberProbe}s (no adapter is imported here):
 * - `hsmkit_session_pool_in_use|idle|max{member}`: operation sessions over the member's hosts;
 * - `hsmkit_breaker_state{member}`: 0 closed, 1 half-open, 2 open (cluster members only);
 * - `hsmkit_key_slots_used{member}` and, only where the token or profile reports a limit,
 *   `hsmkit_key_slots_capacity{member}`;
 * - `hsmkit_rng_health_ok{member}` (1 or 0, after the first sample) and
 *   `hsmkit_rng_health_failures_total{member,test}`, from a periodic SP 800-90B repetition count
 *   and adaptive proportion test plus a monobit test on C_GenerateRandom samples.
 * A member that cannot answer (down, auth_failed) has no sample: absent, never a made-up value.
 */
export function attachMemberMetrics(
  metrics: ServiceMetrics,
  probes: () => MemberProbe[],
  o: MemberMetricsOptions = {},
): MemberMetrics {
  const registers = [metrics.registry];
  let cached: { at: number; readings: Promise<Map<string, MemberTelemetryReport>> } | undefined;
  const readings = () => {
    const now = Date.now();
    if (!cached || now - cached.at > (o.cacheMs ?? 1000)) cached = { at: now, readings: readAll(probes()) };
    return cached.readings;
  };
  const perMember = (name: string, help: string, pick: (r: MemberTelemetryReport) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['member'] as const,
      registers,
      async collect() {
        this.reset();
        for (const [member, r] of await readings()) {
          const v = pick(r);
          if (v !== undefined) this.set({ member }, v);
        }
      },
    });
  perMember(
    'hsmkit_session_pool_in_use',
    'Operation sessions in use, over the member host processes',
    (r) => r.sessions.inUse,
  );
  perMember(
    'hsmkit_session_pool_idle',
    'Operation sessions open and idle, over the member host processes',
    (r) => r.sessions.idle,
  );
  perMember(
    'hsmkit_session_pool_max',
    'Bound of the operation-session pools, over the member host processes',
    (r) => r.sessions.max,
  );
  perMember('hsmkit_key_slots_used', 'Objects on the member token (key slots in use)', (r) => r.objects);
  perMember(
    'hsmkit_key_slots_capacity',
    'Object limit of the member token from token info or vendor profile (absent when neither reports one)',
    (r) => r.objectLimit,
  );
  new Gauge({
    name: 'hsmkit_breaker_state',
    help: 'Circuit breaker of each cluster member: 0 closed, 1 half-open, 2 open',
    labelNames: ['member'] as const,
    registers,
    collect() {
      this.reset();
      for (const p of probes())
        if (p.breakerState) this.set({ member: p.member }, BREAKER_VALUE[p.breakerState()]);
    },
  });
  const rngOk = new Gauge({
    name: 'hsmkit_rng_health_ok',
    help: 'Whether the last sample of the member RNG passed the health tests (1) or not (0)',
    labelNames: ['member'] as const,
    registers,
  });
  const rngFailures = new Counter({
    name: 'hsmkit_rng_health_failures_total',
    help: 'RNG samples that failed a health test, by member and test',
    labelNames: ['member', 'test'] as const,
    registers,
  });
  const rngChecks = new Counter({
    name: 'hsmkit_rng_health_checks_total',
    help: 'RNG samples tested, by member',
    labelNames: ['member'] as const,
    registers,
  });

  let running: Promise<void> | undefined;
  const checkRng = () => {
    running ??= (async () => {
      for (const p of probes()) {
        if (!isRandomSource(p.km)) continue;
        // A member that cannot sample (down, auth_failed) keeps its last verdict; absent if none.
        const sample = await p.km
          .generateRandom(o.rngSampleBytes ?? DEFAULT_SAMPLE_BYTES)
          .catch(() => undefined);
        if (!sample) continue;
        const r = checkRngSample(sample);
        rngChecks.inc({ member: p.member });
        rngOk.set({ member: p.member }, r.ok ? 1 : 0);
        for (const test of r.failed as RngTest[]) rngFailures.inc({ member: p.member, test });
      }
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
  void checkRng();
  const timer = setInterval(() => void checkRng(), o.rngIntervalMs ?? 60_000);
  timer.unref();
  return { checkRng, stop: () => clearInterval(timer) };
}

async function readAll(probes: MemberProbe[]): Promise<Map<string, MemberTelemetryReport>> {
  const out = new Map<string, MemberTelemetryReport>();
  await Promise.all(
    probes.map(async (p) => {
      if (!isMemberTelemetry(p.km)) return;
      const r = await p.km.telemetry().catch(() => undefined);
      if (r) out.set(p.member, r);
    }),
  );
  return out;
}
