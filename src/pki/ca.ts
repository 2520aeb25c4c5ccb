import { isKeyDeleter } from '../kms/key-manager.js';
import { parseKeyType } from '../kms/key-spec.js';
import type { CaRecord } from '../store/pki-records.js';
import { type CertificateDraft, finishCertificate, prepareCertificate } from './certificate-signer.js';
import { profileExtensions } from './extensions.js';
import { type Issuer, issuerOf } from './issuer.js';
import { keyAlgorithms } from './key-algorithms.js';
import { parseSubject } from './names.js';
import type { PkiDeps } from './pki-deps.js';
import { invalidInput, policyRefusal, printable } from './pki-errors.js';
import { checkValidity } from './policy.js';
import { getProfile } from './profiles.js';
import { newSerial } from './serial.js';
import { resolveSigningKey } from './signing-key.js';
import type { X509Certificate } from './x509.js';

/** A request to create a CA: a root, or an intermediate under `parent`. */
export interface InitCaRequest {
  /** CA name (letters, digits, `.`, `_`, `-`; up to 64). */
  name: string;
  /** Subject DN, e.g. `CN=Example Root,O=Example`. */
  subject: string;
  /** HSM key type, e.g. `ec-p384`, `rsa-4096`, `ed25519`. */
  keyType: string;
  /** CKA_LABEL of the new key; default `ca-<name>`. */
  keyLabel?: string;
  /** Issuing CA; absent for a root. */
  parent?: string;
  /** Validity in ms; default the profile's (10 y root, 5 y intermediate). */
  validityMs?: number;
  /** basicConstraints pathLenConstraint. */
  pathLength?: number;
}

/** A CA that was created: its record and certificate. */
export interface InitializedCa {
  ca: CaRecord;
  certificate: X509Certificate;
}

