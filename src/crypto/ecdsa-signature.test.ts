import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ErrorCode, HsmError } from '../errors/index.js';
import { CURVES } from './curves.js';
import { ecdsaDerToRaw, ecdsaRawToDer } from './ecdsa-signature.js';

function throwsCode(fn: () => unknown, code: ErrorCode, name?: string): void {
  assert.throws(fn, (err: unknown) => err instanceof HsmError && err.code === code, name);
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const CASES = [
  { curve: 'P-256', hash: 'sha256', min: 500, max: 20000 },
  { curve: 'P-384', hash: 'sha384', min: 100, max: 100 },
  { curve: 'P-521', hash: 'sha512', min: 100, max: 100 },
] as const;

describe('ecdsaRawToDer / ecdsaDerToRaw against node:crypto', () => {
  for (const { curve, hash, min, max } of CASES) {
    it(`${curve}: raw -> DER verifies, DER -> raw verifies, both round-trip`, () => {
      const fb = CURVES[curve].fieldBytes;
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      // Keep signing until the awkward encodings have all shown up: r/s with the high bit set (DER needs a
      // 0x00 pad) and r/s with a leading zero byte (DER is shorter than the field). P-521 always has both.
      const seen = { rHigh: 0, sHigh: 0, rZero: 0, sZero: 0 };
      let n = 0;
      for (; n < max && (n < min || Object.values(seen).some((c) => c === 0)); n++) {
        const data = randomBytes(16);
        const raw = Uint8Array.from(sign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
        assert.equal(raw.length, 2 * fb);
        const r0 = raw[0] ?? 0;
        const s0 = raw[fb] ?? 0;
        if (r0 & 0x80) seen.rHigh++;
        if (s0 & 0x80) seen.sHigh++;
        if (r0 === 0) seen.rZero++;
        if (s0 === 0) seen.sZero++;

        const der = ecdsaRawToDer(raw);
        assert.ok(verify(hash, data, { key: publicKey, dsaEncoding: 'der' }, der), `DER verify #${n}`);
        assert.deepEqual(ecdsaDerToRaw(der, fb), raw);

        const nodeDer = Uint8Array.from(sign(hash, data, { key: privateKey, dsaEncoding: 'der' }));
        const back = ecdsaDerToRaw(nodeDer, fb);
        assert.ok(
          verify(hash, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, back),
          `raw verify #${n}`,
        );
        assert.deepEqual(ecdsaRawToDer(back), nodeDer);
      }
      if (curve === 'P-256')
        assert.ok(
          Object.values(seen).every((c) => c > 0),
          JSON.stringify(seen),
        );
    });
  }
});

describe('ecdsaRawToDer encodings', () => {
  it('pads high-bit values and strips leading zeros (constructed values)', () => {
    const r = hex(`80${'11'.repeat(31)}`);
    const s = hex(`0000007f${'22'.repeat(28)}`);
    const der = ecdsaRawToDer(Uint8Array.from([...r, ...s]));
    assert.equal(toHex(der), `3042 0221 0080${'11'.repeat(31)} 021d 7f${'22'.repeat(28)}`.replace(/\s/g, ''));
    assert.deepEqual(ecdsaDerToRaw(der, 32), Uint8Array.from([...r, ...s]));
  });

  it('handles the smallest values and long-form lengths', () => {
    const raw = new Uint8Array(132);
    raw[65] = 1;
    raw[131] = 0x80;
    assert.equal(toHex(ecdsaRawToDer(raw)), '300702010102020080');
    const big = new Uint8Array(132).fill(0xff);
    const der = ecdsaRawToDer(big);
    assert.equal(toHex(der.subarray(0, 6)), '30818a024300');
    assert.deepEqual(ecdsaDerToRaw(der, 66), big);
  });

  it('rejects raw signatures that cannot be r||s', () => {
    throwsCode(() => ecdsaRawToDer(new Uint8Array()), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => ecdsaRawToDer(new Uint8Array(63).fill(1)), 'HSM_ERR_DATA_INVALID');
    throwsCode(
      () => ecdsaRawToDer(Uint8Array.from([...new Uint8Array(32), ...new Uint8Array(32).fill(1)])),
      'HSM_ERR_DATA_INVALID',
    );
    throwsCode(
      () => ecdsaRawToDer(Uint8Array.from([...new Uint8Array(32).fill(1), ...new Uint8Array(32)])),
      'HSM_ERR_DATA_INVALID',
    );
  });
});

describe('ecdsaDerToRaw strictness', () => {
  const ok = '3006 020101 020102';
  it('accepts the minimal valid form', () => {
    assert.equal(toHex(ecdsaDerToRaw(hex(ok), 4)), '0000000100000002');
    // A 0x00 sign pad does not count against fieldBytes.
    assert.equal(toHex(ecdsaDerToRaw(hex('3008 020101 0203008000'), 2)), '00018000');
  });

  const table: [string, string][] = [
    ['empty', ''],
    ['not a SEQUENCE', '3106 020101 020102'],
    ['indefinite length', '3080 020101 020102 0000'],
    ['non-minimal SEQUENCE length', '308106 020101 020102'],
    ['SEQUENCE longer than input', '3007 020101 020102'],
    ['trailing bytes after SEQUENCE', '3006 020101 020102 00'],
    ['extra element in SEQUENCE', '3009 020101 020102 020103'],
    ['only one INTEGER', '3003 020101'],
    ['empty SEQUENCE', '3000'],
    ['r not an INTEGER', '3006 040101 020102'],
    ['s not an INTEGER', '3006 020101 030102'],
    ['empty INTEGER', '3005 0200 020102'],
    ['negative r', '3006 020180 020102'],
    ['negative s', '3006 020101 0201ff'],
    ['non-minimal r (00 00..)', '3007 02020001 020102'],
    ['non-minimal s (ff ff..)', '3007 020101 0202ff80'],
    ['non-minimal INTEGER length', '3007 02810101 020102'],
    ['r zero', '3006 020100 020102'],
    ['s zero', '3006 020101 020100'],
    ['r longer than fieldBytes', '3008 0203010203 020102'],
    ['s longer than fieldBytes (with pad)', '3009 020101 020400800000'],
    ['INTEGER past SEQUENCE end', '3005 020101 020201'],
  ];
  for (const [name, h] of table) {
    it(`rejects: ${name}`, () => throwsCode(() => ecdsaDerToRaw(hex(h), 2), 'HSM_ERR_DATA_INVALID'));
  }

  it('rejects a bad fieldBytes as a caller error', () => {
    for (const fb of [0, -1, 1.5, Number.NaN])
      throwsCode(() => ecdsaDerToRaw(hex(ok), fb), 'HSM_ERR_INVALID_INPUT');
  });

  it('property: arbitrary bytes parse or throw HsmError', () => {
    const intTlv = fc.uint8Array({ minLength: 0, maxLength: 4 }).map((b) => [0x02, b.length, ...b]);
    const structured = fc
      .tuple(intTlv, intTlv, fc.uint8Array({ maxLength: 2 }))
      .map(([r, s, junk]) => Uint8Array.from([0x30, r.length + s.length, ...r, ...s, ...junk]));
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 80 }), structured),
        fc.integer({ min: 1, max: 66 }),
        (bytes, fb) => {
          try {
            const raw = ecdsaDerToRaw(bytes, fb);
            assert.equal(raw.length, 2 * fb);
            assert.deepEqual(ecdsaRawToDer(raw), bytes); // strict DER is canonical, so it must round-trip
          } catch (err) {
            if (!(err instanceof HsmError)) throw err;
          }
        },
      ),
      { seed: 42, numRuns: 1000 },
    );
  });
});
