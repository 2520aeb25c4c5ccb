import { finishCertificate, prepareCertificate } from '../../pki/certificate-signer.js';
import { profileExtensions } from '../../pki/extensions.js';
import { type Issuer, issuerOf } from '../../pki/issuer.js';
import { parseSubject } from '../../pki/names.js';
import { toPem } from '../../pki/pem.js';
import { invalidInput, policyRefusal } from '../../pki/pki-errors.js';
import { checkValidity } from '../../pki/policy.js';
import { getProfile } from '../../pki/profiles.js';
import { newSerial } from '../../pki/serial.js';
import { resolveSigningKey } from '../../pki/signing-key.js';
import { parseValidity } from '../../pki/validity.js';
import type { ActionParams } from '../script-schema.js';
import { keyFacts, type StepContext, type StepResult, writeOutputOnce } from './step-context.js';

type CaParams = ActionParams['create-root-ca'] & { parent?: string };

/**
 * Certifies a key an earlier step generated as a root CA (self-signed) or an intermediate (signed
 * by `parent` in the store), through the PKI layer's draft → lint → HSM-sign → check pipeline.
 * `initCa` always generates its own key; a ceremony separates generation (its own approved,
 * idempotent step) from certification, so this reuses initCa's parts with the ceremony's key.
 * Resuming after the CA was stored adopts it instead of signing a second certificate.
 */
export async function createCa(ctx: StepContext, p: CaParams): Promise<StepResult> {
  const deps = ctx.pki;
  const key = await resolveSigningKey(deps.km, p.key);
  const existing = await deps.repo.getCa(p.name);
  let der: Uint8Array;
  let serial: string;
  if (existing) {
    if (existing.keyUri !== key.uri) throw invalidInput(`a CA named "${p.name}" exists with another key`);
    der = existing.certificate;
    serial = existing.serial;
  } else {
    const profile = getProfile(p.parent === undefined ? 'root-ca' : 'intermediate-ca');
    const validity = parseValidity(p.validity);
    checkValidity(profile.name, validity, deps.policy);
    const notBefore = new Date(Math.floor(deps.now().getTime() / 1000) * 1000);
    const notAfter = new Date(notBefore.getTime() + validity);
    const subject = parseSubject(p.subject);
    let parent: Issuer | undefined;
    let pathLength = p.path_len;
    if (p.parent !== undefined) {
      const rec = await deps.repo.getCa(p.parent);
      if (!rec) throw invalidInput(`no CA named "${p.parent}"`);
      parent = await issuerOf(deps.km, rec, deps.now());
      if (parent.pathLength === 0) throw policyRefusal(`CA "${parent.name}" has path length 0`);
      if (parent.pathLength !== undefined)
        pathLength = Math.min(pathLength ?? parent.pathLength - 1, parent.pathLength - 1);
      if (notAfter > parent.certificate.notAfter)
        throw policyRefusal(`the validity ends after CA "${parent.name}" expires`);
    }
    const extensions = await profileExtensions({
      profile,
      spki: key.spki,
      sans: [],
      ...(parent ? { authorityKeyId: parent.keyId } : {}),
      ...(pathLength === undefined ? {} : { pathLength }),
    });
    const draft = {
      serial: await newSerial(deps.km),
      subject,
      issuer: parent ? parent.certificate.subjectName : subject,
      notBefore,
      notAfter,
      spki: key.spki,
      extensions,
    };
    const lint = {
      profile,
      maxValidityDays: deps.policy.maxValidityDays[profile.name],
      ...(parent ? { issuer: parent.certificate } : {}),
    };
    const cert = await finishCertificate(
      await prepareCertificate(draft, parent ? parent.key : key, lint),
      deps.signer,
    );
    der = new Uint8Array(cert.rawData);
    serial = cert.serialNumber;
    await deps.repo.insertCa({
      name: p.name,
      keyUri: key.uri,
      keyType: key.keyType,
      serial,
      certificate: der,
      ...(parent ? { parent: parent.name } : {}),
    });
    await deps.repo.insertCertificate({
      serial,
      ca: parent ? parent.name : p.name,
      profile: profile.name,
      subject: cert.subject,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      der,
      keyUri: key.uri,
    });
  }
  const out = writeOutputOnce(ctx.script.path(p.output), toPem(der, 'CERTIFICATE'));
  return {
    outputs: [out],
    keys: [await keyFacts(deps.km, key.uri)],
    details: { ca: p.name, serial, keyUri: key.uri, ...(p.parent ? { parent: p.parent } : {}) },
  };
}
