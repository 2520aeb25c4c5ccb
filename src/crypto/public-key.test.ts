import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ErrorCode, HsmError } from '../errors/index.js';
import { CURVE_NAMES, CURVES, type CurveName } from './curves.js';
import { derOid, derTlv } from './der.js';
import {
  describeSpki,
  ecSpki,
  ML_DSA,
  ML_KEM,
  type MlDsaSet,
  type MlKemSet,
  mlDsaSpki,
  mlKemSpki,
  rsaSpki,
  spkiToPem,
} from './public-key.js';

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof HsmError && err.code === code);
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const b64u = (s: string | undefined) => Uint8Array.from(Buffer.from(s ?? '', 'base64url'));
const nodeSpki = (key: KeyObject) => Uint8Array.from(key.export({ type: 'spki', format: 'der' }));

function generate(curve: CurveName): KeyObject {
  if (CURVES[curve].kind === 'weierstrass') return generateKeyPairSync('ec', { namedCurve: curve }).publicKey;
  return (curve === 'Ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ed448')).publicKey;
}

function pointOf(curve: CurveName, key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (CURVES[curve].kind === 'edwards') return b64u(jwk.x);
  return Uint8Array.from([0x04, ...b64u(jwk.x), ...b64u(jwk.y)]);
}

describe('rsaSpki', () => {
  const keys = [
    { bits: 1024, e: 65537 },
    { bits: 2048, e: 65537 },
    { bits: 2049, e: 3 },
    { bits: 3072, e: 65537 },
  ];
  for (const { bits, e } of keys) {
    it(`${bits}-bit, e=${e}: byte-identical to node's SPKI`, () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: e });
      const jwk = publicKey.export({ format: 'jwk' });
      const n = b64u(jwk.n);
      const exp = b64u(jwk.e);
      assert.deepEqual(rsaSpki(n, exp), nodeSpki(publicKey));
      // Tokens that pad CKA_MODULUS / CKA_PUBLIC_EXPONENT with zeros give the same SPKI.
      const padded = Uint8Array.from([0, 0, ...n]);
      const paddedE = Uint8Array.from([0, 0, 0, ...exp]);
      assert.deepEqual(rsaSpki(padded, paddedE), nodeSpki(publicKey));
      assert.deepEqual(describeSpki(rsaSpki(n, exp)), { kind: 'rsa', bits });
    });
  }

  it('rejects empty, zero or even values', () => {
    const n = b64u(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }).n);
    const e = hex('010001');
    throwsCode(() => rsaSpki(new Uint8Array(), e), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => rsaSpki(new Uint8Array(128), e), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => rsaSpki(Uint8Array.from([...n.subarray(0, -1), 2]), e), 'HSM_ERR_DATA_INVALID');
    for (const bad of ['', '00', '01', '010000'])
      throwsCode(() => rsaSpki(n, hex(bad)), 'HSM_ERR_DATA_INVALID');
  });
});

describe('ecSpki', () => {
  for (const curve of CURVE_NAMES) {
    it(`${curve}: byte-identical to node's SPKI, from bare and DER-wrapped points`, () => {
      const key = generate(curve);
      const point = pointOf(curve, key);
      assert.deepEqual(ecSpki(curve, point), nodeSpki(key));
      assert.deepEqual(ecSpki(curve, derTlv(0x04, point)), nodeSpki(key));
    });
  }

  it('rejects points that are not on the curve', () => {
    for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
      const point = pointOf(curve, generate(curve));
      point[point.length - 1] = (point[point.length - 1] ?? 0) ^ 1;
      throwsCode(() => ecSpki(curve, point), 'HSM_ERR_DATA_INVALID');
    }
    throwsCode(() => ecSpki('P-256', new Uint8Array(64)), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => ecSpki('X25519' as CurveName, new Uint8Array(32)), 'HSM_ERR_INVALID_INPUT');
  });
});

