import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ErrorCode, HsmError } from '../errors/index.js';
import { CURVE_NAMES, CURVES, type CurveName } from './curves.js';
import { derTlv } from './der.js';
import { ecPointSize, unwrapEcPoint } from './ec-point.js';

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof HsmError && err.code === code);
}

/** The bare public point of a freshly generated node:crypto key. */
function freshPoint(curve: CurveName): Uint8Array {
  const info = CURVES[curve];
  const { publicKey } =
    info.kind === 'weierstrass'
      ? generateKeyPairSync('ec', { namedCurve: curve })
      : curve === 'Ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ed448');
  const jwk = publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x ?? '', 'base64url');
  if (info.kind === 'edwards') return Uint8Array.from(x);
  return Uint8Array.from([0x04, ...x, ...Buffer.from(jwk.y ?? '', 'base64url')]);
}

describe('unwrapEcPoint', () => {
  it('sizes: 1 + 2*fieldBytes for Weierstrass, fieldBytes for Edwards', () => {
    assert.deepEqual(
      CURVE_NAMES.map((c) => ecPointSize(c)),
      [65, 97, 133, 32, 57],
    );
  });

  for (const curve of CURVE_NAMES) {
    it(`${curve}: accepts DER-wrapped and bare points`, () => {
      const point = freshPoint(curve);
      assert.equal(point.length, ecPointSize(curve));
      assert.deepEqual(unwrapEcPoint(point, curve), point);
      assert.deepEqual(unwrapEcPoint(derTlv(0x04, point), curve), point);
    });

    it(`${curve}: rejects wrong sizes and trailing bytes`, () => {
      const point = freshPoint(curve);
      const size = point.length;
      for (const bad of [
        point.subarray(0, size - 1),
        Uint8Array.from([...point, 0]),
        derTlv(0x04, point.subarray(0, size - 1)),
        derTlv(0x04, Uint8Array.from([...point, 0])),
        Uint8Array.from([...derTlv(0x04, point), 0]),
        derTlv(0x03, point),
        derTlv(0x04, derTlv(0x04, point)),
        new Uint8Array(),
      ]) {
        throwsCode(() => unwrapEcPoint(bad, curve), 'HSM_ERR_DATA_INVALID');
      }
    });
  }

  it('rejects bare points of the right size that are not uncompressed', () => {
    const point = freshPoint('P-256');
    point[0] = 0x06; // hybrid form
    throwsCode(() => unwrapEcPoint(point, 'P-256'), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => unwrapEcPoint(derTlv(0x04, point), 'P-256'), 'HSM_ERR_DATA_INVALID');
  });

  it('rejects compressed points, bare or wrapped, with a clear message', () => {
    for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
      const full = freshPoint(curve);
      const fb = CURVES[curve].fieldBytes;
      const y = full[full.length - 1] ?? 0;
      const compressed = Uint8Array.from([y & 1 ? 0x03 : 0x02, ...full.subarray(1, 1 + fb)]);
      for (const attr of [compressed, derTlv(0x04, compressed)]) {
        assert.throws(
          () => unwrapEcPoint(attr, curve),
          (err: unknown) =>
            err instanceof HsmError && err.code === 'HSM_ERR_DATA_INVALID' && /compressed/.test(err.message),
        );
      }
    }
  });

  it('rejects an unknown curve as a caller error', () => {
    throwsCode(() => unwrapEcPoint(new Uint8Array(65), 'secp256k1' as CurveName), 'HSM_ERR_INVALID_INPUT');
  });

  it('property: arbitrary bytes parse or throw HsmError', () => {
    const sized = fc.constantFrom(...CURVE_NAMES).chain((curve) =>
      fc.tuple(
        fc.constant(curve),
        fc.oneof(
          fc.uint8Array({ minLength: ecPointSize(curve), maxLength: ecPointSize(curve) }),
          fc.uint8Array({ minLength: ecPointSize(curve) + 2, maxLength: ecPointSize(curve) + 3 }),
          fc
            .uint8Array({ minLength: ecPointSize(curve) - 1, maxLength: ecPointSize(curve) + 1 })
            .map((content) => derTlv(0x04, content)),
        ),
      ),
    );
    const anyBytes = fc.tuple(fc.constantFrom(...CURVE_NAMES), fc.uint8Array({ maxLength: 200 }));
    fc.assert(
      fc.property(fc.oneof(sized, anyBytes), ([curve, bytes]) => {
        try {
          assert.equal(unwrapEcPoint(bytes, curve).length, ecPointSize(curve));
        } catch (err) {
          if (!(err instanceof HsmError)) throw err;
        }
      }),
      { seed: 42, numRuns: 1000 },
    );
  });
});
