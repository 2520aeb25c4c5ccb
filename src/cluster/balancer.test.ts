import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BalancedMember, Balancer } from './balancer.js';

const m = (name: string, extra: Partial<BalancedMember> = {}): BalancedMember => ({
  name,
  inflight: 0,
  latencyMs: 1,
  degraded: false,
  ...extra,
});

describe('Balancer', () => {
  it('round robin rotates the first choice and keeps the rest as failover order', () => {
    const b = new Balancer('round_robin', 'active_active');
    const ms = [m('a'), m('b'), m('c')];
    const firsts = Array.from({ length: 6 }, () => b.order(ms)[0]!.name);
    assert.deepEqual(firsts, ['a', 'b', 'c', 'a', 'b', 'c']);
    assert.deepEqual(
      b
        .order(ms)
        .map((x) => x.name)
        .sort(),
      ['a', 'b', 'c'],
    );
  });

  it('least loaded prefers few in-flight operations and low latency', () => {
    const b = new Balancer('least_loaded', 'active_active');
    const ms = [m('busy', { inflight: 10 }), m('slow', { latencyMs: 50 }), m('idle')];
    assert.equal(b.order(ms)[0]!.name, 'idle');
    assert.equal(b.order(ms)[2]!.name, 'slow');
  });

  it('degraded members and remote sites go last', () => {
    const b = new Balancer('round_robin', 'active_active', 'eu');
    for (let i = 0; i < 5; i++) {
      const order = b.order([
        m('remote', { site: 'us' }),
        m('slow', { site: 'eu', degraded: true }),
        m('local', { site: 'eu' }),
      ]);
      assert.deepEqual(
        order.map((x) => x.name),
        ['local', 'slow', 'remote'],
      );
    }
  });

  it('active_standby keeps the configured order', () => {
    const b = new Balancer('round_robin', 'active_standby');
    for (let i = 0; i < 3; i++)
      assert.deepEqual(
        b.order([m('primary'), m('standby')]).map((x) => x.name),
        ['primary', 'standby'],
      );
  });
});
