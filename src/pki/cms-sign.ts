import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { invalidInput } from './pki-errors.js';
import type { PkiKeyManager } from './pki-key-manager.js';
import type { SigningKey } from './signing-key.js';
import type { X509Certificate } from './x509.js';

/** CMS and PKCS#9 OIDs. */
export const CMS_OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  /** id-aa-signatureTimeStampToken (RFC 3161 appendix A). */
  timeStampToken: '1.2.840.113549.1.9.16.2.14',
} as const;

/**
 * An RFC 3161 timestamp hook: given the signature value, returns a TimeStampToken (a DER
 * ContentInfo) from a TSA; it is added as the signer's unsigned attribute.
 */
export type Timestamper = (signature: Uint8Array) => Promise<Uint8Array>;

/** What to sign and how. */
export interface CmsSignRequest {
  key: SigningKey;
  /** The signer's certificate (its public key must be the HSM key's). */
  certificate: X509Certificate;
  /** Further certificates to include (intermediates), signer's issuer first. */
  chain?: X509Certificate[];
  content: Uint8Array;
  /** Leave the content out (detached signature); default false. */
  detached?: boolean;
  signingTime: Date;
  timestamper?: Timestamper;
}

function attribute(type: string, value: asn1js.BaseBlock): pkijs.Attribute {
  return new pkijs.Attribute({ type, values: [value] });
}

/** DER SET OF ordering (X.690 §11.6): compare encodings as octet strings, shorter padded with 0. */
function derSetOrder(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * CMS SignedData (RFC 5652) signed in the HSM: signed attributes contentType, signingTime and
 * messageDigest (in DER SET order, as verifiers re-encode them), the signer certificate and chain,
 * and optionally an RFC 3161 timestamp token. Ed25519 follows RFC 8419 (SHA-512 digest, pure EdDSA
 * over the attributes). Returns a DER ContentInfo.
 */
export async function signCms(km: PkiKeyManager, req: CmsSignRequest): Promise<Uint8Array> {
  const alg = req.key.algorithms;
  const digest = createHash(alg.digest).update(req.content).digest();
  const attrs = [
    attribute(CMS_OID.contentType, new asn1js.ObjectIdentifier({ value: CMS_OID.data })),
    attribute(CMS_OID.signingTime, new asn1js.UTCTime({ valueDate: req.signingTime })),
    attribute(CMS_OID.messageDigest, new asn1js.OctetString({ valueHex: digest })),
  ]
    .map((a) => ({ a, der: new Uint8Array(a.toSchema().toBER()) }))
    .sort((x, y) => derSetOrder(x.der, y.der))
    .map((x) => x.a);
  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: attrs });
  const toSign = new Uint8Array(signedAttrs.toSchema().toBER());
  toSign[0] = 0x31; // signed over as SET OF, not as the [0] IMPLICIT it is stored as
  // X.509-style signature values: ECDSA as DER, which the key manager gives by default.
  const signature = await km.sign({ key: req.key.uri, data: toSign, algorithm: alg.sign });

  const cert = pkijs.Certificate.fromBER(new Uint8Array(req.certificate.rawData));
  const signer = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
    digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: alg.digestOid }),
    signedAttrs,
    signatureAlgorithm: new pkijs.AlgorithmIdentifier({
      algorithmId: alg.signatureOid,
      ...(alg.nullParams ? { algorithmParams: new asn1js.Null() } : {}),
    }),
    signature: new asn1js.OctetString({ valueHex: signature }),
  });
  if (req.timestamper) {
    const token = await req.timestamper(signature);
    const parsed = asn1js.fromBER(token);
    if (parsed.offset === -1) throw invalidInput('the timestamp token is not DER');
    signer.unsignedAttrs = new pkijs.SignedAndUnsignedAttributes({
      type: 1,
      attributes: [attribute(CMS_OID.timeStampToken, parsed.result)],
    });
  }
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [new pkijs.AlgorithmIdentifier({ algorithmId: alg.digestOid })],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: CMS_OID.data,
      ...(req.detached ? {} : { eContent: new asn1js.OctetString({ valueHex: req.content }) }),
    }),
    certificates: [
      cert,
      ...(req.chain ?? []).map((c) => pkijs.Certificate.fromBER(new Uint8Array(c.rawData))),
    ],
    signerInfos: [signer],
  });
  const info = new pkijs.ContentInfo({ contentType: CMS_OID.signedData, content: signedData.toSchema(true) });
  return new Uint8Array(info.toSchema().toBER());
}
