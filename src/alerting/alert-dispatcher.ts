import { randomUUID } from 'node:crypto';
import type { AlertingConfig } from '../config/schema.js';
import type { AlertKind, AlertSeverity, ServiceAlert } from './alert.js';
import { type DeadLetterRepository, redactUrl } from './dead-letters.js';
import { deliverWebhook } from './webhook.js';

/** What a rule raises; the dispatcher adds id and time. */
export interface AlertInput {
  kind: AlertKind;
  message: string;
  severity?: AlertSeverity;
  member?: string;
  details?: Record<string, string | number | boolean>;
  /**
   * A condition key (e.g. `member-down:node1`): while it is active, raising it again is a no-op, so
   * a lasting condition alerts once; `resolve(key)` re-arms it.
   */
  key?: string;
  /** With `key`: re-alert after this long even if never resolved (repeating failures). */
  repeatAfterMs?: number;
}

/** Kinds a config switch turns off; the rest (capacity, latency, expiry, security) have their own settings. */
const SWITCHES: Partial<Record<AlertKind, keyof AlertingConfig>> = {
  'member-down': 'memberDown',
  'member-up': 'memberDown',
  unavailable: 'unavailable',
  replication: 'replicationFailures',
  audit_failure: 'auditFailures',
  checkpoint_failure: 'auditFailures',
};

const DEFAULT_SEVERITY: Record<AlertKind, AlertSeverity> = {
  'member-down': 'critical',
  'member-up': 'info',
  unavailable: 'critical',
  replication: 'warning',
  capacity: 'warning',
  'latency-sla': 'warning',
  'key-expiry': 'warning',
  policy_violation: 'warning',
  audit_failure: 'critical',
  checkpoint_failure: 'critical',
  // Every break-glass step is loud (docs/security/runbooks.md).
  break_glass: 'critical',
  // Repeated failed authentication of one identity or certificate subject.
  failed_login: 'warning',
  // A scheduled recovery drill failed or missed its RTO: recovery is not proven.
  backup_drill_failed: 'critical',
};

/**
 * Where every alert of the service goes: one stderr line (the log), the recent list (dashboard),
 * listeners, and each configured webhook with bounded exponential-backoff retries. An alert no
 * attempt could deliver is recorded in the store's dead letters (and logged), never dropped silently.
 */
export class AlertDispatcher {
  readonly #recent: ServiceAlert[] = [];
  readonly #active = new Map<string, number>();
  readonly #listeners = new Set<(a: ServiceAlert) => void>();
  readonly #pending = new Set<Promise<void>>();
  #closed = false;

  constructor(
    private readonly config: AlertingConfig,
    private readonly deadLetters?: DeadLetterRepository,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
    private readonly keep = 50,
  ) {}

  /** Raises an alert unless its kind is switched off or its condition is already active. */
  raise(input: AlertInput): ServiceAlert | undefined {
    const sw = SWITCHES[input.kind];
    if (sw && this.config[sw] === false) return undefined;
    const now = Date.now();
    if (input.key !== undefined) {
      const since = this.#active.get(input.key);
      const repeat = input.repeatAfterMs;
      if (since !== undefined && (repeat === undefined || now - since < repeat)) return undefined;
      this.#active.set(input.key, now);
    }
    const alert: ServiceAlert = {
      id: randomUUID(),
      kind: input.kind,
      severity: input.severity ?? DEFAULT_SEVERITY[input.kind],
      message: input.message,
      at: new Date(now).toISOString(),
      ...(input.member === undefined ? {} : { member: input.member }),
      ...(input.details === undefined ? {} : { details: input.details }),
    };
    this.log(`hsmkit: alert: ${alert.kind}: ${alert.message}`);
    this.#recent.unshift(alert);
    this.#recent.length = Math.min(this.#recent.length, this.keep);
    for (const fn of this.#listeners) fn(alert);
    for (const url of this.config.webhooks) this.#track(this.#deliver(url, alert));
    return alert;
  }

  /** Whether a condition key is active (raised and not resolved). */
  isActive(key: string): boolean {
    return this.#active.has(key);
  }

  /** Ends a condition: the next raise with this key alerts again. Returns whether it was active. */
  resolve(key: string): boolean {
    return this.#active.delete(key);
  }

  /** The newest alerts, newest first. */
  recent(): ServiceAlert[] {
    return [...this.#recent];
  }

  /** Calls `fn` on every alert raised; returns the unsubscribe function. */
  onAlert(fn: (a: ServiceAlert) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Waits for every delivery in flight (retries included). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Stops retrying (a delivery in its backoff gives up and is dead-lettered) and waits for the rest. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    await this.flush();
  }

  async #deliver(url: string, alert: ServiceAlert): Promise<void> {
    const result = await deliverWebhook(url, alert, this.config.retry, () => this.#closed);
    if (result.ok) return;
    this.log(
      `hsmkit: alert: webhook ${redactUrl(url)} failed after ${result.attempts} attempt(s) (${result.error}); dead-lettered ${alert.kind} ${alert.id}`,
    );
    await this.deadLetters?.add(alert, url, result.attempts, result.error).catch((err: unknown) => {
      this.log(`hsmkit: alert: cannot record the dead letter: ${(err as Error).message}`);
    });
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }
}
