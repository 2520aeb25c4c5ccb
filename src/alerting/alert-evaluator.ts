import type { AlertingConfig } from '../config/schema.js';
import type { AlertDispatcher } from './alert-dispatcher.js';

/** One member's key-slot use and the limit it is measured against (undefined: no known limit). */
export interface MemberCapacity {
  member: string;
  used: number;
  limit?: number;
  /** used / limit in percent, when there is a limit. */
  percent?: number;
}

/** What the periodic rules read. Each is optional: a rule without its source does not run. */
export interface EvaluatorSources {
  /** Key objects per reachable member (down members omitted). */
  memberKeyCounts?: () => Promise<Record<string, number>>;
  /**
   * A member's key limit from its token or vendor profile, when one is known. No supported
   * profile reports one yet, so `alerting.capacity_limit_keys` stands in (docs/dashboard.md).
   */
  memberKeyLimit?: (member: string) => number | undefined;
  /** Running totals of HSM operation latency: seconds summed and count (the metrics histogram). */
  latencyTotals?: () => Promise<{ sum: number; count: number }>;
  /** Keys with a metadata expiry (store `key_metadata.expires_at`). */
  expiringKeys?: () => Promise<Array<{ label: string; expiresAt?: string; status?: string }>>;
}

/**
 * The periodic rules: capacity (key slots used / limit ≥ threshold per member), latency SLA (mean
 * HSM latency over the last period above `latency_sla_ms`) and key expiry (metadata expiry within
 * `key_expiry_days`). Each condition alerts once and re-arms when it clears.
 */
export class AlertEvaluator {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #lastLatency: { sum: number; count: number } | undefined;
  #capacity: MemberCapacity[] = [];
  readonly #listeners = new Set<(c: MemberCapacity[]) => void>();

  constructor(
    private readonly config: AlertingConfig,
    private readonly alerts: AlertDispatcher,
    private readonly sources: EvaluatorSources,
  ) {}

  /** Evaluates now and then every `evaluate_interval_ms`. */
  start(): void {
    if (this.#timer) return;
    void this.evaluate();
    this.#timer = setInterval(() => void this.evaluate(), this.config.evaluateIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** The capacity measured last. */
  capacity(): MemberCapacity[] {
    return this.#capacity;
  }

  /** Calls `fn` after each capacity measurement; returns the unsubscribe function. */
  onCapacity(fn: (c: MemberCapacity[]) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** One evaluation of every rule (a running one is joined, not doubled). */
  evaluate(): Promise<void> {
    this.#running ??= this.#evaluate().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #evaluate(): Promise<void> {
    // A rule whose source fails is skipped this round; the others still run.
    await this.#checkCapacity().catch(() => undefined);
    await this.#checkLatency().catch(() => undefined);
    await this.#checkExpiry().catch(() => undefined);
  }

  async #checkCapacity(): Promise<void> {
    if (!this.sources.memberKeyCounts) return;
    const counts = await this.sources.memberKeyCounts();
    const threshold = this.config.capacityThresholdPercent;
    this.#capacity = Object.entries(counts).map(([member, used]) => {
      const limit = this.sources.memberKeyLimit?.(member) ?? this.config.capacityLimitKeys;
      if (limit === undefined) return { member, used };
      const percent = Math.round((used / limit) * 1000) / 10;
      const key = `capacity:${member}`;
      if (percent >= threshold) {
        this.alerts.raise({
          kind: 'capacity',
          key,
          member,
          message: `HSM member ${member} uses ${used} of ${limit} key slots (${percent} % ≥ ${threshold} %)`,
          details: { used, limit, percent, thresholdPercent: threshold },
        });
      } else {
        this.alerts.resolve(key);
      }
      return { member, used, limit, percent };
    });
    for (const fn of this.#listeners) fn(this.#capacity);
  }

  async #checkLatency(): Promise<void> {
    const sla = this.config.latencySlaMs;
    if (sla === undefined || !this.sources.latencyTotals) return;
    const now = await this.sources.latencyTotals();
    const last = this.#lastLatency;
    this.#lastLatency = now;
    if (!last || now.count <= last.count) return;
    const meanMs = ((now.sum - last.sum) / (now.count - last.count)) * 1000;
    if (meanMs > sla) {
      this.alerts.raise({
        kind: 'latency-sla',
        key: 'latency-sla',
        message: `mean HSM operation latency ${meanMs.toFixed(1)} ms exceeds the ${sla} ms SLA`,
        details: { meanMs: Math.round(meanMs * 10) / 10, slaMs: sla, operations: now.count - last.count },
      });
    } else {
      this.alerts.resolve('latency-sla');
    }
  }

  async #checkExpiry(): Promise<void> {
    const days = this.config.keyExpiryDays;
    if (days === 0 || !this.sources.expiringKeys) return;
    const horizon = Date.now() + days * 86_400_000;
    for (const k of await this.sources.expiringKeys()) {
      if (k.expiresAt === undefined || k.status === 'archived') continue;
      const at = Date.parse(k.expiresAt);
      const key = `key-expiry:${k.label}`;
      if (Number.isNaN(at) || at > horizon) {
        this.alerts.resolve(key);
        continue;
      }
      const left = Math.floor((at - Date.now()) / 86_400_000);
      this.alerts.raise({
        kind: 'key-expiry',
        key,
        severity: left < 0 ? 'critical' : 'warning',
        message:
          left < 0
            ? `key ${k.label} expired on ${k.expiresAt}`
            : `key ${k.label} expires on ${k.expiresAt} (within ${days} days)`,
        details: { label: k.label, expiresAt: k.expiresAt, daysLeft: left },
      });
    }
  }
}
