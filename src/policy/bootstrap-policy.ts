import { createHash } from 'node:crypto';
import type { HsmkitConfig } from '../config/schema.js';
import { validatePolicyDocument } from './policy-document.js';
import type { ActivePolicy } from './policy-engine.js';

/**
 * The policy in force before any policy was applied (version 0): the configuration's
 * `security_policy` block, and every local user acting as `admin` with every permission. It keeps
 * a fresh installation usable; applying a real policy is the first thing an operator should do.
 */
export function bootstrapPolicy(security: HsmkitConfig['securityPolicy']): ActivePolicy {
  const security_policy: Record<string, unknown> = {
    minimum_key_size: { ...security.minimumKeySize },
    key_attributes: { ...security.keyAttributes },
  };
  if (security.allowedMechanisms !== undefined)
    security_policy.allowed_mechanisms = [...security.allowedMechanisms];
  const raw = {
    version: 1,
    name: 'bootstrap (hsmkit.yaml security_policy)',
    security_policy,
    access: { default_role: 'admin', roles: { admin: [{ operations: ['*'], keys: ['*'] }] } },
    // Keys leave an HSM only wrapped under one of hsmkit's trusted, HSM-resident keys: the cluster
    // replication key and the backup KEK (both CKA_TRUSTED, created by SO steps / ceremonies).
    export: { mode: 'wrap_trusted', trusted_wrapping_keys: ['hsmkit-replication', 'hsmkit-backup-kek'] },
  };
  const document = validatePolicyDocument(raw, 'bootstrap policy');
  return { version: 0, hash: createHash('sha256').update(JSON.stringify(raw)).digest('hex'), document };
}