const CA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Everything about a CA that can be decided before its key exists: profile, subject, validity
 * (under the policy cap and inside the parent's), and the path length the parent allows.
 */
export interface CaPlan {
  name: string;
  profile: ReturnType<typeof getProfile>;
  subject: ReturnType<typeof parseSubject>;
  notBefore: Date;
  notAfter: Date;
  parent?: Issuer;
  pathLength?: number;
}

/** What {@link planCa} needs: a CA name and subject, an optional parent, validity and path length. */
export type CaPlanRequest = Pick<InitCaRequest, 'name' | 'subject' | 'parent' | 'validityMs' | 'pathLength'>;

/**
 * Checks a CA request against the store and the policy without touching the HSM beyond reading
 * the parent's key: name free, subject, validity cap, and a parent CA whose path length allows
 * another level and whose certificate outlives the new one.
 */
export async function planCa(deps: PkiDeps, req: CaPlanRequest): Promise<CaPlan> {
  checkCaName(req.name);
  const subject = parseSubject(req.subject);
  const profile = getProfile(req.parent === undefined ? 'root-ca' : 'intermediate-ca');
  const validity = req.validityMs ?? profile.defaultValidityDays * 86_400_000;
  checkValidity(profile.name, validity, deps.policy);
  if (
    req.pathLength !== undefined &&
    (!Number.isInteger(req.pathLength) || req.pathLength < 0 || req.pathLength > 8)
  ) {
    throw invalidInput('path length must be an integer from 0 to 8');
  }
  const notBefore = new Date(Math.floor(deps.now().getTime() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + validity);
  const plan: CaPlan = { name: req.name, profile, subject, notBefore, notAfter };
  if (req.pathLength !== undefined) plan.pathLength = req.pathLength;
  if (req.parent !== undefined) {
    const rec = await deps.repo.getCa(req.parent);
    if (!rec) throw invalidInput(`no CA named "${printable(req.parent)}"`);
    const parent = await issuerOf(deps.km, rec, deps.now());
    const pathLength = childPathLength(parent, req.pathLength);
    if (notAfter > parent.certificate.notAfter) {
      throw policyRefusal(`the validity ends after the parent CA "${parent.name}" expires`);
    }
    plan.parent = parent;
    if (pathLength === undefined) delete plan.pathLength;
    else plan.pathLength = pathLength;
  }
  return plan;
}

/**
 * Certifies an HSM key as the planned CA: the profile's extensions, a throw-away lint of the TBS,
 * the HSM signature (the parent's key, or the key itself for a root), the TBS comparison, and the
 * CA and its certificate stored.
 */
export async function certifyCa(deps: PkiDeps, plan: CaPlan, keyUri: string): Promise<InitializedCa> {
  const { parent, profile, pathLength } = plan;
  const key = await resolveSigningKey(deps.km, keyUri);
  const extensions = await profileExtensions({
    profile,
    spki: key.spki,
    sans: [],
    ...(parent ? { authorityKeyId: parent.keyId } : {}),
    ...(pathLength === undefined ? {} : { pathLength }),
  });
  const draft: CertificateDraft = {
    serial: await newSerial(deps.km),
    subject: plan.subject,
    issuer: parent ? parent.certificate.subjectName : plan.subject,
    notBefore: plan.notBefore,
    notAfter: plan.notAfter,
    spki: key.spki,
    extensions,
  };
  const lint = {
    profile,
    maxValidityDays: deps.policy.maxValidityDays[profile.name],
    ...(parent ? { issuer: parent.certificate } : {}),
  };
  const certificate = await finishCertificate(
    await prepareCertificate(draft, parent ? parent.key : key, lint),
    deps.signer,
  );
  const der = new Uint8Array(certificate.rawData);
  const ca = await deps.repo.insertCa({
    name: plan.name,
    keyUri: key.uri,
    keyType: key.keyType,
    serial: certificate.serialNumber,
    certificate: der,
    ...(parent ? { parent: parent.name } : {}),
  });
  await deps.repo.insertCertificate({
    serial: certificate.serialNumber,
    ca: parent ? parent.name : plan.name,
    profile: profile.name,
    subject: certificate.subject,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    der,
    keyUri: key.uri,
  });
  return { ca, certificate };
}

/**
 * Creates a CA: checks everything that can be checked first ({@link planCa}, plus the name being
 * free and the key type able to sign certificates), generates the key in the HSM with the CA
 * profile's metadata, then certifies it ({@link certifyCa}). If a step after key generation fails,
 * the new key is destroyed again so no orphan key is left.
 */
export async function initCa(deps: PkiDeps, req: InitCaRequest): Promise<InitializedCa> {
  checkCaName(req.name);
  if (await deps.repo.getCa(req.name)) throw invalidInput(`a CA named "${req.name}" exists`);
  const spec = parseKeyType(req.keyType);
  keyAlgorithms(spec.type); // refuses key types that cannot sign certificates, before any keygen
  const plan = await planCa(deps, req);
  const created = await deps.km.createKey({
    label: req.keyLabel ?? `ca-${req.name}`,
    type: spec.type,
    metadata: { purpose: plan.profile.name, tags: { ca: req.name } },
  });
  try {
    return await certifyCa(deps, plan, created.uri);
  } catch (err) {
    if (isKeyDeleter(deps.km)) await deps.km.deleteKey(created.uri).catch(() => undefined);
    throw err;
  }
}

function checkCaName(name: string | undefined): void {
  if (!CA_NAME.test(name ?? '')) throw invalidInput(`CA name "${printable(name ?? '')}" is not allowed`);
}

/** The pathLenConstraint of a new intermediate, refusing what the parent's constraint forbids. */
function childPathLength(parent: Issuer, requested: number | undefined): number | undefined {
  if (parent.pathLength === undefined) return requested;
  if (parent.pathLength === 0) {
    throw policyRefusal(`CA "${parent.name}" has path length 0: it cannot certify another CA`);
  }
  const max = parent.pathLength - 1;
  if (requested !== undefined && requested > max) {
    throw policyRefusal(`path length ${requested} exceeds what CA "${parent.name}" allows (${max})`);
  }
  return requested ?? max;
}
