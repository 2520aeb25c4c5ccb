import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ErrorCode, HsmError } from '../errors/index.js';
import { CURVE_NAMES, CURVES, curveFromEcParams } from './curves.js';
import { derOid, derTlv } from './der.js';

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof HsmError && err.code === code && (message?.test(err.message) ?? true),
  );
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('CURVES', () => {
  it('has the RFC 5480 / RFC 8410 namedCurve encodings and sizes', () => {
    const expected = {
      'P-256': ['06082a8648ce3d030107', 32, 'weierstrass'],
      'P-384': ['06052b81040022', 48, 'weierstrass'],
      'P-521': ['06052b81040023', 66, 'weierstrass'],
      Ed25519: ['06032b6570', 32, 'edwards'],
      Ed448: ['06032b6571', 57, 'edwards'],
    } as const;
    for (const name of CURVE_NAMES) {
      const c = CURVES[name];
      assert.deepEqual([toHex(c.ecParams), c.fieldBytes, c.kind], expected[name], name);
      assert.equal(c.jwkCrv, name);
    }
  });

  it('matches the curve OID node:crypto puts in SPKI', () => {
    for (const name of CURVE_NAMES) {
      const { publicKey } =
        CURVES[name].kind === 'weierstrass'
          ? generateKeyPairSync('ec', { namedCurve: name })
          : name === 'Ed25519'
            ? generateKeyPairSync('ed25519')
            : generateKeyPairSync('ed448');
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      assert.ok(spki.includes(Buffer.from(CURVES[name].ecParams)), name);
    }
  });
});

describe('curveFromEcParams', () => {
  it('maps every namedCurve OID', () => {
    for (const name of CURVE_NAMES) assert.equal(curveFromEcParams(CURVES[name].ecParams), name);
  });

  it('accepts the PKCS#11 3.0 PrintableString names for Edwards curves', () => {
    assert.equal(curveFromEcParams(derTlv(0x13, Buffer.from('edwards25519'))), 'Ed25519');
    assert.equal(curveFromEcParams(derTlv(0x13, Buffer.from('edwards448'))), 'Ed448');
  });

  it('rejects other values with HSM_ERR_DATA_INVALID', () => {
    throwsCode(() => curveFromEcParams(derOid('1.3.132.0.10')), 'HSM_ERR_DATA_INVALID', /1\.3\.132\.0\.10/); // secp256k1
    throwsCode(() => curveFromEcParams(derOid('1.3.101.110')), 'HSM_ERR_DATA_INVALID', /1\.3\.101\.110/); // X25519
    throwsCode(() => curveFromEcParams(derTlv(0x13, Buffer.from('Edwards25519'))), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => curveFromEcParams(derTlv(0x13, Buffer.from('curve25519'))), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => curveFromEcParams(derTlv(0x0c, Buffer.from('edwards25519'))), 'HSM_ERR_DATA_INVALID'); // UTF8String
    throwsCode(() => curveFromEcParams(hex('3000')), 'HSM_ERR_DATA_INVALID', /explicit/);
    throwsCode(() => curveFromEcParams(hex('0500')), 'HSM_ERR_DATA_INVALID'); // implicitlyCA
    throwsCode(() => curveFromEcParams(hex('06082a8648ce3d030107 00')), 'HSM_ERR_DATA_INVALID'); // trailing byte
    throwsCode(() => curveFromEcParams(hex('06082a8648ce3d0301')), 'HSM_ERR_DATA_INVALID'); // truncated
    throwsCode(() => curveFromEcParams(new Uint8Array()), 'HSM_ERR_DATA_INVALID');
  });

  it('property: arbitrary bytes parse or throw HsmError', () => {
    const near = fc
      .tuple(
        fc.constantFrom(...CURVE_NAMES.map((n) => CURVES[n].ecParams)),
        fc.nat(20),
        fc.integer({ min: 0, max: 255 }),
      )
      .map(([base, at, byte]) => {
        const copy = base.slice();
        copy[at % copy.length] = byte;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), near), (bytes) => {
        try {
          assert.ok(CURVE_NAMES.includes(curveFromEcParams(bytes)));
        } catch (err) {
          if (!(err instanceof HsmError)) throw err;
        }
      }),
      { seed: 42, numRuns: 1000 },
    );
  });
});
