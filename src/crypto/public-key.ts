/**
 * SubjectPublicKeyInfo (RFC 5280) from the raw public values a PKCS#11 token reveals. RSA and EC go
 * through node:crypto's JWK import, which also validates them (e.g. EC points must be on the curve);
 * ML-DSA and ML-KEM are assembled with der.ts because Node 20 does not know them.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { HsmError } from '../errors/index.js';
import { type CurveName, curveInfo } from './curves.js';
import { assertBytes, concatBytes, derOid, derTlv, oidToString, readTlv, readWhole, TAG } from './der.js';
import { unwrapEcPoint } from './ec-point.js';

/** ML-DSA parameter sets (FIPS 204). */
export type MlDsaSet = 44 | 65 | 87;
/** ML-KEM parameter sets (FIPS 203). */
export type MlKemSet = 512 | 768 | 1024;

/** NIST OIDs and raw public key sizes for ML-DSA (FIPS 204; SPKI per the IETF LAMPS ML-DSA profile). */
export const ML_DSA: Readonly<Record<MlDsaSet, { oid: string; publicKeyBytes: number }>> = {
  44: { oid: '2.16.840.1.101.3.4.3.17', publicKeyBytes: 1312 },
  65: { oid: '2.16.840.1.101.3.4.3.18', publicKeyBytes: 1952 },
  87: { oid: '2.16.840.1.101.3.4.3.19', publicKeyBytes: 2592 },
};

/** NIST OIDs and raw public key sizes for ML-KEM (FIPS 203; SPKI per the IETF LAMPS ML-KEM profile). */
export const ML_KEM: Readonly<Record<MlKemSet, { oid: string; publicKeyBytes: number }>> = {
  512: { oid: '2.16.840.1.101.3.4.4.1', publicKeyBytes: 800 },
  768: { oid: '2.16.840.1.101.3.4.4.2', publicKeyBytes: 1184 },
  1024: { oid: '2.16.840.1.101.3.4.4.3', publicKeyBytes: 1568 },
};

/** What describeSpki found. `set` is the ML-DSA / ML-KEM parameter set. */
export interface SpkiDescription {
  kind: 'rsa' | 'ec' | 'ed25519' | 'ed448' | 'ml-dsa' | 'ml-kem';
  bits?: number;
  curve?: CurveName;
  set?: MlDsaSet | MlKemSet;
}

function b64u(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

// node:crypto throws plain errors (ERR_CRYPTO_INVALID_JWK, OpenSSL decoder errors); hsmkit only throws HsmError.
function importKey(what: string, load: () => KeyObject): KeyObject {
  try {
    return load();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new HsmError('HSM_ERR_DATA_INVALID', `${what} rejected: ${reason}`, { cause: err });
  }
}

function spkiDer(key: KeyObject): Uint8Array {
  return Uint8Array.from(key.export({ type: 'spki', format: 'der' }));
}

/** Builds an RSA SPKI from CKA_MODULUS and CKA_PUBLIC_EXPONENT (big-endian, leading zeros allowed). */
export function rsaSpki(modulus: Uint8Array, publicExponent: Uint8Array): Uint8Array {
  assertBytes(modulus, 'RSA modulus');
  assertBytes(publicExponent, 'RSA public exponent');
  // Tokens may pad to a fixed width; JWK (RFC 7518) wants the minimal big-endian form.
  const n = stripLeadingZeros(modulus);
  const e = stripLeadingZeros(publicExponent);
  // A real modulus and exponent are odd (and e > 1); anything else is a corrupt attribute read.
  if (n.length === 0 || ((n[n.length - 1] ?? 0) & 1) === 0) {
    throw new HsmError('HSM_ERR_DATA_INVALID', 'RSA modulus is zero or even');
  }
  if (e.length === 0 || ((e[e.length - 1] ?? 0) & 1) === 0 || (e.length === 1 && e[0] === 1)) {
    throw new HsmError('HSM_ERR_DATA_INVALID', 'RSA public exponent must be odd and greater than 1');
  }
  const key = importKey('RSA public key', () =>
    createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(e) }, format: 'jwk' }),
  );
  return spkiDer(key);
}

/** Builds an EC / EdDSA SPKI from the public point (bare, or the DER-wrapped CKA_EC_POINT). */
export function ecSpki(curve: CurveName, point: Uint8Array): Uint8Array {
  const info = curveInfo(curve);
  // unwrapEcPoint returns bare points unchanged, so both forms of the attribute are accepted here.
  const bare = unwrapEcPoint(point, curve);
  const jwk =
    info.kind === 'weierstrass'
      ? {
          kty: 'EC',
          crv: info.jwkCrv,
          x: b64u(bare.subarray(1, 1 + info.fieldBytes)),
          y: b64u(bare.subarray(1 + info.fieldBytes)),
        }
      : { kty: 'OKP', crv: info.jwkCrv, x: b64u(bare) };
  return spkiDer(importKey(`${curve} public key`, () => createPublicKey({ key: jwk, format: 'jwk' })));
}

// SEQUENCE { SEQUENCE { algorithm OID } -- parameters ABSENT --, BIT STRING (0 unused bits) key }.
function pqSpki(oid: string, raw: Uint8Array): Uint8Array {
  return derTlv(
    TAG.SEQUENCE,
    concatBytes(
      derTlv(TAG.SEQUENCE, derOid(oid)),
      derTlv(TAG.BIT_STRING, concatBytes(Uint8Array.of(0), raw)),
    ),
  );
}

