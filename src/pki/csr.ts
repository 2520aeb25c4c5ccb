import { HsmError } from '../errors/index.js';
import { tbsOf } from './der-parts.js';
import { hsmCrypto, type TbsSigner } from './hsm-crypto.js';
import { parseSans, parseSubject } from './names.js';
import { fromPemOrDer } from './pem.js';
import { invalidInput } from './pki-errors.js';
import { verifySignature } from './signature-verify.js';
import type { SigningKey } from './signing-key.js';
import {
  type JsonGeneralName,
  type Name,
  Pkcs10CertificateRequest,
  Pkcs10CertificateRequestGenerator,
  SubjectAlternativeNameExtension,
} from './x509.js';

/** Largest CSR accepted; a real one is a few kilobytes. */
export const MAX_CSR_BYTES = 64 * 1024;

/** A CSR that parsed and whose self-signature verified. */
export interface VerifiedCsr {
  der: Uint8Array;
  subject: Name;
  /** SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  /** Requested subject alternative names. */
  sans: JsonGeneralName[];
}

/** Builds a PKCS#10 request signed in the HSM by `key`. */
export async function createCsr(
  key: SigningKey,
  subject: string,
  sans: string | undefined,
  signer: TbsSigner,
): Promise<Pkcs10CertificateRequest> {
  const name = parseSubject(subject);
  const names = parseSans(sans);
  const csr = await Pkcs10CertificateRequestGenerator.create(
    {
      name,
      keys: { privateKey: key.cryptoKey, publicKey: key.cryptoKey },
      signingAlgorithm: key.algorithms.web,
      extensions: names.length ? [new SubjectAlternativeNameExtension(names)] : [],
    } as never,
    hsmCrypto(signer),
  );
  // The HSM's output is checked, not trusted: a CSR that does not verify is never written.
  parseCsr(new Uint8Array(csr.rawData));
  return csr;
}

/**
 * Parses a CSR (PEM or DER) and verifies its self-signature. Anything wrong with it, including
 * arbitrary bytes, is HSM_ERR_INVALID_INPUT; nothing else escapes.
 */
export function parseCsr(input: Uint8Array): VerifiedCsr {
  if (!(input instanceof Uint8Array)) throw invalidInput('a CSR must be bytes');
  if (input.length > MAX_CSR_BYTES) throw invalidInput(`the CSR is larger than ${MAX_CSR_BYTES} bytes`);
  let csr: Pkcs10CertificateRequest;
  let der: Uint8Array;
  let tbs: Uint8Array;
  try {
    der = fromPemOrDer(input, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], 'CSR');
    tbs = tbsOf(der);
    csr = new Pkcs10CertificateRequest(Buffer.from(der));
  } catch (err) {
    if (HsmError.is(err, 'HSM_ERR_INVALID_INPUT')) throw err;
    throw invalidInput('the CSR is not a valid PKCS#10 request (DER)', err);
  }
  let spki: Uint8Array;
  let subject: Name;
  let sans: JsonGeneralName[];
  let ok: boolean;
  try {
    spki = new Uint8Array(csr.publicKey.rawData);
    subject = csr.subjectName;
    // Pkcs10CertificateRequest.getExtension matches OID strings only, so look for the class.
    const san = csr.extensions.filter((e) => e instanceof SubjectAlternativeNameExtension);
    if (san.length > 1) throw invalidInput('the CSR requests subjectAltName twice');
    sans = san[0] ? (san[0] as SubjectAlternativeNameExtension).names.toJSON() : [];
    ok = verifySignature(csr.signatureAlgorithm as never, spki, tbs, new Uint8Array(csr.signature));
  } catch (err) {
    throw invalidInput('the CSR could not be read (unsupported algorithm or malformed field)', err);
  }
  if (!ok) throw invalidInput('the CSR signature does not verify: it was not signed by its key');
  return { der, subject, spki, sans };
}
