import { certifyCa, planCa } from '../../pki/ca.js';
import { toPem } from '../../pki/pem.js';
import { invalidInput } from '../../pki/pki-errors.js';
import { resolveSigningKey } from '../../pki/signing-key.js';
import { parseValidity } from '../../pki/validity.js';
import type { ActionParams } from '../script-schema.js';
import { keyFacts, type StepContext, type StepResult, writeOutputOnce } from './step-context.js';

type CaParams = ActionParams['create-root-ca'] & { parent?: string };

/**
 * Certifies a key an earlier step generated as a root CA (self-signed) or an intermediate (signed
 * by `parent` in the store), with the PKI layer's own planCa → certifyCa (the draft → lint →
 * HSM-sign → check pipeline `initCa` uses). A ceremony separates generation (its own approved,
 * idempotent step) from certification. Resuming after the CA was stored adopts it instead of
 * signing a second certificate.
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
    const plan = await planCa(deps, {
      name: p.name,
      subject: p.subject,
      validityMs: parseValidity(p.validity),
      ...(p.parent === undefined ? {} : { parent: p.parent }),
      ...(p.path_len === undefined ? {} : { pathLength: p.path_len }),
    });
    const { ca } = await certifyCa(deps, plan, key.uri);
    der = ca.certificate;
    serial = ca.serial;
  }
  const out = writeOutputOnce(ctx.script.path(p.output), toPem(der, 'CERTIFICATE'));
  return {
    outputs: [out],
    keys: [await keyFacts(deps.km, key.uri)],
    details: { ca: p.name, serial, keyUri: key.uri, ...(p.parent ? { parent: p.parent } : {}) },
  };
}
