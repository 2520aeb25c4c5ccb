import { paramsDigest } from '../audit/audit-record.js';
import { HsmError } from '../errors/index.js';
import { evaluatePolicy, violation } from '../policy/policy-engine.js';
import type { Actor } from '../policy/policy-request.js';
import type { Operation } from '../policy/vocabulary.js';
import type { ServiceRuntime } from './service-deps.js';

/**
 * RBAC at the route: whether the actor's role is granted `operation` on some key, decided by the
 * access policy before the handler runs (so a role without the grant learns nothing, not even
 * whether a key exists). A refusal is recorded in the audit log like the governor's own, and is
 * HSM_ERR_POLICY_VIOLATION naming the rule. The governor decides again per key inside the handler.
 */
export async function checkRouteAccess(
  runtime: ServiceRuntime,
  actor: Actor,
  operation: Operation,
  correlationId: string,
  route: string,
): Promise<void> {
  const policy = runtime.policy();
  const req = { actor, operation };
  const decision = evaluatePolicy(policy.document, req);
  if (decision.allowed) return;
  const err = violation(policy, req, decision.rule, decision.reason);
  await recordDenied(runtime, actor, operation, correlationId, route, err, decision.rule);
  throw err;
}

/** Refuses a role the identity may not take (header X-Hsmkit-Role), recorded as denied. */
export async function refuseRole(
  runtime: ServiceRuntime,
  actor: Actor,
  correlationId: string,
  route: string,
): Promise<never> {
  const rule = 'service.identities';
  const err = new HsmError(
    'HSM_ERR_POLICY_VIOLATION',
    `identity ${actor.name} may not act as ${actor.role}`,
    {
      details: { rule },
    },
  );
  await recordDenied(runtime, actor, 'service.role', correlationId, route, err, rule);
  throw err;
}

async function recordDenied(
  runtime: ServiceRuntime,
  actor: Actor,
  operation: string,
  correlationId: string,
  route: string,
  err: HsmError,
  rule: string,
): Promise<void> {
  await runtime.audit({
    timestamp: new Date().toISOString(),
    actor: actor.name,
    role: actor.role,
    authMethod: actor.authMethod,
    operation,
    paramsDigest: paramsDigest({ route }),
    result: 'denied',
    errorCode: err.code,
    rule,
    latencyMs: 0,
    correlationId,
    policyVersion: runtime.policy().version,
  });
}
