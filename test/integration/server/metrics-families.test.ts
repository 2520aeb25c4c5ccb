/**
 * The per-member metric families on a two-member SoftHSM cluster opened by the CLI's composition
 * root (as `hsmkit serve` does): session pools, breaker states, key slots and RNG health, through
 * the strict text-format parser. Values are checked against facts read independently: pool bounds
 * from the configuration, object counts from pkcs11-tool, breaker state moving when a member host
 * is killed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { type CliContext, openContext } from '../../../src/cli/context.js';
import { attachMemberMetrics, type MemberMetrics } from '../../../src/server/member-metrics.js';
import { ServiceMetrics } from '../../../src/server/service-metrics.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { pkcs11Tool } from '../../support/tools.js';
import { parsePrometheus } from './prometheus-text.js';

const POOL = 3;

describe('per-member metric families on a two-member cluster', () => {
  let dir: string;
  let tokens: SoftHsmToken[];
  let ctx: CliContext;
  let metrics: ServiceMetrics;
  let mm: MemberMetrics;

  const scrape = async () => parsePrometheus((await metrics.render()).body);
  const value = (samples: ReturnType<typeof parsePrometheus>['samples'], name: string, member: string) =>
    samples.find((s) => s.name === name && s.labels.member === member)?.value;

  /** The gauge read straight from the registry (a tight polling loop; the text format is tested above). */
  const breaker = async (member: string) =>
    (await metrics.registry.getSingleMetric('hsmkit_breaker_state')!.get()).values.find(
      (v) => v.labels.member === member,
    )?.value;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsmkit-metrics-families-'));
    tokens = [createSoftHsmToken('mf-node0'), createSoftHsmToken('mf-node1')];
    const members = tokens.map((t, i) => {
      writeFileSync(join(dir, `user-pin-${i}`), t.userPin, { mode: 0o600 });
      return { name: `node${i}`, token_label: t.label, pin_file: `user-pin-${i}`, env: t.env };
    });
    const config = join(dir, 'hsmkit.yaml');
    writeFileSync(
      config,
      stringify({
        hsm_configuration: {
          provider: 'softhsm2',
          connection: { type: 'local', module: SOFTHSM_MODULE, members },
          performance: { connection_pool_size: POOL, operation_timeout_ms: 3000 },
          high_availability: { health_interval_ms: 200, sla_ms: 5000, breaker: { failure_threshold: 1 } },
        },
        store: { driver: 'sqlite', path: join(dir, 'hsmkit.db') },
      }),
      { mode: 0o600 },
    );
    ctx = await openContext({ config });
    metrics = new ServiceMetrics();
    mm = attachMemberMetrics(metrics, () => ctx.service.memberProbes(), {
      rngIntervalMs: 3_600_000,
      cacheMs: 0,
    });
    await mm.checkRng();
    // prom-client prints the event-loop lag as "Nan" until its first sample; let it take one.
    await new Promise((r) => setTimeout(r, 300));
  });
  after(async () => {
    mm?.stop();
    await ctx?.close();
    for (const t of tokens ?? []) t.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every family is declared with its type, and each member has a session pool, key slots and an RNG verdict', async () => {
    const { types, samples } = await scrape();
    const expected: Array<[string, string]> = [
      ['hsmkit_session_pool_in_use', 'gauge'],
      ['hsmkit_session_pool_idle', 'gauge'],
      ['hsmkit_session_pool_max', 'gauge'],
      ['hsmkit_breaker_state', 'gauge'],
      ['hsmkit_key_slots_used', 'gauge'],
      ['hsmkit_key_slots_capacity', 'gauge'],
      ['hsmkit_rng_health_ok', 'gauge'],
      ['hsmkit_rng_health_failures_total', 'counter'],
      ['hsmkit_rng_health_checks_total', 'counter'],
      ['hsmkit_security_events_total', 'counter'],
    ];
    for (const [name, type] of expected) assert.equal(types.get(name), type, name);
    for (const member of ['node0', 'node1']) {
      // The pool bound is the configured size per host (SoftHSM reports no session limit).
      assert.equal(value(samples, 'hsmkit_session_pool_max', member), POOL, `${member} pool max`);
      const inUse = value(samples, 'hsmkit_session_pool_in_use', member)!;
      const idle = value(samples, 'hsmkit_session_pool_idle', member)!;
      assert.ok(inUse >= 0 && idle >= 1 && inUse + idle <= POOL, `${member}: ${inUse} in use, ${idle} idle`);
      assert.equal(value(samples, 'hsmkit_breaker_state', member), 0, `${member} breaker closed`);
      assert.equal(value(samples, 'hsmkit_rng_health_ok', member), 1, `${member} RNG healthy`);
      assert.equal(value(samples, 'hsmkit_rng_health_checks_total', member), 1);
      // SoftHSM reports no object limit and its profile gives none: the capacity series is absent.
      assert.equal(value(samples, 'hsmkit_key_slots_capacity', member), undefined);
    }
    assert.ok(!samples.some((s) => s.name === 'hsmkit_rng_health_failures_total' && s.value > 0));
  });

  it('key slots used is the object count pkcs11-tool lists on each token', async () => {
    await ctx.km.createKey({ label: 'mf-a', type: 'ec-p256' });
    const { samples } = await scrape();
    for (const [i, t] of tokens.entries()) {
      const listed = pkcs11Tool(t, ['--list-objects']);
      assert.equal(listed.status, 0, listed.stderr);
      const count = (listed.stdout.match(/^\S.* Object;/gm) ?? []).length;
      assert.ok(count >= 2, `pkcs11-tool lists ${count} objects on node${i}`);
      assert.equal(value(samples, 'hsmkit_key_slots_used', `node${i}`), count, `node${i}: ${listed.stdout}`);
    }
  });

  it('a killed member host opens its breaker: hsmkit_breaker_state goes to 2 (or 1 probing), and back to 0', async () => {
    const cluster = ctx.service.memberProbes();
    const victim = cluster.find((p) => p.member === 'node1')!;
    const pids = (victim.km as { member: { hostPids: number[] } }).member.hostPids;
    assert.ok(pids.length >= 1);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    let seen: number | undefined;
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      seen = await breaker('node1');
      if (seen !== undefined && seen > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(seen === 1 || seen === 2, `breaker state of node1: ${seen}`);
    let back: number | undefined;
    const again = Date.now() + 20_000;
    while (Date.now() < again) {
      back = await breaker('node1');
      if (back === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(back, 0, 'the breaker closed again after the host was respawned');
    assert.equal(await breaker('node0'), 0);
  });
});
