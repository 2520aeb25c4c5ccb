import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../errors/index.js';
import { signEach } from './sign-each.js';

describe('signEach', () => {
  it('starts every item at once, answers in order, and fails items alone as HsmErrors', async () => {
    let started = 0;
    const results = await signEach(
      ['a', 'missing', 'b', 'bug'].map((key) => ({ key, digest: new Uint8Array(32) })),
      async (r) => {
        started++;
        await new Promise((res) => setTimeout(res, r.key === 'a' ? 20 : 1));
        assert.equal(started, 4, 'an item waited for the one before it');
        if (r.key === 'missing') throw new HsmError('HSM_ERR_KEY_NOT_FOUND', 'no key');
        if (r.key === 'bug') throw new TypeError('x is undefined');
        return Buffer.from(r.key);
      },
    );
    assert.deepEqual(
      results.map((r) => (r.ok ? Buffer.from(r.signature).toString() : r.error.code)),
      ['a', 'HSM_ERR_KEY_NOT_FOUND', 'b', 'HSM_ERR_INTERNAL'],
    );
    const bug = results[3]!;
    assert.ok(!bug.ok && bug.error.cause instanceof TypeError);
  });
});
