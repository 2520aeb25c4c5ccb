/**
 * Chaos test A (issue 5): 3 members, active-active round robin, 20,000 signatures from 16
 * concurrent callers over an EC P-256 and an RSA-2048 key. Node 0 dies at 30 %, node 1 at 60 %,
 * node 0 comes back at 80 %. Every request gets exactly one answer, every signature verifies,
 * failures are only retryable ones (counted), and failover time is measured.
 */
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { HsmError } from '../../../src/errors/index.js';
import { createTestCluster, type TestCluster } from '../../support/cluster.js';

const TOTAL = 20_000;
const CALLERS = 16;

function pct(sorted: number[], p: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe('chaos A: members die and return under load', () => {
  let tc: TestCluster;
  const pem: Record<string, string> = {};

  before(async () => {
    tc = await createTestCluster(3);
    for (const [label, type] of [
      ['chaos-p256', 'ec-p256'],
      ['chaos-rsa', 'rsa-2048'],
    ] as const) {
      const info = await tc.cluster.createKey({ label, type });
      assert.deepEqual(info.replicas?.sort(), ['node0', 'node1', 'node2']);
      pem[label] = info.publicKeyPem;
    }
  });

  after(async () => {
    await tc?.cleanup();
  });

  it('answers every request exactly once; all signatures verify; failover is fast', async () => {
    let issued = 0;
    let answered = 0;
    let ok = 0;
    const retryable = new Map<string, number>();
    const other: unknown[] = [];
    const answeredIds = new Set<number>();
    const inflight = new Map<number, number>();
    const kills: Array<{ at: number; inflightIds: Set<number>; recoveries: number[] }> = [];
    const events: string[] = [];
    tc.cluster.on('member-state', (e: { member: string; to: string }) => events.push(`${e.member}:${e.to}`));

    const onProgress = () => {
      const done = answered / TOTAL;
      if (kills.length === 0 && done >= 0.3) chaos(0);
      else if (kills.length === 1 && done >= 0.6) chaos(1);
      else if (kills.length === 2 && done >= 0.8 && !revived) {
        revived = true;
        tc.revive(0);
      }
    };
    let revived = false;
    const chaos = (node: number) => {
      kills.push({ at: performance.now(), inflightIds: new Set(inflight.keys()), recoveries: [] });
      tc.kill(node);
    };

    const caller = async () => {
      while (issued < TOTAL) {
        const id = issued++;
        const label = id % 2 === 0 ? 'chaos-p256' : 'chaos-rsa';
        const data = Buffer.from(`chaos message ${id}`);
        inflight.set(id, performance.now());
        try {
          const sig = await tc.cluster.sign({ key: label, data });
          assert.ok(verify('sha256', data, pem[label]!, sig), `signature ${id} does not verify`);
          ok++;
          for (const k of kills) if (k.inflightIds.has(id)) k.recoveries.push(performance.now() - k.at);
        } catch (err) {
          if (HsmError.is(err) && err.retryable) retryable.set(err.code, (retryable.get(err.code) ?? 0) + 1);
          else other.push(err);
        } finally {
          inflight.delete(id);
          assert.ok(!answeredIds.has(id), `request ${id} answered twice`);
          answeredIds.add(id);
          answered++;
          onProgress();
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CALLERS }, caller));
    const seconds = (performance.now() - started) / 1000;

    assert.equal(other.length, 0, `non-retryable failures: ${other.map(String).join('; ')}`);
    assert.equal(answered, TOTAL);
    assert.equal(answeredIds.size, TOTAL, 'no lost or duplicated responses');
    const failed = [...retryable.values()].reduce((a, b) => a + b, 0);
    assert.equal(ok + failed, TOTAL);
    assert.equal(kills.length, 2, 'both kills happened');
    const failover = kills.flatMap((k) => k.recoveries).sort((a, b) => a - b);
    assert.ok(failover.length > 0, 'some calls were in flight at a kill');
    const p50 = pct(failover, 50);
    const p99 = pct(failover, 99);
    // Reported, not asserted as a wall-clock goal (shared machine); 1 s is the outer bound.
    console.log(
      `chaos A: ${TOTAL} requests in ${seconds.toFixed(1)} s (${Math.round(TOTAL / seconds)}/s); ok ${ok}; retryable failures ${failed} ${JSON.stringify(Object.fromEntries(retryable))}; success ratio ${((ok / TOTAL) * 100).toFixed(3)} %; failovers ${tc.cluster.failovers}; failover time p50 ${p50.toFixed(1)} ms p99 ${p99.toFixed(1)} ms over ${failover.length} in-flight calls; states ${events.join(' ')}`,
    );
    assert.ok(events.includes('node0:down') && events.includes('node1:down'), 'both deaths were seen');
    // Node 0 was revived at 80 %; on a loaded machine the last 20 % can finish before the next
    // health check sees it, so give the health checks (every 200 ms here) a bounded while.
    for (let i = 0; i < 100 && !events.includes('node0:up'); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(events.includes('node0:up'), `node 0 came back: ${events.join(' ')}`);
  });
});
