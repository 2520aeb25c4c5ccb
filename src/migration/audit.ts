import type { AuditLog } from '../audit/audit-log.js';
import { paramsDigest } from '../audit/audit-record.js';
import type { Actor } from '../policy/policy-request.js';
import type { MigrationAudit, MigrationStep } from './ports.js';

/** What a migration needs of one side's governance to write its step records. */
export interface AuditTarget {
  audit: AuditLog;
  actor: Actor;
  correlationId: string;
  policyVersion: () => number;
}

/**
 * Records each migration step in the audit log of every given side (source and target each keep
 * the whole story), with the same actor, correlation id and policy version the governed key
 * manager's own records of the run carry. Only a digest of the step's parameters is stored, as
 * for every record; the parameters hold fingerprints and labels, never key material or PINs.
 */
export function migrationAudit(targets: AuditTarget[]): MigrationAudit {
  return {
    async record(step: MigrationStep): Promise<void> {
      for (const t of targets) {
        await t.audit.append({
          timestamp: new Date().toISOString(),
          actor: t.actor.name,
          role: t.actor.role,
          authMethod: t.actor.authMethod,
          operation: step.operation,
          paramsDigest: paramsDigest(step.params),
          result: step.result,
          latencyMs: step.latencyMs,
          correlationId: t.correlationId,
          policyVersion: t.policyVersion(),
          ...(step.keyUri === undefined ? {} : { keyUri: step.keyUri }),
          ...(step.member === undefined ? {} : { member: step.member }),
          ...(step.errorCode === undefined ? {} : { errorCode: step.errorCode }),
        });
      }
    },
  };
}
