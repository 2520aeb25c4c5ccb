/**
 * Fuzz: the Key Generation Request JSON (`hsmkit key generate --request FILE`, `parseKeyRequest`).
 * Any text gives a CreateKeyRequest or a typed refusal (HSM_ERR_INVALID_INPUT, or HSM_ERR_KEY_SIZE
 * for an RSA size hsmkit does not offer); prototype keys never reach the request or Object.prototype.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseKeyRequest } from '../../src/cli/key-request.js';
import {
  assertPrototypeClean,
  Bounds,
  checkCorpus,
  describeInput,
  fuzzParams,
  HUGE_INPUT_LIMITS,
  hugeString,
  PROTOTYPE_KEYS,
  typedOutcome,
} from './support/harness.js';

const CODES = ['HSM_ERR_INVALID_INPUT', 'HSM_ERR_KEY_SIZE'] as const;

function parse(text: string) {
  const out = typedOutcome(
    () => parseKeyRequest(text),
    CODES,
    () => describeInput(text),
  );
  if (out.ok) {
    const json = JSON.stringify(out.value);
    assert.ok(
      !/"(__proto__|constructor|prototype)"/.test(json),
      `a prototype key reached the request: ${json}`,
    );
    for (const obj of [
      out.value,
      out.value.metadata,
      out.value.metadata?.tags,
      out.value.usage,
      out.value.protection,
    ]) {
      if (obj !== undefined) assert.equal(Object.getPrototypeOf(obj), Object.prototype);
    }
  }
  return out;
}

const keyTypes = fc.oneof(
  fc.constantFrom(
    'RSA',
    'EC',
    'ECDSA',
    'rsa-4096',
    'ec-p384',
    'ed25519',
    'ml-dsa-65',
    'EdDSA',
    'ml-kem',
    'x25519',
  ),
  fc.constantFrom(...PROTOTYPE_KEYS, 'valueOf', '__defineGetter__', 'isPrototypeOf'),
  fc.string({ maxLength: 12 }),
);
const sizes = fc.oneof(
  fc.constantFrom(
    2048,
    3072,
    4096,
    8192,
    1024,
    0,
    -1,
    Number.POSITIVE_INFINITY,
    2 ** 53,
    2048.5,
    'P-256',
    'p384',
    '25519',
    '65',
    'constructor',
    '__proto__',
  ),
  fc.integer(),
  fc.string({ maxLength: 6 }),
);
const anyValue = fc.jsonValue({ maxDepth: 2 });
const hostileObject = fc.dictionary(
  fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 6 })),
  anyValue,
  { maxKeys: 4 },
);

/** Requests built from plausible and hostile parts, serialised with prototype keys kept as own keys. */
const request = fc
  .record(
    {
      label: fc.oneof(fc.string({ maxLength: 20 }), anyValue),
      key_type: fc.oneof({ weight: 5, arbitrary: keyTypes }, { weight: 1, arbitrary: anyValue }),
      key_size: sizes,
      curve: sizes,
      attributes: fc.oneof(
        fc.record(
          { sign: fc.boolean(), extractable: fc.boolean(), sensitive: fc.boolean() },
          { requiredKeys: [] },
        ),
        hostileObject,
      ),
      metadata: fc.oneof(
        fc.record(
          {
            purpose: fc.string({ maxLength: 10 }),
            tags: fc.oneof(
              fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })),
              hostileObject,
            ),
          },
          { requiredKeys: [] },
        ),
        hostileObject,
      ),
      extra: hostileObject,
    },
    { requiredKeys: [] },
  )
  .map(({ extra, ...r }) => {
    // JSON text with own __proto__ keys (JSON.parse keeps them as own properties).
    const parts = Object.entries({ ...r }).map(
      ([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`,
    );
    for (const [k, v] of Object.entries(extra ?? {}))
      parts.push(`${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`);
    return `{${parts.join(',')}}`;
  });

describe('fuzz: key-generation request JSON', () => {
  it('committed corpus: valid seeds parse, every malformed file is refused with a typed error', async () => {
    await checkCorpus('key-request', (file) => parse(file.bytes.toString('utf8')).ok);
    assertPrototypeClean();
  });

  it('structured requests with hostile types, sizes and prototype keys: a request or a typed refusal', () => {
    const bounds = new Bounds('parseKeyRequest(structured)');
    fc.assert(
      fc.property(request, (text) => {
        bounds.run(() => parse(text));
        assertPrototypeClean();
      }),
      fuzzParams(),
    );
    bounds.finish();
  });

  it('arbitrary text and JSON values: a request or a typed refusal', () => {
    const bounds = new Bounds('parseKeyRequest(text)');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 120 }),
          fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? ''),
        ),
        (text) => {
          bounds.run(() => parse(text));
        },
      ),
      fuzzParams(),
    );
    bounds.finish();
    assertPrototypeClean();
  });

  it('10 MB strings, deep nesting and huge numbers: bounded time and memory', () => {
    const big = hugeString();
    const stats: unknown[] = [];
    for (const text of [
      JSON.stringify({ label: big, key_type: 'ec-p256' }),
      JSON.stringify({ label: 'a', key_type: big }),
      JSON.stringify({ label: 'a', key_type: 'ec-p256', metadata: { tags: { t: big } } }),
      JSON.stringify({ label: 'a', key_type: 'ec-p256', metadata: { owner: big } }),
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      `{"label":"a","key_type":"RSA","key_size":1${'0'.repeat(100_000)}}`,
    ]) {
      const bounds = new Bounds('parseKeyRequest(huge)', HUGE_INPUT_LIMITS);
      bounds.run(() => parse(text));
      stats.push(bounds.finish());
    }
    console.log('parseKeyRequest(huge inputs)', JSON.stringify(stats));
  });
});
