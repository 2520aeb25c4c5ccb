/** CKA_EC_POINT handling: tokens disagree on whether the point is DER-wrapped. */
import { HsmError } from '../errors/index.js';
import { type CurveName, curveInfo } from './curves.js';
import { assertBytes, readTlv, TAG } from './der.js';

/** Size of the bare public point: uncompressed SEC1 for Weierstrass, the raw key for Edwards. */
export function ecPointSize(curve: CurveName): number {
  const info = curveInfo(curve);
  return info.kind === 'weierstrass' ? 1 + 2 * info.fieldBytes : info.fieldBytes;
}

/** Returns the bare public point from CKA_EC_POINT, whether the token DER-wrapped it or not. */
export function unwrapEcPoint(attr: Uint8Array, curve: CurveName): Uint8Array {
  assertBytes(attr, 'CKA_EC_POINT');
  const info = curveInfo(curve);
  const size = ecPointSize(curve);
  // PKCS#11 says OCTET STRING, but some tokens return the bare point. The sizes never collide
  // (the wrapper adds at least 2 bytes), so the length alone tells the two forms apart.
  if (attr.length === size && (info.kind === 'edwards' || attr[0] === 0x04)) return attr.slice();
  checkCompressed(attr, info.kind, info.fieldBytes, curve);
  const tlv = readTlv(attr, 0);
  if (tlv.tag !== TAG.OCTET_STRING) {
    throw new HsmError(
      'HSM_ERR_DATA_INVALID',
      `CKA_EC_POINT for ${curve} is neither a ${size}-byte point nor an OCTET STRING`,
    );
  }
  if (tlv.end !== attr.length) {
    throw new HsmError('HSM_ERR_DATA_INVALID', `CKA_EC_POINT has ${attr.length - tlv.end} trailing bytes`);
  }
  const point = tlv.content;
  checkCompressed(point, info.kind, info.fieldBytes, curve);
  if (point.length !== size || (info.kind === 'weierstrass' && point[0] !== 0x04)) {
    throw new HsmError(
      'HSM_ERR_DATA_INVALID',
      `CKA_EC_POINT for ${curve} must hold a ${size}-byte ${info.kind === 'weierstrass' ? 'uncompressed ' : ''}point, got ${point.length} bytes`,
    );
  }
  return point.slice();
}

// A compressed point is well-formed but unsupported; say so instead of a vague size error.
function checkCompressed(bytes: Uint8Array, kind: string, fieldBytes: number, curve: CurveName): void {
  if (kind === 'weierstrass' && bytes.length === 1 + fieldBytes && (bytes[0] === 0x02 || bytes[0] === 0x03)) {
    throw new HsmError(
      'HSM_ERR_DATA_INVALID',
      `CKA_EC_POINT for ${curve} is compressed; only uncompressed points are supported`,
    );
  }
}
