import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../errors/index.js';
import type { DrillResult } from './backup.js';
import { DrillScheduler } from './drill-schedule.js';

const result = (ok: boolean): DrillResult => ({
  ok,
  rtoMs: 10,
  measuredMs: 5,
  withinRto: true,
  restored: 1,
  verified: ok ? 1 : 0,
  notBackedUp: 0,
  scratch: 'drill',
});

describe('DrillScheduler', () => {
  it('runs on the timer, never overlaps, reports each result, stops', async () => {
    let fire: (() => void) | undefined;
    let cancelled = false;
    let release: (() => void) | undefined;
    let runs = 0;
    const seen: DrillResult[] = [];
    const s = new DrillScheduler({
      intervalMs: 60_000,
      rtoMs: 10,
      run: () => {
        runs++;
        return new Promise((r) => {
          release = () => r(result(true));
        });
      },
      onResult: (r) => seen.push(r),
      timer: {
        every: (ms, fn) => {
          assert.equal(ms, 60_000);
          fire = fn;
          return () => {
            cancelled = true;
          };
        },
      },
    });
    s.start();
    fire?.();
    assert.equal(await s.tick(), undefined, 'a tick while a drill runs is skipped');
    assert.equal(runs, 1);
    release?.();
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.length, 1);
    assert.equal(s.last?.ok, true);
    await s.stop();
    assert.equal(cancelled, true);
  });

  it('reports a throwing duty as a failed drill with its code', async () => {
    const seen: DrillResult[] = [];
    const s = new DrillScheduler({
      intervalMs: 1,
      rtoMs: 10,
      run: async () => {
        throw new HsmError('HSM_ERR_UNAVAILABLE', 'storage down');
      },
      onResult: (r) => seen.push(r),
      timer: { every: () => () => undefined },
    });
    const r = await s.tick();
    assert.equal(r?.ok, false);
    assert.equal(r?.error?.code, 'HSM_ERR_UNAVAILABLE');
    assert.deepEqual(seen, [r]);
  });
});
