import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ErrorCode, HsmError } from '../errors/index.js';
import { derLength, derOid, derTlv, oidToString, readTlv } from './der.js';

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof HsmError && err.code === code);
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('derLength / derTlv', () => {
  it('uses short form below 128 and minimal long form above', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [1, '01'],
      [127, '7f'],
      [128, '8180'],
      [255, '81ff'],
      [256, '820100'],
      [65535, '82ffff'],
      [65536, '83010000'],
      [2 ** 32, '850100000000'],
    ];
    for (const [n, expected] of cases) assert.equal(toHex(derLength(n)), expected, `length ${n}`);
  });

  it('rejects negative and fractional lengths', () => {
    for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      throwsCode(() => derLength(n), 'HSM_ERR_INVALID_INPUT');
  });

  it('builds a TLV and rejects multi-byte tags', () => {
    assert.equal(toHex(derTlv(0x04, hex('0102'))), '04020102');
    assert.equal(derTlv(0x04, new Uint8Array(200)).length, 203);
    for (const tag of [-1, 256, 0x1f, 0x3f, 1.5])
      throwsCode(() => derTlv(tag, new Uint8Array()), 'HSM_ERR_INVALID_INPUT');
  });
});

describe('derOid / oidToString', () => {
  const known: [string, string][] = [
    ['1.2.840.10045.3.1.7', '06082a8648ce3d030107'],
    ['1.3.132.0.34', '06052b81040022'],
    ['1.3.132.0.35', '06052b81040023'],
    ['1.3.101.112', '06032b6570'],
    ['1.3.101.113', '06032b6571'],
    ['1.2.840.113549.1.1.1', '06092a864886f70d010101'],
    ['2.16.840.1.101.3.4.2.1', '0609608648016503040201'],
    ['2.16.840.1.101.3.4.3.17', '0609608648016503040311'],
    ['2.16.840.1.101.3.4.4.2', '0609608648016503040402'],
    ['2.999.3', '0603883703'],
    ['0.0', '060100'],
  ];

  it('encodes known OIDs and decodes them back', () => {
    for (const [dotted, der] of known) {
      const enc = derOid(dotted);
      assert.equal(toHex(enc), der, dotted);
      assert.equal(oidToString(enc.subarray(2)), dotted);
    }
  });

  it('round-trips a 128-bit UUID arc', () => {
    const dotted = '2.25.329800735698586629295641978511506172918';
    assert.equal(oidToString(derOid(dotted).subarray(2)), dotted);
  });

  it('rejects malformed dotted strings', () => {
    for (const bad of [
      '',
      '1',
      '3.1',
      '1.40',
      '0.40',
      '1..2',
      '1.2.',
      '.1.2',
      'a.b',
      '1.02',
      '1.-2',
      ' 1.2',
    ]) {
      throwsCode(() => derOid(bad), 'HSM_ERR_INVALID_INPUT');
    }
  });

  it('rejects non-DER OID content', () => {
    throwsCode(() => oidToString(new Uint8Array()), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => oidToString(hex('2a8648ce')), 'HSM_ERR_DATA_INVALID'); // ends mid-subidentifier
    throwsCode(() => oidToString(hex('2a 80 01')), 'HSM_ERR_DATA_INVALID'); // non-minimal subidentifier
    throwsCode(() => oidToString(hex('80 2a')), 'HSM_ERR_DATA_INVALID');
    throwsCode(
      () => oidToString(new Uint8Array(40).fill(0xff).map((b, i) => (i === 39 ? 0x01 : b))),
      'HSM_ERR_DATA_INVALID',
    );
  });
});

describe('readTlv', () => {
  it('reads short and long forms at an offset', () => {
    const t = readTlv(hex('ff 04 02 aa bb cc'), 1);
    assert.deepEqual(
      { tag: t.tag, length: t.length, headerLength: t.headerLength, end: t.end, content: toHex(t.content) },
      { tag: 4, length: 2, headerLength: 2, end: 5, content: 'aabb' },
    );
    const long = Uint8Array.from([0x04, 0x81, 0x80, ...new Uint8Array(128)]);
    const l = readTlv(long, 0);
    assert.equal(l.length, 128);
    assert.equal(l.headerLength, 3);
    assert.equal(l.end, 131);
    const big = Uint8Array.from([0x04, 0x82, 0x01, 0x00, ...new Uint8Array(256)]);
    assert.equal(readTlv(big, 0).length, 256);
  });

  it('rejects everything DER forbids', () => {
    const table: [string, string][] = [
      ['empty', ''],
      ['tag only', '04'],
      ['indefinite length', '3080 0000'],
      ['reserved length byte', '04ff'],
      ['long form for a short length', '048105 0102030405'],
      ['leading zero length byte', `04820080${'00'.repeat(128)}`],
      ['five length bytes', '0485 0000000001 00'],
      ['length bytes truncated', '048201'],
      ['content past end', '0403 0102'],
      ['long-form content past end', '0481ff 00'],
      ['high tag number form', '1f0100'],
    ];
    for (const [name, h] of table) {
      assert.throws(
        () => readTlv(hex(h), 0),
        (err: unknown) => err instanceof HsmError && err.code === 'HSM_ERR_DATA_INVALID',
        name,
      );
    }
    throwsCode(() => readTlv(hex('0400'), 2), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => readTlv(hex('0400'), -1), 'HSM_ERR_INVALID_INPUT');
    throwsCode(() => readTlv('0400' as unknown as Uint8Array, 0), 'HSM_ERR_INVALID_INPUT');
  });

  it('property: arbitrary bytes parse or throw HsmError, and parses stay in bounds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 310 }), (bytes, offset) => {
        try {
          const t = readTlv(bytes, offset);
          assert.ok(t.end <= bytes.length && t.content.length === t.length);
          assert.equal(t.end, offset + t.headerLength + t.length);
        } catch (err) {
          if (!(err instanceof HsmError)) throw err;
        }
      }),
      { seed: 42, numRuns: 1000 },
    );
  });
});
