/**
 * Replication (issue 5): a key generated on one member survives that member's death; a member that
 * missed two key generations catches up when it rejoins; with every member down, requests wait in
 * the queue and complete when one returns, or get HSM_ERR_UNAVAILABLE past their deadline; key
 * generation never falls back to software.
 */
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { HsmError } from '../../../src/errors/index.js';
import { createTestCluster, type TestCluster } from '../../support/cluster.js';
import { countObjects } from '../../support/cluster-tools.js';

function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () =>
      cond() ? resolve() : Date.now() > end ? reject(new Error('timed out')) : setTimeout(tick, 20);
    tick();
  });
}

describe('replication, catch-up, queue, no software fallback', () => {
  let tc: TestCluster;
  before(async () => {
    tc = await createTestCluster(3, { failoverTimeoutMs: 5000 });
  });
  after(async () => {
    await tc?.cleanup();
  });

  it('a key survives the death of the member that generated it', async () => {
    const info = await tc.cluster.createKey({ label: 'survivor', type: 'ec-p384' });
    const origin = tc.cluster.members.findIndex((m) => m.inflight === 0 && info.replicas?.[0] === m.name);
    assert.ok(origin >= 0);
    tc.kill(origin);
    const data = Buffer.from('after the generator died');
    for (let i = 0; i < 20; i++) {
      const sig = await tc.cluster.sign({
        key: 'survivor',
        data,
        algorithm: { scheme: 'ecdsa', hash: 'sha384' },
      });
      assert.ok(verify('sha384', data, info.publicKeyPem, sig));
    }
    tc.revive(origin);
    await until(() => tc.cluster.members[origin]!.health !== 'down', 10_000);
  });

  it('a member that missed two key generations catches up when it rejoins', async () => {
    tc.kill(2);
    await until(() => tc.cluster.members[2]!.health === 'down', 5000);
    const a = await tc.cluster.createKey({ label: 'missed-1', type: 'ec-p256' });
    const b = await tc.cluster.createKey({ label: 'missed-2', type: 'rsa-2048' });
    assert.deepEqual(a.replicas?.sort(), ['node0', 'node1']);
    assert.deepEqual(b.replicas?.sort(), ['node0', 'node1']);
    tc.revive(2);
    await until(() => tc.cluster.members[2]!.health === 'up', 10_000);
    await tc.cluster.catchUp(tc.cluster.members[2]!);
    for (const [label, info] of [
      ['missed-1', a],
      ['missed-2', b],
    ] as const) {
      assert.equal(
        countObjects(tc.tokens[2]!, label),
        2,
        `${label} copied to node 2 (private and public object)`,
      );
      const data = Buffer.from(`signed on node 2 only: ${label}`);
      const sig = await tc.kms[2]!.sign({ key: label, data });
      assert.ok(
        verify('sha256', data, info.publicKeyPem, sig),
        `node 2's copy of ${label} signs like the original`,
      );
    }
  });

  it('all members down: 100 requests queue and all complete when one member returns', async () => {
    await tc.cluster.createKey({ label: 'queued', type: 'ec-p256' });
    for (const i of [0, 1, 2]) tc.kill(i);
    await until(() => tc.cluster.members.every((m) => m.health === 'down'), 5000);
    const pending = Array.from({ length: 100 }, (_, i) =>
      tc.cluster.sign({ key: 'queued', data: Buffer.from(`q${i}`) }),
    );
    await until(() => tc.cluster.queueDepth > 0, 2000);
    setTimeout(() => tc.revive(1), 300);
    const results = await Promise.allSettled(pending);
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(
      failed.length,
      0,
      `failed: ${failed.map((f) => String((f as PromiseRejectedResult).reason)).slice(0, 3)}`,
    );
    tc.revive(0);
    tc.revive(2);
    await until(() => tc.cluster.members.every((m) => m.health !== 'down'), 10_000);
  });

  it('past the deadline, each queued request gets HSM_ERR_UNAVAILABLE and nothing else; key generation fails and leaves no key anywhere', async () => {
    for (const i of [0, 1, 2]) tc.kill(i);
    await until(() => tc.cluster.members.every((m) => m.health === 'down'), 5000);
    const alerts: string[] = [];
    tc.cluster.on('alert', (a: { kind: string }) => alerts.push(a.kind));
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        tc.cluster.sign({ key: 'queued', data: Buffer.from(`late${i}`) }),
      ),
    );
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(
        HsmError.is((r as PromiseRejectedResult).reason, 'HSM_ERR_UNAVAILABLE'),
        String((r as PromiseRejectedResult).reason),
      );
    }
    assert.ok(alerts.includes('unavailable'), 'an alert fired');
    await assert.rejects(tc.cluster.createKey({ label: 'never-made', type: 'ec-p256' }), (err: unknown) =>
      HsmError.is(err, 'HSM_ERR_UNAVAILABLE'),
    );
    for (const i of [0, 1, 2]) tc.revive(i);
    await until(() => tc.cluster.members.every((m) => m.health !== 'down'), 10_000);
    for (const t of tc.tokens) assert.equal(countObjects(t, 'never-made'), 0, 'no key material anywhere');
  });
});
