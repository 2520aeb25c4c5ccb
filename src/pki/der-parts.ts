import { readTlv, readWhole, TAG } from '../crypto/der.js';

/**
 * The to-be-signed part of a signed X.509 structure (certificate, CRL, CSR): the first element of
 * the outer SEQUENCE, with its header. Throws HSM_ERR_DATA_INVALID on malformed DER.
 */
export function tbsOf(signedDer: Uint8Array): Uint8Array {
  const outer = readWhole(signedDer, TAG.SEQUENCE, 'signed structure');
  const tbs = readTlv(outer.content, 0);
  return outer.content.subarray(0, tbs.end);
}
