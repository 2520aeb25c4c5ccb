/** The elliptic curves hsmkit supports and how PKCS#11 names them in CKA_EC_PARAMS. */
import { HsmError } from '../errors/index.js';
import { assertBytes, derOid, oidToString, readTlv, TAG } from './der.js';

/** A supported curve, named as in JOSE (RFC 7518 / RFC 8037). */
export type CurveName = 'P-256' | 'P-384' | 'P-521' | 'Ed25519' | 'Ed448';

/** What hsmkit needs to know about one curve. */
export interface CurveInfo {
  /** Dotted namedCurve OID (RFC 5480 for Weierstrass, RFC 8410 for Edwards). */
  oid: string;
  /** DER of the namedCurve OID: the CKA_EC_PARAMS value hsmkit writes. */
  ecParams: Uint8Array;
  /** Bytes of one field element (a coordinate, or the whole Edwards public key). */
  fieldBytes: number;
  /** The JWK `crv` value. */
  jwkCrv: string;
  kind: 'weierstrass' | 'edwards';
}

function curve(oid: string, fieldBytes: number, jwkCrv: string, kind: CurveInfo['kind']): CurveInfo {
  return { oid, ecParams: derOid(oid), fieldBytes, jwkCrv, kind };
}

/** The supported curves. */
export const CURVES: Record<CurveName, CurveInfo> = {
  'P-256': curve('1.2.840.10045.3.1.7', 32, 'P-256', 'weierstrass'),
  'P-384': curve('1.3.132.0.34', 48, 'P-384', 'weierstrass'),
  'P-521': curve('1.3.132.0.35', 66, 'P-521', 'weierstrass'),
  Ed25519: curve('1.3.101.112', 32, 'Ed25519', 'edwards'),
  Ed448: curve('1.3.101.113', 57, 'Ed448', 'edwards'),
};

/** Every curve name, in table order. */
export const CURVE_NAMES = Object.keys(CURVES) as CurveName[];

// PKCS#11 3.0 lets tokens name Edwards curves by PrintableString instead of OID.
const PRINTABLE_NAMES: Record<string, CurveName> = { edwards25519: 'Ed25519', edwards448: 'Ed448' };

/** True when `value` is a supported curve name. */
export function isCurveName(value: unknown): value is CurveName {
  return typeof value === 'string' && Object.hasOwn(CURVES, value);
}

/** Looks up a curve by name; unknown names are a caller error (HSM_ERR_INVALID_INPUT). */
export function curveInfo(name: CurveName): CurveInfo {
  if (!isCurveName(name)) throw new HsmError('HSM_ERR_INVALID_INPUT', `unsupported curve: ${String(name)}`);
  return CURVES[name];
}

/** Maps a CKA_EC_PARAMS value (namedCurve OID, or an Edwards PrintableString) to a curve. */
export function curveFromEcParams(params: Uint8Array): CurveName {
  assertBytes(params, 'CKA_EC_PARAMS');
  const tlv = readTlv(params, 0);
  if (tlv.end !== params.length) {
    throw new HsmError('HSM_ERR_DATA_INVALID', `CKA_EC_PARAMS has ${params.length - tlv.end} trailing bytes`);
  }
  if (tlv.tag === TAG.OID) {
    const oid = oidToString(tlv.content);
    const found = CURVE_NAMES.find((name) => CURVES[name].oid === oid);
    if (found === undefined) throw new HsmError('HSM_ERR_DATA_INVALID', `unsupported curve OID ${oid}`);
    return found;
  }
  if (tlv.tag === TAG.PRINTABLE_STRING) {
    // latin1 never throws and maps each byte to one char, so odd bytes just fail the lookup.
    const text = Buffer.from(tlv.content).toString('latin1');
    const found = Object.hasOwn(PRINTABLE_NAMES, text) ? PRINTABLE_NAMES[text] : undefined;
    if (found === undefined) {
      throw new HsmError(
        'HSM_ERR_DATA_INVALID',
        `unsupported curve name ${JSON.stringify(text.slice(0, 64))}`,
      );
    }
    return found;
  }
  if (tlv.tag === TAG.SEQUENCE) {
    throw new HsmError(
      'HSM_ERR_DATA_INVALID',
      'explicit curve parameters are not supported; use a named curve',
    );
  }
  throw new HsmError('HSM_ERR_DATA_INVALID', `CKA_EC_PARAMS has unexpected tag 0x${tlv.tag.toString(16)}`);
}
