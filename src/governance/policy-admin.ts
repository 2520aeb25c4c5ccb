import { HsmError } from '../errors/index.js';
import { type PolicyDocument, parsePolicyDocument } from '../policy/policy-document.js';
import type { ActivePolicy } from '../policy/policy-engine.js';
import { type PolicyTestResult, runPolicyTests } from '../policy/policy-tests.js';
import { hashDocument, type PolicyRepository, type PolicyVersionRecord } from '../store/policy-repository.js';
import type { Governor } from './governor.js';

/** What `apply` did. */
export interface ApplyOutcome {
  /** `active` when deployed, `pending` when it awaits a second role's approval. */
  status: 'active' | 'pending';
  version: PolicyVersionRecord;
  tests: PolicyTestResult[];
}

/** Validates a document and runs its tests; HSM_ERR_INVALID_INPUT when a test fails. */
export function checkPolicy(
  text: string,
  source: string,
): { doc: PolicyDocument; tests: PolicyTestResult[] } {
  const doc = parsePolicyDocument(text, source);
  const tests = runPolicyTests(doc);
  const failed = tests.filter((t) => !t.passed);
  if (failed.length > 0) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `${source}: ${failed.length} policy test(s) failed: ${failed.map((t) => t.name).join('; ')}`,
      {
        details: { failed },
      },
    );
  }
  return { doc, tests };
}

/**
 * Policy changes, under the policy in force. Applying needs `policy.apply`; under dual control
 * (`governance.dual_control` of the policy in force) it only proposes, and a second actor in a
 * different role approves with `policy.approve` by applying the same document with `approve`.
 */
export class PolicyAdmin {
  constructor(
    private readonly repo: PolicyRepository,
    private readonly governor: Governor,
    private readonly current: () => ActivePolicy,
  ) {}

  /** Deploys (or proposes, or approves) a policy document, only when it validates and its tests pass. */
  async apply(text: string, source: string, approve: boolean): Promise<ApplyOutcome> {
    const { tests } = checkPolicy(text, source);
    const hash = hashDocument(text);
    const actor = this.governor.actor;
    if (approve) {
      const pending = await this.repo.pendingByHash(hash);
      return this.governor.run({ operation: 'policy.approve', params: { hash } }, async () => {
        if (pending === undefined) {
          throw new HsmError('HSM_ERR_INVALID_INPUT', `no pending policy has hash ${hash}; apply it first`);
        }
        if (pending.authorRole === actor.role) {
          throw new HsmError(
            'HSM_ERR_POLICY_VIOLATION',
            'policy rule governance.dual_control refused policy.approve: the approver must act in a different role from the proposer',
            {
              details: { rule: 'governance.dual_control', operation: 'policy.approve' },
            },
          );
        }
        const version = await this.repo.approve(pending.version, `${actor.name}/${actor.role}`);
        return { status: 'active' as const, version, tests };
      });
    }
    const dual = this.current().document.governance.dual_control;
    return this.governor.run({ operation: 'policy.apply', params: { hash, dualControl: dual } }, async () => {
      const version = await this.repo.add({
        document: text,
        author: actor.name,
        authorRole: actor.role,
        status: dual ? 'pending' : 'active',
      });
      return { status: dual ? ('pending' as const) : ('active' as const), version, tests };
    });
  }

  /** Makes an earlier version active again, as a new version (history is never rewritten). */
  async rollback(to: number): Promise<PolicyVersionRecord> {
    return this.governor.run({ operation: 'policy.rollback', params: { to } }, async () => {
      const target = await this.repo.get(to);
      if (target === undefined || target.status === 'pending') {
        throw new HsmError('HSM_ERR_INVALID_INPUT', `policy version ${to} was never applied`);
      }
      checkPolicy(target.document, `policy version ${to}`);
      const actor = this.governor.actor;
      return this.repo.add({
        document: target.document,
        author: actor.name,
        authorRole: actor.role,
        status: 'active',
        rolledBackFrom: to,
      });
    });
  }
}
