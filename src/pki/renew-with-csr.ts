import { finishCertificate } from './certificate-signer.js';
import { parseCsr } from './csr.js';
import { loadCa, prepareLeaf, recordLeaf } from './issue.js';
import type { PkiDeps } from './pki-deps.js';
import { invalidInput, policyRefusal } from './pki-errors.js';
import { getLeafProfile } from './profiles.js';
import type { RenewedCertificate } from './renew.js';
import { parseSerial } from './revocation.js';
import { SubjectAlternativeNameExtension, X509Certificate } from './x509.js';

/**
 * Renews a certificate for the key in a new CSR (a key hsmkit does not hold, rotated by its owner):
 * same CA, profile, subject, names and length of validity as the old certificate. The CSR proves
 * possession of the new key (its self-signature is verified); what it asks for beyond the key is
 * ignored, so a renewal can never widen the names the CA once certified.
 */
export async function renewWithCsr(
  deps: PkiDeps,
  serialText: string,
  csrBytes: Uint8Array,
): Promise<RenewedCertificate> {
  const serial = parseSerial(serialText);
  const rec = await deps.repo.getCertificate(serial);
  if (!rec) throw invalidInput(`no certificate with serial ${serial}`);
  if (rec.status === 'revoked')
    throw policyRefusal(`certificate ${serial} is revoked; issue a new one instead`);
  const csr = parseCsr(csrBytes);
  const profile = getLeafProfile(rec.profile);
  const old = new X509Certificate(Buffer.from(rec.der));
  const san = old.getExtension(SubjectAlternativeNameExtension);
  const validityMs = old.notAfter.getTime() - old.notBefore.getTime();
  const issuer = await loadCa(deps, rec.ca);
  const subject = { subject: old.subjectName, spki: csr.spki, sans: san ? san.names.toJSON() : [] };
  const prep = await prepareLeaf(deps, issuer, profile, subject, validityMs);
  const cert = await finishCertificate(prep, deps.signer);
  const issued = await recordLeaf(deps, issuer, profile, cert, serial);
  return { ...issued, renewedFrom: serial };
}
