import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from './canonical-json.js';

/** The plain definition: what canonicalJson must equal on every value (its earlier implementation). */
function reference(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => reference(v ?? null)).join(',')}]`;
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot encode ${typeof value}`);
}

const leaf = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.maxSafeInteger(),
  fc.string({ unit: 'binary' }),
  fc.uint8Array({ maxLength: 8 }),
);
const value = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('node'), { maxLength: 5 }),
  object: fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), tie('node'), { maxKeys: 6 }),
})).node;

describe('canonical JSON', () => {
  it('equals the plain definition on generated values (keys in any order, undefined, bytes, unicode)', () => {
    fc.assert(
      fc.property(value, (v) => {
        // Same text, or both refuse (a bare undefined is not JSON).
        const outcome = (f: (x: unknown) => string) => {
          try {
            return f(v);
          } catch (err) {
            return `refused: ${(err as Error).name}`;
          }
        };
        assert.equal(outcome(canonicalJson), outcome(reference));
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts keys by UTF-16 code units and leaves out undefined fields', () => {
    assert.equal(
      canonicalJson({ b: 1, a: [true, null], é: 'x', Z: undefined, '\u{1F600}': 2, '\uFFFF': 3 }),
      '{"a":[true,null],"b":1,"é":"x","😀":2,"\uFFFF":3}',
    );
    assert.equal(canonicalJson([undefined, 1]), '[null,1]');
  });

  it('refuses values it cannot encode', () => {
    assert.throws(() => canonicalJson(Number.NaN), TypeError);
    assert.throws(() => canonicalJson({ f: () => 1 }), TypeError);
    assert.throws(() => canonicalJson(10n), TypeError);
  });
});
