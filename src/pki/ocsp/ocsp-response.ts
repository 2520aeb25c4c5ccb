import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { concatBytes, derOid, derTlv } from '../../crypto/der.js';
import type { KeyAlgorithms } from '../key-algorithms.js';

/** OCSPResponseStatus values (RFC 6960 §4.2.1). */
export const OCSP_STATUS = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;

/** What one SingleResponse says. */
export type SingleStatus =
  | { status: 'good' }
  | { status: 'unknown' }
  | { status: 'revoked'; revokedAt: Date; reason: number };

/** One answer inside a response. */
export interface SingleAnswer {
  certId: pkijs.CertID;
  status: SingleStatus;
  thisUpdate: Date;
  nextUpdate: Date;
}

function certStatus(s: SingleStatus): asn1js.BaseBlock {
  if (s.status === 'good')
    return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: new ArrayBuffer(0) });
  if (s.status === 'unknown')
    return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 2 }, valueHex: new ArrayBuffer(0) });
  const value: asn1js.BaseBlock[] = [new asn1js.GeneralizedTime({ valueDate: s.revokedAt })];
  // unspecified (0) is left out, as RFC 5280 asks for CRL entries.
  if (s.reason !== 0) {
    value.push(
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [new asn1js.Enumerated({ value: s.reason })],
      }),
    );
  }
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 1 }, value });
}

/** DER ResponseData (the TBS of a BasicOCSPResponse), responder identified by key hash. */
export function responseDataDer(
  responderKeyHash: Uint8Array,
  producedAt: Date,
  answers: SingleAnswer[],
  nonce?: pkijs.Extension,
): Uint8Array {
  const data = new pkijs.ResponseData({
    responderID: new asn1js.OctetString({ valueHex: responderKeyHash }),
    producedAt,
    responses: answers.map(
      (a) =>
        new pkijs.SingleResponse({
          certID: a.certId,
          certStatus: certStatus(a.status),
          thisUpdate: a.thisUpdate,
          nextUpdate: a.nextUpdate,
        }),
    ),
    ...(nonce ? { responseExtensions: [nonce] } : {}),
  });
  return new Uint8Array(data.toSchema(true).toBER());
}

/** AlgorithmIdentifier DER of a key's signature algorithm. */
export function algorithmIdentifierDer(alg: KeyAlgorithms): Uint8Array {
  return derTlv(
    0x30,
    concatBytes(derOid(alg.signatureOid), alg.nullParams ? new Uint8Array([5, 0]) : new Uint8Array()),
  );
}

/**
 * A complete OCSPResponse (successful) around a signed ResponseData: BasicOCSPResponse with the
 * signature and the responder's certificates, wrapped in responseBytes (id-pkix-ocsp-basic).
 */
export function successfulResponse(
  tbs: Uint8Array,
  alg: KeyAlgorithms,
  signature: Uint8Array,
  certs: Uint8Array[],
): Uint8Array {
  const parts = [tbs, algorithmIdentifierDer(alg), derTlv(0x03, concatBytes(new Uint8Array([0]), signature))];
  if (certs.length > 0) parts.push(derTlv(0xa0, derTlv(0x30, concatBytes(...certs))));
  const basic = derTlv(0x30, concatBytes(...parts));
  const responseBytes = derTlv(0x30, concatBytes(derOid('1.3.6.1.5.5.7.48.1.1'), derTlv(0x04, basic)));
  return derTlv(0x30, concatBytes(new Uint8Array([0x0a, 0x01, 0x00]), derTlv(0xa0, responseBytes)));
}

/** An unsuccessful OCSPResponse (no responseBytes), e.g. malformedRequest. */
export function errorResponse(status: number): Uint8Array {
  return new Uint8Array([0x30, 0x03, 0x0a, 0x01, status]);
}
