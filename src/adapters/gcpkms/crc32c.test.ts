import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32c } from './crc32c.js';

describe('crc32c', () => {
  // RFC 3720 appendix B.4. The RFC prints the CRC as it goes on the wire (little-endian bytes);
  // these are the same values as numbers.
  const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
  const descending = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
  const iscsiRead = Uint8Array.from([
    0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  ]);
  const cases: Array<[name: string, input: Uint8Array | string, crc: number]> = [
    ['32 bytes of zeros', new Uint8Array(32), 0x8a9136aa],
    ['32 bytes of 0xff', new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ['32 ascending bytes', ascending, 0x46dd794e],
    ['32 descending bytes', descending, 0x113fdb5c],
    ['an iSCSI read command PDU', iscsiRead, 0xd9963a56],
    // The common check value of CRC-32C (the CRC catalogue's "check" for "123456789").
    ['"123456789"', '123456789', 0xe3069283],
    ['the empty input', new Uint8Array(0), 0],
  ];
  for (const [name, input, crc] of cases) {
    it(`computes ${crc.toString(16)} for ${name}`, () => {
      assert.equal(crc32c(input), crc);
    });
  }

  it('returns an unsigned 32-bit number', () => {
    for (let i = 0; i < 64; i++) {
      const v = crc32c(Uint8Array.of(i, 0x80, 0xff));
      assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
    }
  });
});
