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
 * Creates a CA: checks everything that can be checked first (name free, subject, validity cap,
 * parent is a CA whose path length allows another level), generates the key in the HSM with the
 * CA profile's metadata, lints a throw-away copy, has the HSM sign (the parent's key, or the new
 * key for a root), compares the TBS and stores the CA. If a step after key generation fails, the
 * new key is destroyed again so no orphan key is left.
 */
export async function initCa(deps: PkiDeps, req: InitCaRequest): Promise<InitializedCa> {
  if (!CA_NAME.test(req.name ?? ''))
    throw invalidInput(`CA name "${printable(req.name ?? '')}" is not allowed`);
  if (await deps.repo.getCa(req.name)) throw invalidInput(`a CA named "${req.name}" exists`);
  const subject = parseSubject(req.subject);
  const spec = parseKeyType(req.keyType);
  keyAlgorithms(spec.type); // refuses key types that cannot sign certificates, before any keygen
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
  let parent: Issuer | undefined;
  let pathLength = req.pathLength;
  if (req.parent !== undefined) {
    const rec = await deps.repo.getCa(req.parent);
    if (!rec) throw invalidInput(`no CA named "${printable(req.parent)}"`);
    parent = await issuerOf(deps.km, rec, deps.now());
    pathLength = childPathLength(parent, req.pathLength);
    if (notAfter > parent.certificate.notAfter) {
      throw policyRefusal(`the validity ends after the parent CA "${parent.name}" expires`);
    }
  }

  const created = await deps.km.createKey({
    label: req.keyLabel ?? `ca-${req.name}`,
    type: spec.type,
    metadata: { purpose: profile.name, tags: { ca: req.name } },
  });
  try {
    const key = await resolveSigningKey(deps.km, created.uri);
    const extensions = await profileExtensions({
      profile,
      spki: key.spki,
      sans: [],
      ...(parent ? { authorityKeyId: parent.keyId } : {}),
      ...(pathLength === undefined ? {} : { pathLength }),
    });
    const draft: CertificateDraft = {
      serial: await newSerial(deps.km),
      subject,
      issuer: parent ? parent.certificate.subjectName : subject,
      notBefore,
      notAfter,
      spki: key.spki,
      extensions,
    };
    const signingKey = parent ? parent.key : key;
    const lint = {
      profile,
      maxValidityDays: deps.policy.maxValidityDays[profile.name],
      ...(parent ? { issuer: parent.certificate } : {}),
    };
    const certificate = await finishCertificate(
      await prepareCertificate(draft, signingKey, lint),
      deps.signer,
    );
    const der = new Uint8Array(certificate.rawData);
    const ca = await deps.repo.insertCa({
      name: req.name,
      keyUri: key.uri,
      keyType: key.keyType,
      serial: certificate.serialNumber,
      certificate: der,
      ...(parent ? { parent: parent.name } : {}),
    });
    await deps.repo.insertCertificate({
      serial: certificate.serialNumber,
      ca: parent ? parent.name : req.name,
      profile: profile.name,
      subject: certificate.subject,
      notBefore: certificate.notBefore.toISOString(),
      notAfter: certificate.notAfter.toISOString(),
      der,
      keyUri: key.uri,
    });
    return { ca, certificate };
  } catch (err) {
    if (isKeyDeleter(deps.km)) await deps.km.deleteKey(created.uri).catch(() => undefined);
    throw err;
  }
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
