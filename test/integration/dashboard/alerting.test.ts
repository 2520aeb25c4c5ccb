/**
 * Alerting over a real 3-node SoftHSM cluster: webhook receivers see a member-down alert when a
 * member is killed and a capacity alert when a member's key slots pass the threshold; delivery is
 * retried with backoff and dead-lettered in the store when every attempt fails.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AlertDispatcher } from '../../../src/alerting/alert-dispatcher.js';
import { DeadLetterRepository } from '../../../src/alerting/dead-letters.js';
import { backoffMs } from '../../../src/alerting/webhook.js';
import { Store } from '../../../src/store/store.js';
import {
  alertingConfig,
  type MonitorFixture,
  openMonitorFixture,
  startWebhookReceiver,
} from './monitor-fixture.js';

describe('alerting over a 3-node cluster', () => {
  let f: MonitorFixture;
  before(async () => {
    // capacity_limit_keys stands in for a token/profile limit: SoftHSM reports none.
    f = await openMonitorFixture({
      capacity_limit_keys: 5,
      capacity_threshold_percent: 80,
      evaluate_interval_ms: 60_000,
    });
  });
  after(async () => f?.close());

  it('a webhook receiver sees a capacity alert when a member’s key slots pass 80 % of the limit', async () => {
    const limit = 5;
    const used = async () => (await f.tc.kms[0]!.listKeys()).length;
    const capacityAlerts = () => f.webhook.received.filter((p) => p.alert.kind === 'capacity');
    let n = 0;
    while ((await used()) / limit < 0.8) {
      await f.monitoring.evaluator.evaluate();
      await f.monitoring.alerts.flush();
      assert.equal(
        capacityAlerts().length,
        0,
        `no capacity alert below the threshold (${await used()}/${limit})`,
      );
      await f.km.createKey({ label: `cap-${n++}`, type: 'ec-p256' });
    }
    await f.monitoring.evaluator.evaluate();
    const hit = await f.webhook.waitFor((p) => p.alert.kind === 'capacity' && p.alert.member === 'node0');
    assert.equal(hit.source, 'hsmkit');
    assert.equal(hit.alert.details?.limit, limit);
    assert.ok(Number(hit.alert.details?.percent) >= 80);
    assert.match(hit.alert.message, /node0 uses \d+ of 5 key slots/);
    // A lasting condition alerts once per member, not on every evaluation.
    await f.monitoring.alerts.flush();
    const before = capacityAlerts().length;
    assert.equal(new Set(capacityAlerts().map((p) => p.alert.member)).size, before);
    await f.monitoring.evaluator.evaluate();
    await f.monitoring.alerts.flush();
    assert.equal(capacityAlerts().length, before);
    assert.ok(f.logLines.some((l) => /^hsmkit: alert: capacity: HSM member node0 uses/.test(l)));
    // The dashboard's capacity table gets the same measurement.
    const row = f.monitoring.feed.snapshot().capacity.find((c) => c.member === 'node0');
    assert.equal(row?.limit, limit);
  });

  it('a webhook receiver sees a member-down alert when a member is killed, and member-up when it returns', async () => {
    const killedAt = Date.now();
    f.tc.kill(1);
    const down = await f.webhook.waitFor((p) => p.alert.kind === 'member-down' && p.alert.member === 'node1');
    assert.equal(down.alert.severity, 'critical');
    assert.match(down.alert.message, /node1 is down/);
    assert.ok(Date.now() - killedAt < 10_000);
    assert.ok(f.logLines.some((l) => l === 'hsmkit: alert: member-down: HSM member node1 is down'));
    // Signing still works on the other members; one alert per outage.
    await f.km.sign({ key: 'cap-0', data: new TextEncoder().encode('still serving') });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(f.webhook.received.filter((p) => p.alert.kind === 'member-down').length, 1);
    f.tc.revive(1);
    await f.webhook.waitFor((p) => p.alert.kind === 'member-up' && p.alert.member === 'node1', 20_000);
  });
});

describe('webhook delivery', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsmkit-alerting-'));
    store = await Store.openSqlite(join(dir, 'hsmkit.db'));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backoff is exponential and bounded', () => {
    const p = { attempts: 6, initialBackoffMs: 100, maxBackoffMs: 500, timeoutMs: 1000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => backoffMs(p, n)),
      [100, 200, 400, 500, 500],
    );
  });

  it('retries a failing webhook and delivers once it answers', async () => {
    const hook = await startWebhookReceiver(2);
    try {
      const cfg = alertingConfig({
        webhooks: [hook.url],
        retry: { attempts: 4, initial_backoff_ms: 20 },
      }).alerting;
      const d = new AlertDispatcher(cfg, new DeadLetterRepository(store.db), () => undefined);
      d.raise({ kind: 'unavailable', message: 'no member can serve' });
      await d.flush();
      assert.equal(hook.requests, 3);
      assert.equal(hook.received.length, 1);
      assert.equal(hook.received[0]!.alert.kind, 'unavailable');
      assert.deepEqual(await new DeadLetterRepository(store.db).list(), []);
    } finally {
      await hook.close();
    }
  });

  it('records a dead letter (URL redacted) and logs it when every attempt fails', async () => {
    const hook = await startWebhookReceiver(1_000);
    const lines: string[] = [];
    try {
      const cfg = alertingConfig({
        webhooks: [hook.url],
        retry: { attempts: 3, initial_backoff_ms: 10 },
      }).alerting;
      const d = new AlertDispatcher(cfg, new DeadLetterRepository(store.db), (l) => lines.push(l));
      const alert = d.raise({ kind: 'audit_failure', message: 'cannot append to the audit log' })!;
      await d.flush();
      assert.equal(hook.requests, 3, 'bounded: exactly `attempts` tries');
      const [dead] = await new DeadLetterRepository(store.db).list();
      assert.equal(dead?.alertId, alert.id);
      assert.equal(dead?.attempts, 3);
      assert.equal(dead?.lastError, 'HTTP 503');
      assert.ok(!dead?.target.includes('s3cret'), 'no query string (tokens) in the store');
      assert.ok(
        lines.some((l) => /webhook .* failed after 3 attempt\(s\).*dead-lettered audit_failure/.test(l)),
      );
      assert.ok(!lines.join('\n').includes('s3cret'), 'no tokens in the log');
    } finally {
      await hook.close();
    }
  });

  it('honours the rule switches and the condition keys', async () => {
    const cfg = alertingConfig({ member_down: false }).alerting;
    const d = new AlertDispatcher(cfg, undefined, () => undefined);
    assert.equal(d.raise({ kind: 'member-down', message: 'x', key: 'member-down:a' }), undefined);
    assert.ok(d.raise({ kind: 'capacity', message: 'c', key: 'capacity:a' }));
    assert.equal(d.raise({ kind: 'capacity', message: 'c', key: 'capacity:a' }), undefined);
    d.resolve('capacity:a');
    assert.ok(d.raise({ kind: 'capacity', message: 'c', key: 'capacity:a' }));
  });
});