function checkRawSize(name: string, raw: Uint8Array, expected: number): void {
  assertBytes(raw, `${name} public key`);
  if (raw.length !== expected) {
    throw new HsmError(
      'HSM_ERR_DATA_INVALID',
      `${name} public key must be ${expected} bytes, got ${raw.length}`,
    );
  }
}

/** Builds an ML-DSA SPKI (parameters absent) from the raw public key. */
export function mlDsaSpki(set: MlDsaSet, raw: Uint8Array): Uint8Array {
  const params = Object.hasOwn(ML_DSA, set) ? ML_DSA[set] : undefined;
  if (params === undefined)
    throw new HsmError('HSM_ERR_INVALID_INPUT', `unknown ML-DSA parameter set ${set}`);
  checkRawSize(`ML-DSA-${set}`, raw, params.publicKeyBytes);
  return pqSpki(params.oid, raw);
}

/** Builds an ML-KEM SPKI (parameters absent) from the raw encapsulation key. */
export function mlKemSpki(set: MlKemSet, raw: Uint8Array): Uint8Array {
  const params = Object.hasOwn(ML_KEM, set) ? ML_KEM[set] : undefined;
  if (params === undefined)
    throw new HsmError('HSM_ERR_INVALID_INPUT', `unknown ML-KEM parameter set ${set}`);
  checkRawSize(`ML-KEM-${set}`, raw, params.publicKeyBytes);
  return pqSpki(params.oid, raw);
}

/** PEM-encodes an SPKI DER as `-----BEGIN PUBLIC KEY-----` with 64-character lines. */
export function spkiToPem(der: Uint8Array): string {
  // Only the outer SEQUENCE is checked: enough to stop a non-DER blob being labelled a public key.
  readWhole(der, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

const NODE_CURVES: Record<string, CurveName> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

const CURVE_BITS: Record<string, number> = { 'P-256': 256, 'P-384': 384, 'P-521': 521 };

/** Says what key an SPKI DER holds: kind, plus RSA/EC size, curve, or post-quantum parameter set. */
export function describeSpki(der: Uint8Array): SpkiDescription {
  const seq = readWhole(der, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  const algId = readTlv(seq.content, 0);
  if (algId.tag !== TAG.SEQUENCE)
    throw new HsmError('HSM_ERR_DATA_INVALID', 'SPKI algorithm is not a SEQUENCE');
  const oidTlv = readTlv(algId.content, 0);
  if (oidTlv.tag !== TAG.OID) throw new HsmError('HSM_ERR_DATA_INVALID', 'SPKI algorithm has no OID');
  const oid = oidToString(oidTlv.content);

  const pq = pqLookup(oid);
  if (pq !== undefined) {
    // The LAMPS profiles: parameters MUST be absent and the key must have the set's exact size.
    if (oidTlv.end !== algId.content.length) {
      throw new HsmError('HSM_ERR_DATA_INVALID', `${pq.name} AlgorithmIdentifier must not have parameters`);
    }
    const bits = readTlv(seq.content, algId.end);
    if (bits.tag !== TAG.BIT_STRING || bits.end !== seq.content.length) {
      throw new HsmError('HSM_ERR_DATA_INVALID', 'SPKI subjectPublicKey is not a single BIT STRING');
    }
    if (bits.content[0] !== 0 || bits.content.length - 1 !== pq.publicKeyBytes) {
      throw new HsmError('HSM_ERR_DATA_INVALID', `${pq.name} public key must be ${pq.publicKeyBytes} bytes`);
    }
    return { kind: pq.kind, set: pq.set };
  }

  const key = importKey('SubjectPublicKeyInfo', () =>
    createPublicKey({
      key: Buffer.from(der.buffer, der.byteOffset, der.byteLength),
      format: 'der',
      type: 'spki',
    }),
  );
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { kind: 'rsa', bits: details.modulusLength ?? 0 };
    case 'ec': {
      const named = details.namedCurve;
      const curve = named !== undefined && Object.hasOwn(NODE_CURVES, named) ? NODE_CURVES[named] : undefined;
      if (curve === undefined) throw new HsmError('HSM_ERR_DATA_INVALID', `unsupported EC curve ${named}`);
      return { kind: 'ec', curve, bits: CURVE_BITS[curve] ?? 0 };
    }
    case 'ed25519':
      return { kind: 'ed25519', curve: 'Ed25519' };
    case 'ed448':
      return { kind: 'ed448', curve: 'Ed448' };
    default:
      // e.g. rsa-pss, x25519, dsa: not keys hsmkit issues; reporting them as 'rsa'/'ec' would mislead.
      throw new HsmError('HSM_ERR_DATA_INVALID', `unsupported public key type ${key.asymmetricKeyType}`);
  }
}

function pqLookup(
  oid: string,
): { kind: 'ml-dsa' | 'ml-kem'; set: MlDsaSet | MlKemSet; name: string; publicKeyBytes: number } | undefined {
  for (const [set, p] of Object.entries(ML_DSA)) {
    if (p.oid === oid) return { kind: 'ml-dsa', set: Number(set) as MlDsaSet, name: `ML-DSA-${set}`, ...p };
  }
  for (const [set, p] of Object.entries(ML_KEM)) {
    if (p.oid === oid) return { kind: 'ml-kem', set: Number(set) as MlKemSet, name: `ML-KEM-${set}`, ...p };
  }
  return undefined;
}
