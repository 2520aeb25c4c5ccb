import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Member states exported as `hsmkit_member_state{state=…}`; other states count as `down`. */
export const MEMBER_STATES = ['up', 'degraded', 'down'] as const;

/** Kinds of security event counted by `hsmkit_security_events_total`. */
export type SecurityEvent =
  | 'denied'
  | 'policy_violation'
  | 'failed_login'
  | 'mfa_missing'
  | 'rate_limited'
  | 'lockout'
  | 'break_glass';

/**
 * The service's Prometheus metrics, on a registry of their own (never prom-client's global one, so
 * two apps in one process do not collide). Only facts hsmkit measures are exported: there is no
 * temperature or tamper metric, because no supported profile reads them (docs/service.md).
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  /** Latency of HSM operations as the service performed them. */
  readonly operationSeconds = new Histogram({
    name: 'hsmkit_operation_duration_seconds',
    help: 'Latency of HSM operations by operation, member and key type',
    labelNames: ['operation', 'member', 'key_type'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [this.registry],
  });
  /** Throughput: operations finished, by result. */
  readonly operations = new Counter({
    name: 'hsmkit_operations_total',
    help: 'HSM operations performed by the service, by operation and result',
    labelNames: ['operation', 'result'] as const,
    registers: [this.registry],
  });
  /** Error responses by their HSM_ERR_* code. */
  readonly errors = new Counter({
    name: 'hsmkit_errors_total',
    help: 'Error responses by HSM_ERR_* code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  /** HTTP requests by route and status. */
  readonly requests = new Counter({
    name: 'hsmkit_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  /** Denials, policy violations, failed logins, missing second factors and rate limiting. */
  readonly securityEvents = new Counter({
    name: 'hsmkit_security_events_total',
    help: 'Security events: denied, policy_violation, failed_login, mfa_missing, rate_limited, lockout, break_glass',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  /** Operations waiting for an HSM member. */
  readonly queueDepth: Gauge<string>;
  /** One-hot member state. */
  readonly memberState = new Gauge({
    name: 'hsmkit_member_state',
    help: 'HSM member state (1 for the current state of each member: up, degraded or down)',
    labelNames: ['member', 'state'] as const,
    registers: [this.registry],
  });
  /** Jobs by status. */
  readonly jobs = new Counter({
    name: 'hsmkit_jobs_total',
    help: 'Asynchronous jobs by kind and final status',
    labelNames: ['kind', 'status'] as const,
    registers: [this.registry],
  });

  /** Break-glass grants in force (0 without break-glass); read at scrape time. */
  readonly breakGlassActive: Gauge<string>;
  #breakGlassActive: () => Promise<number> = async () => 0;

  /** `queueDepth` reads the key manager's queue at scrape time. */
  constructor(queueDepth: () => number = () => 0) {
    const breakGlass = () => this.#breakGlassActive();
    this.breakGlassActive = new Gauge({
      name: 'hsmkit_break_glass_active',
      help: 'Break-glass grants in force now',
      registers: [this.registry],
      async collect() {
        this.set(await breakGlass().catch(() => 0));
      },
    });
    this.queueDepth = new Gauge({
      name: 'hsmkit_queue_depth',
      help: 'Operations waiting for an HSM member',
      registers: [this.registry],
      collect() {
        this.set(queueDepth());
      },
    });
    // Process metrics, among them nodejs_eventloop_lag_seconds (event-loop lag).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  /** Where `hsmkit_break_glass_active` is read from at scrape time. */
  observeBreakGlass(count: () => Promise<number>): void {
    this.#breakGlassActive = count;
  }

  /** Records a member's state; any state other than up and degraded is exported as down. */
  setMemberState(member: string, state: string): void {
    const shown = state === 'up' || state === 'degraded' ? state : 'down';
    for (const s of MEMBER_STATES) this.memberState.set({ member, state: s }, s === shown ? 1 : 0);
  }

  /** The text exposition of every metric. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
