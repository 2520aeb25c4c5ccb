import { createHash } from 'node:crypto';
import type * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { verifyChain } from './chain-verify.js';
import { CMS_OID } from './cms-sign.js';
import { invalidInput } from './pki-errors.js';
import { verifySignature, type WebSignatureAlgorithm } from './signature-verify.js';
import { X509Certificate } from './x509.js';

/** What a verified CMS signature says. */
export interface CmsVerification {
  /** Signer certificate subject. */
  signer: string;
  /** Signer certificate serial (hex). */
  serial: string;
  signingTime?: Date;
  /** The signed content (the detached content given, or the encapsulated one). */
  content: Uint8Array;
}

const DIGESTS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

const SIG_ALGS: Record<string, WebSignatureAlgorithm> = {
  '1.2.840.113549.1.1.11': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
  '1.2.840.10045.4.3.2': { name: 'ECDSA', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { name: 'ECDSA', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { name: 'ECDSA', hash: 'SHA-512' },
  '1.3.101.112': { name: 'Ed25519' },
};

/**
 * Verifies a CMS SignedData (DER) made by signCms or any RFC 5652 signer with one SignerInfo:
 * the messageDigest attribute against the content, the signature over the signed attributes with
 * the signer certificate, and the certificate's chain to `anchors`. Failure is HSM_ERR_INVALID_INPUT.
 */
export function verifyCms(
  der: Uint8Array,
  detachedContent: Uint8Array | undefined,
  anchors: Uint8Array[],
  at: Date,
): CmsVerification {
  let sd: pkijs.SignedData;
  try {
    const info = pkijs.ContentInfo.fromBER(new Uint8Array(der));
    if (info.contentType !== CMS_OID.signedData) throw new Error('not SignedData');
    sd = new pkijs.SignedData({ schema: info.content });
  } catch (err) {
    throw invalidInput('the signature is not a CMS SignedData', err);
  }
  const encap = sd.encapContentInfo.eContent?.getValue();
  const content = detachedContent ?? (encap ? new Uint8Array(encap) : undefined);
  if (!content) throw invalidInput('the signature is detached: give the signed content');
  if (sd.signerInfos.length !== 1) throw invalidInput('exactly one signer is supported');
  const si = sd.signerInfos[0]!;
  const certs = (sd.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
  const sid = si.sid as pkijs.IssuerAndSerialNumber;
  const signerCert = certs.find(
    (c) =>
      sid instanceof pkijs.IssuerAndSerialNumber &&
      c.serialNumber.isEqual(sid.serialNumber) &&
      c.issuer.isEqual(sid.issuer),
  );
  if (!signerCert) throw invalidInput('the signer certificate is not in the signature');
  const hash = DIGESTS[si.digestAlgorithm.algorithmId];
  const sigAlg = SIG_ALGS[si.signatureAlgorithm.algorithmId];
  if (!hash || !sigAlg) throw invalidInput('unsupported digest or signature algorithm');
  if (!si.signedAttrs) throw invalidInput('signed attributes are required');
  const attr = (oid: string) => si.signedAttrs!.attributes.find((a) => a.type === oid)?.values[0];
  const md = attr(CMS_OID.messageDigest) as asn1js.OctetString | undefined;
  const digest = createHash(hash).update(content).digest();
  if (!md || !Buffer.from(md.valueBlock.valueHexView).equals(digest)) {
    throw invalidInput('the content does not match the signature (messageDigest differs)');
  }
  const signed = new Uint8Array(si.signedAttrs.encodedValue);
  signed[0] = 0x31;
  const spki = new Uint8Array(signerCert.subjectPublicKeyInfo.toSchema().toBER());
  if (!verifySignature(sigAlg, spki, signed, new Uint8Array(si.signature.valueBlock.valueHexView))) {
    throw invalidInput('the CMS signature does not verify');
  }
  const certDer = (c: pkijs.Certificate) => new Uint8Array(c.toSchema(true).toBER());
  verifyChain(certDer(signerCert), certs.filter((c) => c !== signerCert).map(certDer), anchors, at);
  const time = attr(CMS_OID.signingTime) as asn1js.UTCTime | undefined;
  const out: CmsVerification = {
    signer: new X509Certificate(Buffer.from(certDer(signerCert))).subject,
    serial: Buffer.from(signerCert.serialNumber.valueBlock.valueHexView).toString('hex'),
    content,
  };
  if (time?.toDate) out.signingTime = time.toDate();
  return out;
}
