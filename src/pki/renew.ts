import { finishCertificate } from './certificate-signer.js';
import { type IssuedCertificate, loadCa, prepareLeaf, recordLeaf } from './issue.js';
import type { PkiDeps } from './pki-deps.js';
import { invalidInput, policyRefusal } from './pki-errors.js';
import { getLeafProfile } from './profiles.js';
import { parseSerial } from './revocation.js';
import { SubjectAlternativeNameExtension, X509Certificate } from './x509.js';

/** How a renewal treats the key: keep the certified key, or generate a new one in the HSM. */
export type RenewMode = 'reuse-key' | 'rekey';

/** A renewed certificate, and for a re-key the new key's URI and the archived old one. */
export interface RenewedCertificate extends IssuedCertificate {
  renewedFrom: string;
  newKeyUri?: string;
  archivedKeyUri?: string;
}

/**
 * Renews a certificate under the same CA, profile, subject and names, for the same length of
 * validity (capped by policy as on first issue). `rekey` generates a key of the same type in the
 * HSM, certifies it, and marks the old key archived with `replacedBy` → new and `replaces` ← old
 * tags: the old key stays in the HSM and can still verify, but PKI signing refuses it.
 */
export async function renewCertificate(
  deps: PkiDeps,
  serialText: string,
  mode: RenewMode,
  newKeyLabel?: string,
): Promise<RenewedCertificate> {
  const serial = parseSerial(serialText);
  const rec = await deps.repo.getCertificate(serial);
  if (!rec) throw invalidInput(`no certificate with serial ${serial}`);
  if (rec.status === 'revoked')
    throw policyRefusal(`certificate ${serial} is revoked; issue a new one instead`);
  const profile = getLeafProfile(rec.profile);
  const old = new X509Certificate(Buffer.from(rec.der));
  const san = old.getExtension(SubjectAlternativeNameExtension);
  const validityMs = old.notAfter.getTime() - old.notBefore.getTime();
  const issuer = await loadCa(deps, rec.ca);
  let spki: Uint8Array = new Uint8Array(old.publicKey.rawData);
  let newKeyUri: string | undefined;
  if (mode === 'rekey') {
    if (!rec.keyUri)
      throw invalidInput(`certificate ${serial} is not for an HSM key hsmkit holds; rekey needs one`);
    const oldKey = await deps.km.getKey(rec.keyUri);
    const created = await deps.km.createKey({
      label: newKeyLabel ?? `${oldKey.label}-${serial.slice(0, 8)}-rekey`,
      type: oldKey.type as never,
      metadata: {
        ...(oldKey.metadata?.purpose ? { purpose: oldKey.metadata.purpose } : {}),
        tags: { ...(oldKey.metadata?.tags ?? {}), replaces: oldKey.uri },
      },
    });
    newKeyUri = created.uri;
    spki = await deps.km.getPublicKey(created.uri);
  }
  const subject = { subject: old.subjectName, spki, sans: san ? san.names.toJSON() : [] };
  const prep = await prepareLeaf(deps, issuer, profile, subject, validityMs);
  const cert = await finishCertificate(prep, deps.signer);
  const issued = await recordLeaf(deps, issuer, profile, cert, serial);
  const out: RenewedCertificate = { ...issued, renewedFrom: serial };
  if (newKeyUri !== undefined && rec.keyUri) {
    const oldRecord = await deps.keys.get(rec.keyUri);
    await deps.keys.update(rec.keyUri, {
      status: 'archived',
      tags: { ...(oldRecord?.tags ?? {}), replacedBy: newKeyUri },
    });
    out.newKeyUri = newKeyUri;
    out.archivedKeyUri = rec.keyUri;
  }
  return out;
}