describe('mlDsaSpki / mlKemSpki', () => {
  it('builds the LAMPS SPKI layout (AlgorithmIdentifier without parameters)', () => {
    // Headers worked out by hand: ML-DSA-44 = 1312 + 1 BIT STRING pad byte, ML-KEM-768 = 1184 + 1.
    const dsa = mlDsaSpki(44, new Uint8Array(1312).fill(7));
    assert.equal(toHex(dsa.subarray(0, 22)), '30820532300b06096086480165030403110382052100');
    assert.equal(dsa.length, 4 + 0x532);
    const kem = mlKemSpki(768, new Uint8Array(1184).fill(7));
    assert.equal(toHex(kem.subarray(0, 22)), '308204b2300b0609608648016503040402038204a100');
    assert.equal(kem.length, 4 + 0x4b2);
  });

  for (const [set, p] of Object.entries(ML_DSA)) {
    it(`ML-DSA-${set}: round-trips through describeSpki and checks the size`, () => {
      const s = Number(set) as MlDsaSet;
      const raw = randomBytes(p.publicKeyBytes);
      const der = mlDsaSpki(s, raw);
      assert.deepEqual(describeSpki(der), { kind: 'ml-dsa', set: s });
      assert.deepEqual(der.subarray(der.length - raw.length), Uint8Array.from(raw));
      assert.ok(toHex(der).includes(toHex(derOid(p.oid))));
      throwsCode(() => mlDsaSpki(s, raw.subarray(1)), 'HSM_ERR_DATA_INVALID');
    });
  }
  for (const [set, p] of Object.entries(ML_KEM)) {
    it(`ML-KEM-${set}: round-trips through describeSpki and checks the size`, () => {
      const s = Number(set) as MlKemSet;
      const raw = randomBytes(p.publicKeyBytes);
      const der = mlKemSpki(s, raw);
      assert.deepEqual(describeSpki(der), { kind: 'ml-kem', set: s });
      throwsCode(() => mlKemSpki(s, Uint8Array.from([...raw, 0])), 'HSM_ERR_DATA_INVALID');
    });
  }

  it('rejects unknown parameter sets as caller errors', () => {
    throwsCode(() => mlDsaSpki(99 as MlDsaSet, new Uint8Array(1312)), 'HSM_ERR_INVALID_INPUT');
    throwsCode(() => mlKemSpki(256 as MlKemSet, new Uint8Array(800)), 'HSM_ERR_INVALID_INPUT');
  });

  // Node 20 cannot make ML-DSA / ML-KEM keys, so the layout is checked against the SPKI headers
  // written out in the IETF LAMPS drafts (AlgorithmIdentifier without parameters, BIT STRING).
  const KNOWN_HEADERS: Array<[string, (s: number, r: Uint8Array) => Uint8Array, number, number, string]> = [
    ['ml-dsa-44', mlDsaSpki as never, 44, 1312, '308205323 00b0609608648016503040311 03820521 00'],
    ['ml-dsa-65', mlDsaSpki as never, 65, 1952, '308207b2 300b0609608648016503040312 038207a1 00'],
    ['ml-dsa-87', mlDsaSpki as never, 87, 2592, '30820a32 300b0609608648016503040313 03820a21 00'],
    ['ml-kem-512', mlKemSpki as never, 512, 800, '30820332 300b0609608648016503040401 03820321 00'],
    ['ml-kem-768', mlKemSpki as never, 768, 1184, '308204b2 300b0609608648016503040402 038204a1 00'],
    ['ml-kem-1024', mlKemSpki as never, 1024, 1568, '30820632 300b0609608648016503040403 03820621 00'],
  ];
  for (const [name, build, set, size, header] of KNOWN_HEADERS) {
    it(`${name}: SPKI header matches the published layout`, () => {
      const raw = new Uint8Array(size).map((_, i) => i % 251);
      const spki = build(set, raw);
      const head = Buffer.from(header.replace(/ /g, ''), 'hex');
      assert.deepEqual(Buffer.from(spki.subarray(0, head.length)), head);
      assert.deepEqual(Buffer.from(spki.subarray(head.length)), Buffer.from(raw));
    });
  }
});

