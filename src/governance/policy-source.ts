import type { HsmkitConfig } from '../config/schema.js';
import { bootstrapPolicy } from '../policy/bootstrap-policy.js';
import { parsePolicyDocument } from '../policy/policy-document.js';
import type { ActivePolicy } from '../policy/policy-engine.js';
import type { PolicyRepository } from '../store/policy-repository.js';

/** The policy in force: the active stored version, else the bootstrap policy built from the config. */
export async function loadActivePolicy(
  repo: PolicyRepository,
  security: HsmkitConfig['securityPolicy'],
): Promise<ActivePolicy> {
  const active = await repo.active();
  if (active === undefined) return bootstrapPolicy(security);
  return {
    version: active.version,
    hash: active.hash,
    document: parsePolicyDocument(active.document, `policy version ${active.version}`),
  };
}
