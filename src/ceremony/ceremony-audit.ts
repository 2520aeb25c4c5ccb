import type { AuditLog } from '../audit/audit-log.js';
import { type AuditResult, paramsDigest } from '../audit/audit-record.js';
import type { Actor } from '../policy/policy-request.js';

/** Where a ceremony's records go, and as whom. */
export interface CeremonyAuditOptions {
  log: AuditLog;
  actor: Actor;
  correlationId: string;
  policyVersion?: number;
}

/**
 * Writes ceremony events (`ceremony.*`) into the hsmkit audit chain: every step, approval,
 * refusal and output. Only hashes and names go in; the parameters themselves are digested.
 * Records of an emergency ceremony are written as `ceremony.break_glass.*`, so the break-glass
 * trail can be filtered out of the log by operation.
 */
export class CeremonyAudit {
  #prefix = 'ceremony';

  constructor(private readonly o: CeremonyAuditOptions) {}

  /** Switches to the break-glass trail for an emergency ceremony. */
  breakGlass(): void {
    this.#prefix = 'ceremony.break_glass';
  }

  /** Appends one record; a failure is HSM_ERR_AUDIT and stops the ceremony (fail closed). */
  async record(
    event: string,
    params: Record<string, unknown>,
    result: AuditResult = 'ok',
    extra: { errorCode?: string; keyUri?: string } = {},
  ): Promise<void> {
    await this.o.log.append({
      timestamp: new Date().toISOString(),
      actor: this.o.actor.name,
      role: this.o.actor.role,
      authMethod: this.o.actor.authMethod,
      operation: `${this.#prefix}.${event}`,
      paramsDigest: paramsDigest(params),
      result,
      latencyMs: 0,
      correlationId: this.o.correlationId,
      ...(this.o.policyVersion === undefined ? {} : { policyVersion: this.o.policyVersion }),
      ...(extra.errorCode === undefined ? {} : { errorCode: extra.errorCode }),
      ...(extra.keyUri === undefined ? {} : { keyUri: extra.keyUri }),
    });
  }
}
