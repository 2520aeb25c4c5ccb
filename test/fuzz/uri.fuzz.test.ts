/**
 * Fuzz: RFC 7512 PKCS#11 URIs (`parsePkcs11Uri`, `parsePkcs11UriWithPin`). Any text either parses
 * (and its canonical form parses back to the same URI) or is HSM_ERR_INVALID_URI; a pin-value never
 * shows in an error; 10 MB inputs are refused in bounded time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatPkcs11Uri, parsePkcs11Uri, parsePkcs11UriWithPin } from '../../src/uri/index.js';
import {
  assertPrototypeClean,
  Bounds,
  checkCorpus,
  describeInput,
  fuzzParams,
  hugeString,
  PROTOTYPE_KEYS,
  typedOutcome,
} from './support/harness.js';

const CODES = ['HSM_ERR_INVALID_URI'] as const;
/** A marker standing in for a PIN; it must never appear in any error message. */
const PIN = 'Zq7PINMARKER';

const names = [
  'token',
  'object',
  'id',
  'type',
  'slot-id',
  'library-version',
  'manufacturer',
  'serial',
  'model',
  'module-path',
  'module-name',
  'pin-source',
  'pin-value',
  'x-vendor',
  'x-__proto__',
  ...PROTOTYPE_KEYS,
];
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...names) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(';', '?', '&', '=', '%', '%00', '%FF', '%C3%28', '%ED%A0%80', '%2', '/', ':'),
  },
  { weight: 3, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom('private', 'cert', '1.2', '18446744073709551616') },
  { weight: 1, arbitrary: fc.constantFrom(`?pin-value=${PIN}`, `&pin-value=${PIN}`, `?pin-value=${PIN}&`) },
);
const uriText = fc.oneof(
  { weight: 5, arbitrary: fc.array(piece, { maxLength: 24 }).map((p) => `pkcs11:${p.join('')}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }) },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ maxLength: 40 })
      .map((b) => `pkcs11:object=${Buffer.from(b).toString('latin1')}`),
  },
);

/** True when the marker appears once, as the whole value of a pin-value query attribute. */
function pinIsPinValue(text: string): boolean {
  return text.split(PIN).length === 2 && new RegExp(`[?&]pin-value=${PIN}(&|$)`).test(text);
}

function check(text: string, withPin: boolean): void {
  const out = typedOutcome(
    () => (withPin ? parsePkcs11UriWithPin(text) : { uri: parsePkcs11Uri(text) }),
    CODES,
    () => describeInput(text),
  );
  if (!out.ok) {
    if (pinIsPinValue(text)) {
      assert.ok(
        !out.error.message.includes(PIN),
        `the error message shows the pin-value: ${out.error.message}`,
      );
      assert.ok(!JSON.stringify(out.error.toJSON()).includes(PIN));
    }
    return;
  }
  const { uri } = out.value;
  const canonical = formatPkcs11Uri(uri);
  assert.deepEqual(parsePkcs11Uri(canonical), uri, `canonical form ${canonical} of ${describeInput(text)}`);
  if ('pinValue' in out.value && out.value.pinValue !== undefined) {
    assert.ok(!canonical.includes('pin-value'), 'a pin-value reached the canonical form');
    assert.ok(
      !JSON.stringify(uri).includes(out.value.pinValue) || !pinIsPinValue(text),
      'the pin-value is kept on the Pkcs11Uri',
    );
  }
}

describe('fuzz: PKCS#11 URIs', () => {
  it('committed corpus: valid seeds parse, every malformed file is HSM_ERR_INVALID_URI', async () => {
    await checkCorpus(
      'uri',
      (file) =>
        typedOutcome(
          () => parsePkcs11Uri(file.bytes.toString('utf8')),
          CODES,
          () => file.name,
        ).ok,
    );
    assertPrototypeClean();
  });

  for (const withPin of [false, true]) {
    it(`grammar-biased and binary text (${withPin ? 'parsePkcs11UriWithPin' : 'parsePkcs11Uri'}): a round-tripping URI or HSM_ERR_INVALID_URI`, () => {
      const bounds = new Bounds(`uri(${withPin})`);
      fc.assert(
        fc.property(uriText, (text) => bounds.run(() => check(text, withPin))),
        fuzzParams(),
      );
      bounds.finish();
      assertPrototypeClean();
    });
  }

  it('10 MB strings (plain, percent-encoded, attribute soup) are refused in bounded time', () => {
    const bounds = new Bounds('uri(10 MB)');
    for (const text of [
      hugeString(),
      `pkcs11:object=${hugeString()}`,
      `pkcs11:object=${hugeString(10 * 1024 * 1024, '%41')}`,
      `pkcs11:${hugeString(10 * 1024 * 1024, 'x-a=1;')}`,
      `pkcs11:object=a?pin-value=${hugeString()}`,
    ]) {
      const out = bounds.run(() =>
        typedOutcome(
          () => parsePkcs11UriWithPin(text),
          CODES,
          () => describeInput(text),
        ),
      );
      assert.equal(out.ok, false);
    }
    bounds.finish();
  });
});
