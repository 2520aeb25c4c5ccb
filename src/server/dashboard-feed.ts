import type { ServerResponse } from 'node:http';
import type { ServiceAlert } from '../alerting/alert.js';
import type { AlertDispatcher } from '../alerting/alert-dispatcher.js';
import type { MemberCapacity } from '../alerting/alert-evaluator.js';
import type { AuditRecord } from '../audit/audit-record.js';
import type { ServiceMetrics } from './service-metrics.js';

/** One point of the throughput/latency charts. */
export interface Sample {
  /** ms since the epoch. */
  t: number;
  /** HSM operations finished per second over the last period. */
  opsPerSecond: number;
  /** Mean HSM latency over the last period, ms (0 without operations). */
  meanLatencyMs: number;
  queueDepth: number;
}

/** A recent audit record as the dashboard shows it (no parameters digest, no hashes). */
export interface AuditView {
  seq: number;
  timestamp: string;
  actor: string;
  operation: string;
  result: string;
  key?: string;
  member?: string;
}

/** Everything the page shows; sent whole on connect, then as events. */
export interface DashboardSnapshot {
  members: Record<string, string>;
  samples: Sample[];
  capacity: MemberCapacity[];
  alerts: ServiceAlert[];
  audit: AuditView[];
}

/** What the feed observes. */
export interface DashboardSources {
  memberStates(): Record<string, string>;
  onMemberState(fn: (member: string, state: string) => void): () => void;
  queueDepth(): number;
  metrics: ServiceMetrics;
  alerts: AlertDispatcher;
  capacity?: { capacity(): MemberCapacity[]; onCapacity(fn: (c: MemberCapacity[]) => void): () => void };
  audit?: {
    tip(): Promise<{ seq: number } | undefined>;
    list(r: { fromSeq: number }): Promise<AuditRecord[]>;
  };
}

const KEEP_SAMPLES = 120;
const KEEP_AUDIT = 25;

/**
 * The dashboard's live state and its Server-Sent Events stream. Member state changes are pushed
 * the moment the key manager reports them; throughput, latency, queue depth and new audit records
 * are sampled every `sampleMs`.
 */
export class DashboardFeed {
  readonly #clients = new Set<ServerResponse>();
  readonly #samples: Sample[] = [];
  #audit: AuditView[] = [];
  #auditSeq = 0;
  #last: { t: number; ops: number; sum: number; count: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  readonly #offs: Array<() => void> = [];

  constructor(
    private readonly src: DashboardSources,
    private readonly sampleMs = 1000,
  ) {}

  start(): void {
    if (this.#timer) return;
    this.#offs.push(
      this.src.onMemberState(() => this.#send('members', this.src.memberStates())),
      this.src.alerts.onAlert((a) => this.#send('alert', a)),
    );
    if (this.src.capacity) this.#offs.push(this.src.capacity.onCapacity((c) => this.#send('capacity', c)));
    void this.#tick();
    this.#timer = setInterval(() => void this.#tick(), this.sampleMs);
    this.#heartbeat = setInterval(() => this.#write(': keep-alive\n\n'), 15_000);
    this.#timer.unref();
    this.#heartbeat.unref();
  }

  /** Stops sampling and ends every open stream. */
  stop(): void {
    clearInterval(this.#timer);
    clearInterval(this.#heartbeat);
    this.#timer = undefined;
    for (const off of this.#offs.splice(0)) off();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  snapshot(): DashboardSnapshot {
    return {
      members: this.src.memberStates(),
      samples: [...this.#samples],
      capacity: this.src.capacity?.capacity() ?? [],
      alerts: this.src.alerts.recent(),
      audit: [...this.#audit],
    };
  }

  /**
   * Serves the SSE stream on `res`: a `snapshot` event (lists newest first), then `members`,
   * `sample`, `alert`, `capacity` and `audit` (new records, oldest first).
   */
  subscribe(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    res.write('retry: 1000\n\n');
    this.#clients.add(res);
    res.on('close', () => this.#clients.delete(res));
    res.write(event('snapshot', this.snapshot()));
  }

  get clients(): number {
    return this.#clients.size;
  }

  #send(type: string, data: unknown): void {
    this.#write(event(type, data));
  }

  #write(chunk: string): void {
    for (const res of this.#clients) res.write(chunk);
  }

  async #tick(): Promise<void> {
    try {
      const sample = await this.#sample();
      if (sample) {
        this.#samples.push(sample);
        if (this.#samples.length > KEEP_SAMPLES) this.#samples.shift();
        this.#send('sample', sample);
      }
      const fresh = await this.#newAudit();
      if (fresh.length > 0) this.#send('audit', fresh);
    } catch {
      // A failed sample (store busy) is skipped; the next tick tries again.
    }
  }

  async #sample(): Promise<Sample | undefined> {
    const t = Date.now();
    const ops = (await this.src.metrics.operations.get()).values.reduce((s, v) => s + v.value, 0);
    let sum = 0;
    let count = 0;
    for (const v of (await this.src.metrics.operationSeconds.get()).values) {
      if (v.metricName?.endsWith('_sum')) sum += v.value;
      else if (v.metricName?.endsWith('_count')) count += v.value;
    }
    const last = this.#last;
    this.#last = { t, ops, sum, count };
    if (!last) return undefined;
    const seconds = Math.max((t - last.t) / 1000, 0.001);
    const n = count - last.count;
    return {
      t,
      opsPerSecond: Math.round(((ops - last.ops) / seconds) * 100) / 100,
      meanLatencyMs: n > 0 ? Math.round(((sum - last.sum) / n) * 1e5) / 100 : 0,
      queueDepth: this.src.queueDepth(),
    };
  }

  async #newAudit(): Promise<AuditView[]> {
    const audit = this.src.audit;
    if (!audit) return [];
    // Only the newest KEEP_AUDIT records are shown: read from there, not every record since the
    // last tick (under load that was thousands of rows a second, read and built on the event loop).
    const tip = (await audit.tip())?.seq ?? 0;
    if (tip <= this.#auditSeq) return [];
    const rows = await audit.list({ fromSeq: Math.max(this.#auditSeq + 1, tip - KEEP_AUDIT + 1) });
    if (rows.length === 0) return [];
    this.#auditSeq = rows.at(-1)!.seq;
    const views = rows.slice(-KEEP_AUDIT).map(view);
    this.#audit = [...views].reverse().concat(this.#audit).slice(0, KEEP_AUDIT);
    return views;
  }
}

function view(r: AuditRecord): AuditView {
  return {
    seq: r.seq,
    timestamp: r.timestamp,
    actor: r.actor,
    operation: r.operation,
    result: r.result,
    ...(r.keyUri === undefined ? {} : { key: r.keyUri }),
    ...(r.member === undefined ? {} : { member: r.member }),
  };
}

function event(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}
