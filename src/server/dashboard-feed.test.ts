import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertDispatcher } from '../alerting/alert-dispatcher.js';
import type { AuditRecord } from '../audit/audit-record.js';
import { DashboardFeed } from './dashboard-feed.js';
import { ServiceMetrics } from './service-metrics.js';

/** A narrow fake of the feed's audit source: `n` records, and the ranges the feed asked for. */
function auditSource(n: number) {
  const asked: number[] = [];
  const record = (seq: number) =>
    ({
      seq,
      timestamp: new Date(0).toISOString(),
      actor: 'a',
      operation: 'key.sign',
      result: 'ok',
    }) as AuditRecord;
  const source = {
    count: n,
    asked,
    tip: async () => (source.count === 0 ? undefined : { seq: source.count }),
    list: async (r: { fromSeq: number }) => {
      asked.push(r.fromSeq);
      return Array.from({ length: Math.max(0, source.count - r.fromSeq + 1) }, (_, i) =>
        record(r.fromSeq + i),
      );
    },
  };
  return source;
}

const alerting = {
  webhooks: [],
  memberDown: true,
  unavailable: true,
  replicationFailures: true,
  auditFailures: true,
  capacityThresholdPercent: 80,
  keyExpiryDays: 0,
  evaluateIntervalMs: 60_000,
  retry: { attempts: 1, initialBackoffMs: 1, maxBackoffMs: 1, timeoutMs: 1 },
};

describe('dashboard feed: recent audit records', () => {
  it('reads only the newest 25 records, however many were written since the last sample', async () => {
    const audit = auditSource(10_000);
    const feed = new DashboardFeed(
      {
        memberStates: () => ({}),
        onMemberState: () => () => undefined,
        queueDepth: () => 0,
        metrics: new ServiceMetrics(),
        alerts: new AlertDispatcher(alerting, undefined, () => undefined),
        audit,
      },
      10,
    );
    feed.start();
    try {
      const until = async (cond: () => boolean) => {
        for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
        assert.ok(cond());
      };
      await until(() => feed.snapshot().audit.length === 25);
      assert.deepEqual(audit.asked, [9_976]);
      assert.equal(feed.snapshot().audit[0]!.seq, 10_000);
      // 5,000 more records: again only the newest 25 are read; nothing new, nothing read.
      audit.count = 15_000;
      await until(() => feed.snapshot().audit[0]!.seq === 15_000);
      assert.equal(audit.asked.at(-1), 14_976);
      const reads = audit.asked.length;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(audit.asked.length, reads);
      // A few new records: read from the one after the last shown.
      audit.count = 15_003;
      await until(() => feed.snapshot().audit[0]!.seq === 15_003);
      assert.equal(audit.asked.at(-1), 15_001);
      assert.deepEqual(
        feed
          .snapshot()
          .audit.slice(0, 4)
          .map((a) => a.seq),
        [15_003, 15_002, 15_001, 15_000],
      );
    } finally {
      feed.stop();
    }
  });
});
