import { HsmError, toHsmError } from '../errors/index.js';
import type { CertificateRecord } from '../store/pki-records.js';
import { batchingTbsSigner } from './batching-signer.js';
import {
  type CertificateDraft,
  finishCertificate,
  type PreparedCertificate,
  prepareCertificate,
} from './certificate-signer.js';
import { parseCsr } from './csr.js';
import { profileExtensions } from './extensions.js';
import { type Issuer, issuerOf } from './issuer.js';
import type { PkiDeps } from './pki-deps.js';
import { invalidInput, policyRefusal } from './pki-errors.js';
import { checkSubjectKey, checkValidity } from './policy.js';
import { getLeafProfile, type Profile } from './profiles.js';
import { newSerial } from './serial.js';
import type { JsonGeneralName, Name, X509Certificate } from './x509.js';

/** A request to issue a certificate from a CSR. */
export interface IssueRequest {
  /** Issuing CA name. */
  ca: string;
  /** The CSR, PEM or DER. */
  csr: Uint8Array;
  /** Leaf profile name. */
  profile: string;
  /** Validity in ms; default the profile's. */
  validityMs?: number;
}

/** An issued certificate and its store record. */
export interface IssuedCertificate {
  certificate: X509Certificate;
  record: CertificateRecord;
}

/** What is certified: subject, key and names, wherever they came from (CSR or a renewal). */
export interface LeafSubject {
  subject: Name;
  spki: Uint8Array;
  sans: JsonGeneralName[];
}

/** The CA called `name`, ready to sign. */
export async function loadCa(deps: PkiDeps, name: string): Promise<Issuer> {
  const ca = await deps.repo.getCa(name);
  if (!ca) throw new HsmError('HSM_ERR_INVALID_INPUT', `no CA named "${String(name).slice(0, 64)}"`);
  return issuerOf(deps.km, ca, deps.now());
}

/**
 * Applies profile and policy to a subject and lints a throw-away copy; nothing is signed yet.
 * Refusals: subject key below policy, SAN kinds or rules the profile forbids, validity above the
 * cap or beyond the CA's own validity (all HSM_ERR_POLICY).
 */
export async function prepareLeaf(
  deps: PkiDeps,
  issuer: Issuer,
  profile: Profile,
  leaf: LeafSubject,
  validityMs: number | undefined,
): Promise<PreparedCertificate> {
  checkSubjectKey(leaf.spki, deps.policy);
  const validity = validityMs ?? profile.defaultValidityDays * 86_400_000;
  checkValidity(profile.name, validity, deps.policy);
  for (const n of leaf.sans) {
    if (!(profile.sanKinds as string[]).includes(n.type)) {
      throw policyRefusal(`profile ${profile.name} does not allow ${n.type} names`);
    }
  }
  if (profile.sanRequired && !leaf.sans.some((n) => n.type === 'dns' || n.type === 'ip')) {
    throw policyRefusal(`profile ${profile.name} needs at least one dns: or ip: name in the request`);
  }
  const notBefore = wholeSecond(deps.now());
  const notAfter = new Date(notBefore.getTime() + validity);
  if (notAfter > issuer.certificate.notAfter) {
    throw policyRefusal(
      `the validity ends after CA "${issuer.name}" expires (${issuer.certificate.notAfter.toISOString()})`,
    );
  }
  const draft: CertificateDraft = {
    serial: await newSerial(deps.km),
    subject: leaf.subject,
    issuer: issuer.certificate.subjectName,
    notBefore,
    notAfter,
    spki: leaf.spki,
    extensions: await profileExtensions({
      profile,
      spki: leaf.spki,
      authorityKeyId: issuer.keyId,
      sans: leaf.sans,
    }),
  };
  return prepareCertificate(draft, issuer.key, {
    profile,
    maxValidityDays: deps.policy.maxValidityDays[profile.name],
    issuer: issuer.certificate,
  });
}

/** Stores a signed leaf with status good, linking it to the HSM key when hsmkit holds that key. */
export async function recordLeaf(
  deps: PkiDeps,
  issuer: Issuer,
  profile: Profile,
  cert: X509Certificate,
  renewedFrom?: string,
): Promise<IssuedCertificate> {
  const keyUri = await deps.repo.findKeyUriBySpki(new Uint8Array(cert.publicKey.rawData));
  const record = await deps.repo.insertCertificate({
    serial: cert.serialNumber,
    ca: issuer.name,
    profile: profile.name,
    subject: cert.subject,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    der: new Uint8Array(cert.rawData),
    ...(keyUri === undefined ? {} : { keyUri }),
    ...(renewedFrom === undefined ? {} : { renewedFrom }),
  });
  return { certificate: cert, record };
}

/** Verifies a CSR, applies profile and policy, has the CA sign in the HSM, and stores the result. */
export async function issueFromCsr(deps: PkiDeps, req: IssueRequest): Promise<IssuedCertificate> {
  const profile = getLeafProfile(req.profile);
  const csr = parseCsr(req.csr);
  const issuer = await loadCa(deps, req.ca);
  const prep = await prepareLeaf(deps, issuer, profile, csr, req.validityMs);
  const cert = await finishCertificate(prep, deps.signer);
  return recordLeaf(deps, issuer, profile, cert);
}

/** One result of {@link issueBatch}: the certificate, or the error for that CSR alone. */
export type BatchIssueResult = { ok: true; issued: IssuedCertificate } | { ok: false; error: HsmError };

/**
 * Issues many CSRs under one CA and profile. Every CSR is verified and linted first; the HSM then
 * signs all the good ones in one batch (KeyManager.signBatch). A bad CSR fails alone.
 */
export async function issueBatch(
  deps: PkiDeps,
  req: Omit<IssueRequest, 'csr'> & { csrs: Uint8Array[] },
): Promise<BatchIssueResult[]> {
  if (req.csrs.length === 0) throw invalidInput('no CSRs given');
  const profile = getLeafProfile(req.profile);
  const issuer = await loadCa(deps, req.ca);
  const prepared = await Promise.all(
    req.csrs.map(async (bytes) => {
      try {
        return {
          ok: true as const,
          prep: await prepareLeaf(deps, issuer, profile, parseCsr(bytes), req.validityMs),
        };
      } catch (err) {
        return { ok: false as const, error: toHsmError(err) };
      }
    }),
  );
  const signer = batchingTbsSigner(deps.km);
  // All finishCertificate calls reach the signer in the same tick, so they travel as one batch.
  return Promise.all(
    prepared.map(async (p): Promise<BatchIssueResult> => {
      if (!p.ok) return p;
      try {
        const cert = await finishCertificate(p.prep, signer);
        return { ok: true, issued: await recordLeaf(deps, issuer, profile, cert) };
      } catch (err) {
        return { ok: false, error: toHsmError(err) };
      }
    }),
  );
}

function wholeSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}
