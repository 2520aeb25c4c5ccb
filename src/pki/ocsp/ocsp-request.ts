import * as pkijs from 'pkijs';
import { readTlv } from '../../crypto/der.js';
import { invalidInput } from '../pki-errors.js';
import { normaliseSerial } from '../serial.js';

/** id-pkix-ocsp-nonce (RFC 6960 §4.4.1). */
export const OCSP_NONCE_OID = '1.3.6.1.5.5.7.48.1.2';
/** Largest OCSP request accepted. */
export const MAX_OCSP_REQUEST_BYTES = 16 * 1024;
/** Most CertIDs in one request. */
export const MAX_OCSP_CERT_IDS = 16;

const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/** One CertID of a request, decoded. */
export interface OcspCertId {
  /** Node hash name of hashAlgorithm. */
  hash: string;
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  /** Lowercase hex serial. */
  serial: string;
  /** The CertID as received (echoed in the response). */
  certId: pkijs.CertID;
}

/** A decoded OCSP request. */
export interface OcspRequestInfo {
  ids: OcspCertId[];
  /** The nonce extension, when the client sent one (echoed in the response). */
  nonce?: pkijs.Extension;
}

/** Parses a DER OCSPRequest; anything malformed is HSM_ERR_INVALID_INPUT (→ malformedRequest). */
export function parseOcspRequest(der: Uint8Array): OcspRequestInfo {
  if (der.length === 0 || der.length > MAX_OCSP_REQUEST_BYTES)
    throw invalidInput('OCSP request size out of range');
  // pkijs reads the first element and ignores what follows; an OCSP request is exactly one DER SEQUENCE.
  let outer: ReturnType<typeof readTlv>;
  try {
    outer = readTlv(der, 0);
  } catch (err) {
    throw invalidInput('the OCSP request is not DER', err);
  }
  if (outer.end !== der.length) throw invalidInput('the OCSP request has trailing bytes');
  let req: pkijs.OCSPRequest;
  try {
    req = pkijs.OCSPRequest.fromBER(new Uint8Array(der));
  } catch (err) {
    throw invalidInput('the OCSP request is not DER OCSPRequest', err);
  }
  const list = req.tbsRequest.requestList;
  if (list.length === 0 || list.length > MAX_OCSP_CERT_IDS) {
    throw invalidInput(`an OCSP request needs 1..${MAX_OCSP_CERT_IDS} CertIDs`);
  }
  const ids = list.map((r) => {
    const c = r.reqCert;
    const hash = HASHES[c.hashAlgorithm.algorithmId];
    if (!hash) throw invalidInput(`unsupported CertID hash ${c.hashAlgorithm.algorithmId}`);
    return {
      hash,
      issuerNameHash: new Uint8Array(c.issuerNameHash.valueBlock.valueHexView),
      issuerKeyHash: new Uint8Array(c.issuerKeyHash.valueBlock.valueHexView),
      serial: normaliseSerial(Buffer.from(c.serialNumber.valueBlock.valueHexView).toString('hex')),
      certId: c,
    };
  });
  const nonce = req.tbsRequest.requestExtensions?.find((e) => e.extnID === OCSP_NONCE_OID);
  if (nonce) {
    const len = nonce.extnValue.valueBlock.valueHexView.length;
    // RFC 8954: a nonce of 1..32 octets (plus its OCTET STRING header).
    if (len < 3 || len > 34) throw invalidInput('the OCSP nonce must be 1..32 octets');
  }
  return nonce ? { ids, nonce } : { ids };
}
