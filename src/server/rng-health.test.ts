import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { APT_CUTOFF, checkRngSample, RCT_CUTOFF } from './rng-health.js';

describe('RNG health tests on a sample', () => {
  it('passes 200 samples of a good generator (node:crypto)', () => {
    for (let i = 0; i < 200; i++) {
      const r = checkRngSample(randomBytes(4096));
      assert.deepEqual(r.failed, [], JSON.stringify(r));
    }
  });

  it('a stuck generator (all zero) fails every test', () => {
    const r = checkRngSample(new Uint8Array(4096));
    assert.equal(r.ok, false);
    assert.deepEqual(r.failed, ['repetition_count', 'adaptive_proportion', 'monobit']);
  });

  it('a run of RCT_CUTOFF equal bytes in good data fails the repetition count test only', () => {
    const s = randomBytes(4096);
    s.fill(0xa5, 1000, 1000 + RCT_CUTOFF);
    s[999] = 0x00;
    s[1000 + RCT_CUTOFF] = 0x01;
    const r = checkRngSample(s);
    assert.deepEqual(r.failed, ['repetition_count']);
    assert.equal(r.longestRun, RCT_CUTOFF);
  });

  it('one value over-represented in a window (no long runs, balanced bits) fails adaptive proportion', () => {
    const s = randomBytes(4096);
    // 0x0f has four ones: the bit balance stays; spaced out, it never makes a run.
    for (let i = 0; i < 512; i += 4) s[i] = 0x0f;
    for (let i = 1; i < 512; i += 4) if (s[i] === 0x0f) s[i] = 0x10;
    const r = checkRngSample(s);
    assert.ok(r.maxProportion >= APT_CUTOFF);
    assert.deepEqual(r.failed, ['adaptive_proportion']);
  });

  it('a bit-biased generator (each byte one bit forced on) fails the monobit test', () => {
    const s = randomBytes(4096).map((b) => b | 0x01 | (b & 0x80 ? 0x02 : 0));
    assert.ok(checkRngSample(s).failed.includes('monobit'));
  });

  it('a sample shorter than one window is refused', () => {
    assert.throws(() => checkRngSample(new Uint8Array(100)), RangeError);
  });
});
