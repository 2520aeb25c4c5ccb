import type { Kysely } from 'kysely';
import { AlertDispatcher } from '../alerting/alert-dispatcher.js';
import { AlertEvaluator } from '../alerting/alert-evaluator.js';
import type { AlertRelay } from '../alerting/alert-relay.js';
import { DeadLetterRepository } from '../alerting/dead-letters.js';
import type { AlertingConfig } from '../config/schema.js';
import { AuditLogRepository } from '../store/audit-log-repository.js';
import { KeyMetadataRepository } from '../store/key-metadata.js';
import type { Database } from '../store/schema.js';
import { DashboardFeed } from './dashboard-feed.js';
import type { ServiceMetrics } from './service-metrics.js';

/** What monitoring observes of the key manager (the composition root's ServiceHooks provide it). */
export interface MonitorSource {
  memberStates(): Record<string, string>;
  onMemberState(fn: (member: string, state: string) => void): () => void;
  queueDepth(): number;
  /** The cluster's `alert` events (replication, unavailable, member-down); absent for one member. */
  onClusterAlert?(fn: (a: { kind: string; message: string }) => void): () => void;
  /** Key objects per reachable member. */
  memberKeyCounts?(): Promise<Record<string, number>>;
}

/** The service's alerting and dashboard, started together. */
export interface Monitoring {
  alerts: AlertDispatcher;
  evaluator: AlertEvaluator;
  feed: DashboardFeed;
  deadLetters?: DeadLetterRepository;
  close(): Promise<void>;
}

/** States that count as a member being down (anything but up and degraded). */
const isDown = (state: string) => state !== 'up' && state !== 'degraded';

/**
 * Starts alerting (member state, cluster alerts, governance alerts through `relay`, and the periodic
 * capacity, latency and expiry rules) and the dashboard feed. `db` gives dead letters, recent audit
 * records and key expiry; without it those parts are off.
 */
export function startMonitoring(o: {
  source: MonitorSource;
  config: AlertingConfig;
  metrics: ServiceMetrics;
  db?: Kysely<Database>;
  relay?: AlertRelay;
  log?: (line: string) => void;
  sampleMs?: number;
}): Monitoring {
  const deadLetters = o.db ? new DeadLetterRepository(o.db) : undefined;
  const alerts = new AlertDispatcher(o.config, deadLetters, o.log);
  const offs: Array<() => void> = [];

  const onState = (member: string, state: string) => {
    const key = `member-down:${member}`;
    if (isDown(state)) {
      alerts.raise({
        kind: 'member-down',
        key,
        member,
        message: `HSM member ${member} is ${state === 'down' ? 'down' : `down (${state})`}`,
        details: { state },
      });
    } else if (alerts.resolve(key)) {
      alerts.raise({ kind: 'member-up', member, message: `HSM member ${member} is ${state} again` });
    }
  };
  for (const [member, state] of Object.entries(o.source.memberStates())) onState(member, state);
  offs.push(o.source.onMemberState(onState));
  if (o.source.onClusterAlert) {
    offs.push(
      o.source.onClusterAlert((a) => {
        // member-down comes from the state change itself (with the member named).
        if (a.kind === 'member-down') return;
        if (a.kind === 'unavailable')
          alerts.raise({
            kind: 'unavailable',
            key: 'unavailable',
            repeatAfterMs: 60_000,
            message: a.message,
          });
        else if (a.kind === 'replication')
          alerts.raise({
            kind: 'replication',
            key: `replication:${a.message}`,
            repeatAfterMs: 300_000,
            message: a.message,
          });
      }),
    );
  }
  if (o.relay) {
    offs.push(
      o.relay.attach({
        raise: (a) =>
          alerts.raise({
            kind: a.kind,
            message: a.message,
            ...(a.kind === 'policy_violation' ? {} : { key: a.kind, repeatAfterMs: 60_000 }),
            details: Object.fromEntries(
              Object.entries({
                rule: a.rule,
                operation: a.operation,
                actor: a.actor,
                correlationId: a.correlationId,
              }).filter((e): e is [string, string] => e[1] !== undefined),
            ),
          }),
      }),
    );
  }

  const keys = o.db ? new KeyMetadataRepository(o.db) : undefined;
  const evaluator = new AlertEvaluator(o.config, alerts, {
    ...(o.source.memberKeyCounts ? { memberKeyCounts: () => o.source.memberKeyCounts!() } : {}),
    latencyTotals: async () => {
      let sum = 0;
      let count = 0;
      for (const v of (await o.metrics.operationSeconds.get()).values) {
        if (v.metricName?.endsWith('_sum')) sum += v.value;
        else if (v.metricName?.endsWith('_count')) count += v.value;
      }
      return { sum, count };
    },
    ...(keys ? { expiringKeys: () => keys.list() } : {}),
  });
  evaluator.start();

  const feed = new DashboardFeed(
    {
      memberStates: () => o.source.memberStates(),
      onMemberState: (fn) => o.source.onMemberState(fn),
      queueDepth: () => o.source.queueDepth(),
      metrics: o.metrics,
      alerts,
      capacity: evaluator,
      ...(o.db ? { audit: new AuditLogRepository(o.db) } : {}),
    },
    o.sampleMs,
  );
  feed.start();

  return {
    alerts,
    evaluator,
    feed,
    ...(deadLetters ? { deadLetters } : {}),
    close: async () => {
      feed.stop();
      await evaluator.stop();
      for (const off of offs.splice(0)) off();
      await alerts.close();
    },
  };
}
