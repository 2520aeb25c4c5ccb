import { HsmError } from '../errors/index.js';
import type { PolicyDocument } from './policy-document.js';
import type { Decision, PolicyRequest } from './policy-request.js';
import { checkAccess } from './rules/access-rules.js';
import { checkSignAlgorithm } from './rules/algorithm-rules.js';
import { checkExport } from './rules/export-rules.js';
import { checkKeyLifetime, checkKeyStatus, checkKeyStrength, checkNewKey } from './rules/key-rules.js';

/** A policy in force: the document and the stored version it came from (0 = built-in bootstrap). */
export interface ActivePolicy {
  version: number;
  hash: string;
  document: PolicyDocument;
}

/**
 * Decides one operation. Pure: reads nothing but its arguments, so `policy test` and the
 * enforcement point give the same answer. Access comes first, so a role that may not touch a key
 * learns nothing about why else the key would be refused.
 */
export function evaluatePolicy(doc: PolicyDocument, req: PolicyRequest): Decision {
  const now = req.now ?? new Date();
  const refusal =
    checkAccess(doc, req) ??
    (req.operation === 'key.create' && req.key
      ? (checkKeyStrength(doc, req.key) ?? checkNewKey(doc, req.key))
      : undefined) ??
    (req.operation === 'key.sign' && req.key
      ? (checkKeyStatus(req.key) ?? checkKeyStrength(doc, req.key) ?? checkKeyLifetime(doc, req.key, now))
      : undefined) ??
    (req.operation === 'key.sign' && req.algorithm ? checkSignAlgorithm(doc, req.algorithm) : undefined) ??
    (req.operation === 'key.export' ? checkExport(doc, req) : undefined);
  return refusal ?? { allowed: true };
}

/** The error a refusal raises: HSM_ERR_POLICY_VIOLATION naming the rule and the policy version. */
export function violation(policy: ActivePolicy, req: PolicyRequest, rule: string, reason: string): HsmError {
  return new HsmError(
    'HSM_ERR_POLICY_VIOLATION',
    `policy v${policy.version} rule ${rule} refused ${req.operation}: ${reason}`,
    { details: { rule, policyVersion: policy.version, operation: req.operation } },
  );
}
