/**
 * The PKI store as a migration sees it: which certificates certify a key, which CA a key belongs
 * to, and re-issue of a certificate for a re-keyed key under the same CA, profile, subject, names
 * and validity length (the CA signs in its own HSM, through the PKI layer, as for any issue).
 */
import { toHsmError } from '../errors/index.js';
import { finishCertificate } from '../pki/certificate-signer.js';
import { loadCa, prepareLeaf, recordLeaf } from '../pki/issue.js';
import { toPem } from '../pki/pem.js';
import type { PkiDeps } from '../pki/pki-deps.js';
import { invalidInput, policyRefusal } from '../pki/pki-errors.js';
import { getLeafProfile, LEAF_PROFILES } from '../pki/profiles.js';
import { SubjectAlternativeNameExtension, X509Certificate } from '../pki/x509.js';
import type { CaRef, CertificateDirectory, CertificateRef } from './ports.js';

/** A {@link CertificateDirectory} over the PKI store and key manager of the source. */
export function pkiCertificateDirectory(deps: PkiDeps): CertificateDirectory {
  const spkiOf = (der: Uint8Array) => Buffer.from(new X509Certificate(Buffer.from(der)).publicKey.rawData);
  return {
    /** End-entity certificates only (leaf profiles). */
    async certificatesFor(spki) {
      const want = Buffer.from(spki);
      const out: CertificateRef[] = [];
      for (const ca of await deps.repo.listCas()) {
        for (const rec of await deps.repo.listCertificates(ca.name)) {
          // A CA's own certificate is not re-issued like a leaf: casFor lists it for cross-certification.
          if (!(LEAF_PROFILES as readonly string[]).includes(rec.profile)) continue;
          if (!spkiOf(rec.der).equals(want)) continue;
          out.push({
            serial: rec.serial,
            subject: rec.subject,
            ca: rec.ca,
            profile: rec.profile,
            notAfter: rec.notAfter,
            status: rec.status,
          });
        }
      }
      return out;
    },
    async casFor(spki) {
      const want = Buffer.from(spki);
      return (await deps.repo.listCas())
        .filter((ca) => spkiOf(ca.certificate).equals(want))
        .map((ca): CaRef => {
          const ref: CaRef = {
            name: ca.name,
            serial: ca.serial,
            subject: new X509Certificate(Buffer.from(ca.certificate)).subject,
          };
          if (ca.parent !== undefined) ref.parent = ca.parent;
          return ref;
        });
    },
    async caReachable(ca) {
      try {
        await loadCa(deps, ca);
        return { ok: true };
      } catch (err) {
        const e = toHsmError(err);
        return { ok: false, code: e.code, reason: e.message };
      }
    },
    async reissue(serial, spki) {
      const rec = await deps.repo.getCertificate(serial);
      if (!rec) throw invalidInput(`no certificate with serial ${serial}`);
      if (rec.status === 'revoked')
        throw policyRefusal(`certificate ${serial} is revoked; it is not re-issued`);
      const profile = getLeafProfile(rec.profile);
      const old = new X509Certificate(Buffer.from(rec.der));
      const san = old.getExtension(SubjectAlternativeNameExtension);
      const issuer = await loadCa(deps, rec.ca);
      const prep = await prepareLeaf(
        deps,
        issuer,
        profile,
        { subject: old.subjectName, spki, sans: san ? san.names.toJSON() : [] },
        old.notAfter.getTime() - old.notBefore.getTime(),
      );
      const cert = await finishCertificate(prep, deps.signer);
      const issued = await recordLeaf(deps, issuer, profile, cert, serial);
      return {
        serial: issued.record.serial,
        ca: issuer.name,
        pem: toPem(new Uint8Array(cert.rawData), 'CERTIFICATE'),
      };
    },
  };
}
