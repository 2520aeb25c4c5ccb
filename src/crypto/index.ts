/** Pure encoders/decoders around the raw values PKCS#11 tokens return. */
export {
  CURVE_NAMES,
  CURVES,
  type CurveInfo,
  type CurveName,
  curveFromEcParams,
  curveInfo,
  isCurveName,
} from './curves.js';
export {
  assertBytes,
  concatBytes,
  derLength,
  derOid,
  derTlv,
  oidToString,
  readTlv,
  readWhole,
  TAG,
  type Tlv,
} from './der.js';
export { digestInfo, HASH_SIZES, type HashName, hashData, isHashName, parseHashName } from './digest-info.js';
export { ecPointSize, unwrapEcPoint } from './ec-point.js';
export { ecdsaDerToRaw, ecdsaRawToDer } from './ecdsa-signature.js';
export {
  describeSpki,
  ecSpki,
  ML_DSA,
  ML_KEM,
  type MlDsaSet,
  type MlKemSet,
  mlDsaSpki,
  mlKemSpki,
  rsaSpki,
  type SpkiDescription,
  spkiToPem,
} from './public-key.js';