describe('spkiToPem', () => {
  it('matches node PEM export', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = spkiToPem(nodeSpki(publicKey));
    assert.equal(pem, publicKey.export({ type: 'spki', format: 'pem' }));
    assert.ok(pem.endsWith('-----END PUBLIC KEY-----\n'));
    for (const line of pem.split('\n').slice(1, -2)) assert.ok(line.length <= 64);
    assert.deepEqual(nodeSpki(createPublicKey(pem)), nodeSpki(publicKey));
  });

  it('refuses input that is not a single DER SEQUENCE', () => {
    throwsCode(() => spkiToPem(new Uint8Array()), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => spkiToPem(hex('0400')), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => spkiToPem(hex('3000 00')), 'HSM_ERR_DATA_INVALID');
  });
});

describe('describeSpki', () => {
  it('describes EC and EdDSA keys', () => {
    const bits: Record<string, number> = { 'P-256': 256, 'P-384': 384, 'P-521': 521 };
    for (const curve of CURVE_NAMES) {
      const d = describeSpki(nodeSpki(generate(curve)));
      if (curve === 'Ed25519') assert.deepEqual(d, { kind: 'ed25519', curve });
      else if (curve === 'Ed448') assert.deepEqual(d, { kind: 'ed448', curve });
      else assert.deepEqual(d, { kind: 'ec', curve, bits: bits[curve] });
    }
  });

  it('rejects unsupported key types and malformed SPKIs', () => {
    const unsupported = [
      generateKeyPairSync('x25519').publicKey,
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey,
      generateKeyPairSync('rsa-pss', { modulusLength: 1024 }).publicKey,
    ];
    for (const key of unsupported) throwsCode(() => describeSpki(nodeSpki(key)), 'HSM_ERR_DATA_INVALID');

    const good = nodeSpki(generate('P-256'));
    throwsCode(() => describeSpki(Uint8Array.from([...good, 0])), 'HSM_ERR_DATA_INVALID');
    throwsCode(() => describeSpki(good.subarray(0, -1)), 'HSM_ERR_DATA_INVALID');

    const raw = new Uint8Array(1312);
    const algWithNull = derTlv(0x30, Uint8Array.from([...derOid(ML_DSA[44].oid), 0x05, 0x00]));
    const bitString = derTlv(0x03, Uint8Array.from([0, ...raw]));
    throwsCode(
      () => describeSpki(derTlv(0x30, Uint8Array.from([...algWithNull, ...bitString]))),
      'HSM_ERR_DATA_INVALID',
    );
    const mlDsa65Alg = derTlv(0x30, derOid(ML_DSA[65].oid));
    throwsCode(
      () => describeSpki(derTlv(0x30, Uint8Array.from([...mlDsa65Alg, ...bitString]))),
      'HSM_ERR_DATA_INVALID',
    );
    const unusedBits = derTlv(0x03, Uint8Array.from([1, ...raw]));
    const mlDsa44Alg = derTlv(0x30, derOid(ML_DSA[44].oid));
    throwsCode(
      () => describeSpki(derTlv(0x30, Uint8Array.from([...mlDsa44Alg, ...unusedBits]))),
      'HSM_ERR_DATA_INVALID',
    );
    throwsCode(
      () => describeSpki(derTlv(0x30, Uint8Array.from([...mlDsa44Alg, ...bitString, 0x05, 0x00]))),
      'HSM_ERR_DATA_INVALID',
    );
  });

  it('property: arbitrary and mutated bytes parse or throw HsmError', () => {
    const samples = [
      nodeSpki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey),
      ...CURVE_NAMES.map((c) => nodeSpki(generate(c))),
      mlDsaSpki(44, new Uint8Array(1312)),
      mlKemSpki(512, new Uint8Array(800)),
    ];
    const mutated = fc
      .tuple(
        fc.constantFrom(...samples),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.nat(),
      )
      .map(([base, edits, cut]) => {
        const copy = base.slice();
        for (const [at, byte] of edits) copy[at % copy.length] = byte;
        // Sometimes truncate, so length checks are exercised as well as content checks.
        return cut % 4 === 0 ? copy.subarray(0, cut % copy.length) : copy;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated), (bytes) => {
        try {
          const d = describeSpki(bytes);
          assert.ok(['rsa', 'ec', 'ed25519', 'ed448', 'ml-dsa', 'ml-kem'].includes(d.kind));
        } catch (err) {
          if (!(err instanceof HsmError)) throw err;
        }
      }),
      { seed: 42, numRuns: 1000 },
    );
  });
});
