import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../../errors/index.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, type RetryContext, withRetry } from './retry-policy.js';

const grpc = (code: number) => Object.assign(new Error(`status ${code}`), { code });

function ctx(idempotent: boolean, sleeps: number[]): RetryContext {
  return {
    policy: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 300, multiplier: 2 },
    what: 'test call',
    idempotent,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.999,
  };
}

/** A call that fails with `errors` in turn, then returns 'ok'. */
function failing(errors: unknown[]): { call: () => Promise<string>; count: () => number } {
  let n = 0;
  return {
    call: async () => {
      const e = errors[n++];
      if (e !== undefined) throw e;
      return 'ok';
    },
    count: () => n,
  };
}

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with full jitter below the ceiling', () => {
    const p = { maxAttempts: 9, initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((r) => backoffDelay(p, r, () => 0.5)),
      [50, 100, 200, 400, 500, 500],
    );
    assert.equal(
      backoffDelay(p, 3, () => 0),
      0,
    );
  });

  it('defaults to about 30 s of worst-case waiting over 6 attempts', () => {
    let total = 0;
    for (let r = 0; r < DEFAULT_RETRY_POLICY.maxAttempts - 1; r++)
      total += backoffDelay(DEFAULT_RETRY_POLICY, r, () => 1);
    assert.ok(total > 10_000 && total < 40_000, String(total));
  });
});

describe('withRetry', () => {
  it('retries RESOURCE_EXHAUSTED even for non-idempotent calls', async () => {
    const sleeps: number[] = [];
    const f = failing([grpc(8), grpc(8)]);
    assert.equal(await withRetry(f.call, ctx(false, sleeps)), 'ok');
    assert.equal(f.count(), 3);
    assert.deepEqual(sleeps, [99, 199]);
  });

  it('retries UNAVAILABLE only for idempotent calls', async () => {
    const a = failing([grpc(14)]);
    assert.equal(await withRetry(a.call, ctx(true, [])), 'ok');
    const b = failing([grpc(14)]);
    await assert.rejects(withRetry(b.call, ctx(false, [])), (e) => HsmError.is(e, 'HSM_ERR_UNAVAILABLE'));
    assert.equal(b.count(), 1);
  });

  it('gives up after maxAttempts with HSM_ERR_UNAVAILABLE carrying the attempt count', async () => {
    const f = failing(Array.from({ length: 10 }, () => grpc(8)));
    await assert.rejects(withRetry(f.call, ctx(true, [])), (e) => {
      assert.ok(HsmError.is(e, 'HSM_ERR_UNAVAILABLE'));
      assert.equal(e.details?.attempts, 4);
      return true;
    });
    assert.equal(f.count(), 4);
  });

  it('does not retry other failures, and maps them by status', async () => {
    for (const [status, code] of [
      [3, 'HSM_ERR_INVALID_INPUT'],
      [9, 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED'],
      [16, 'HSM_ERR_AUTH'],
    ] as const) {
      const f = failing([grpc(status)]);
      await assert.rejects(withRetry(f.call, ctx(true, [])), (e) => HsmError.is(e, code));
      assert.equal(f.count(), 1);
    }
  });
});
