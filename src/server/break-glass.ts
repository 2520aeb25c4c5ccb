import { randomUUID } from 'node:crypto';
import type { AlertInput } from '../alerting/alert-dispatcher.js';
import { type AuditEntry, paramsDigest } from '../audit/audit-record.js';
import type { BreakGlassConfig, ServiceIdentity } from '../config/schema.js';
import { HsmError } from '../errors/index.js';
import type { Actor } from '../policy/policy-request.js';
import type { BreakGlassRecord, BreakGlassRepository } from '../store/break-glass-repository.js';

/** Where break-glass alerts go (the service's AlertDispatcher). */
export interface BreakGlassAlerts {
  raise(input: AlertInput): unknown;
}

/** What the service needs to run break-glass. */
export interface BreakGlassOptions {
  config: BreakGlassConfig;
  repository: BreakGlassRepository;
  /** The service runtime's audit log and policy version (ServiceRuntime satisfies it). */
  runtime: { audit(entry: AuditEntry): Promise<void>; policy(): { version: number } };
  /** Alert sink; absent only in library use (every step is still audited). */
  alerts?: BreakGlassAlerts;
  /** The clock (tests move it past a grant's end); default the system clock. */
  now?: () => Date;
}

/** Audit operations of the break-glass steps. */
export type BreakGlassOperation =
  | 'break_glass.request'
  | 'break_glass.approve'
  | 'break_glass.activate'
  | 'break_glass.use'
  | 'break_glass.expired';

/**
 * Break-glass: an identity asks to act as the configured emergency role; distinct approvers (each
 * a human, so certificate + TOTP, named in the config or holding an approver role, never the
 * requester) approve; at the quorum the requester may take the role (X-Hsmkit-Role) until the
 * grant ends. Every step is an audit record and a critical `break_glass` alert.
 */
export class BreakGlass {
  readonly #now: () => Date;
  /** Grants whose first use was already alerted (id), so a burst of calls alerts once. */
  readonly #used = new Set<string>();

  constructor(private readonly o: BreakGlassOptions) {
    this.#now = o.now ?? (() => new Date());
  }

  /** The emergency role. */
  get role(): string {
    return this.o.config.role;
  }

  /** Opens a pending request for `actor` (an authenticated identity). */
  async request(
    identity: ServiceIdentity,
    actor: Actor,
    reason: string,
    durationMinutes: number,
    correlationId: string,
  ): Promise<BreakGlassRecord> {
    const cfg = this.o.config;
    if (
      !Number.isInteger(durationMinutes) ||
      durationMinutes < 1 ||
      durationMinutes > cfg.maxDurationMinutes
    ) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `duration_minutes must be a whole number from 1 to ${cfg.maxDurationMinutes} (service.break_glass.max_duration_minutes)`,
      );
    }
    if ((identity.roles as readonly string[]).includes(cfg.role)) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `identity ${identity.name} already holds ${cfg.role}; break-glass is for identities that do not`,
      );
    }
    const record = await this.o.repository.create({
      id: randomUUID(),
      requester: identity.name,
      role: cfg.role,
      reason,
      durationMinutes,
      quorum: cfg.quorum,
      createdAt: this.#now().toISOString(),
    });
    await this.#audit(actor, 'break_glass.request', record, 'ok', correlationId);
    this.#alert(
      `${identity.name} requests break-glass role ${cfg.role} for ${durationMinutes} min: ${reason}`,
      record,
      {
        step: 'request',
      },
    );
    return record;
  }

  /**
   * Approves request `id` as `approver`. Refused (HSM_ERR_APPROVAL_REFUSED, audited as denied) for
   * the requester, identities that are not approvers or not human, a second approval by the same
   * identity, and requests no longer pending.
   */
  async approve(
    id: string,
    approver: ServiceIdentity,
    actor: Actor,
    correlationId: string,
  ): Promise<BreakGlassRecord> {
    const found = await this.o.repository.get(id);
    if (!found) throw new HsmError('HSM_ERR_NOT_FOUND', `no break-glass request ${id}`);
    const refuse = async (reason: string, message: string): Promise<never> => {
      const err = new HsmError('HSM_ERR_APPROVAL_REFUSED', message, { details: { reason } });
      await this.#audit(actor, 'break_glass.approve', found, 'denied', correlationId, err.code, reason);
      this.#alert(`break-glass approval of ${id} by ${approver.name} refused: ${message}`, found, {
        step: 'approval-refused',
        reason,
      });
      throw err;
    };
    if (approver.name === found.requester)
      await refuse('self_approval', 'the requester cannot approve their own break-glass request');
    if (!this.#mayApprove(approver))
      await refuse(
        'not_an_approver',
        `identity ${approver.name} is not a break-glass approver (service.break_glass.approvers) or not human (certificate + TOTP)`,
      );
    if (found.status !== 'pending')
      await refuse('not_pending', `the request is ${found.status}, not pending`);
    const result = await this.o.repository.approve(id, approver.name, this.#now());
    if (!result) throw new HsmError('HSM_ERR_NOT_FOUND', `no break-glass request ${id}`);
    if (!result.added) await refuse('already_approved', `${approver.name} has already approved this request`);
    const record = result.record;
    await this.#audit(actor, 'break_glass.approve', record, 'ok', correlationId);
    this.#alert(
      `${approver.name} approved break-glass request ${id} of ${record.requester} (${record.approvers.length}/${record.quorum})`,
      record,
      { step: 'approval', approvals: record.approvers.length },
    );
    if (result.activated) {
      await this.#audit(
        { name: record.requester, role: record.role, authMethod: 'break-glass' },
        'break_glass.activate',
        record,
        'ok',
        correlationId,
      );
      this.#alert(
        `break-glass ACTIVE: ${record.requester} may act as ${record.role} until ${record.expiresAt}`,
        record,
        { step: 'activate', expires_at: record.expiresAt ?? '' },
      );
    }
    return record;
  }

  /** Every request, newest first, with its status as of now (an ended grant shows `expired`). */
  async list(): Promise<BreakGlassRecord[]> {
    const now = this.#now().toISOString();
    return (await this.o.repository.list()).map((r) => this.#asOf(r, now));
  }

  /** One request as of now. */
  async get(id: string): Promise<BreakGlassRecord | undefined> {
    const r = await this.o.repository.get(id);
    return r ? this.#asOf(r, this.#now().toISOString()) : undefined;
  }

  /**
   * Whether `identityName` holds a grant in force for `role` now. The first use of a grant is
   * audited and alerted; every later request is audited by the operation it performs (role and
   * auth method name the break-glass).
   */
  async grantFor(
    identityName: string,
    role: string,
    actor: Actor,
    correlationId: string,
  ): Promise<BreakGlassRecord | undefined> {
    if (role !== this.o.config.role) return undefined;
    const grant = await this.o.repository.activeGrant(identityName, role, this.#now().toISOString());
    if (grant && !this.#used.has(grant.id)) {
      this.#used.add(grant.id);
      await this.#audit(actor, 'break_glass.use', grant, 'ok', correlationId);
      this.#alert(`break-glass role ${role} used by ${identityName} (until ${grant.expiresAt})`, grant, {
        step: 'use',
      });
    }
    return grant;
  }

  /**
   * Records a refused use of the break-glass role by an identity whose grant has ended (audit and
   * alert); refusals without any grant are recorded by the caller as ordinary role refusals.
   */
  async refusedAfterExpiry(
    identityName: string,
    role: string,
    actor: Actor,
    correlationId: string,
  ): Promise<void> {
    if (role !== this.o.config.role) return;
    const now = this.#now().toISOString();
    const ended = (await this.o.repository.list()).find(
      (r) =>
        r.requester === identityName && r.role === role && r.expiresAt !== undefined && r.expiresAt <= now,
    );
    if (!ended) return;
    const err = new HsmError('HSM_ERR_POLICY_VIOLATION', 'break-glass grant expired');
    await this.#audit(
      actor,
      'break_glass.expired',
      ended,
      'denied',
      correlationId,
      err.code,
      'service.break_glass',
    );
    this.#alert(
      `break-glass grant ${ended.id} of ${identityName} has ended; use refused`,
      ended,
      { step: 'expired' },
      // Repeated attempts after the end alert again at most every 5 minutes (each is still audited).
      { key: `break-glass-expired:${ended.id}`, repeatAfterMs: 300_000 },
    );
  }

  /** Grants in force now (the `hsmkit_break_glass_active` gauge). */
  async activeCount(): Promise<number> {
    return this.o.repository.countActive(this.#now().toISOString());
  }

  #mayApprove(identity: ServiceIdentity): boolean {
    if (identity.kind !== 'human') return false;
    const a = this.o.config.approvers;
    return a.identities.includes(identity.name) || identity.roles.some((r) => a.roles.includes(r));
  }

  #asOf(r: BreakGlassRecord, nowIso: string): BreakGlassRecord {
    return r.status === 'active' && r.expiresAt !== undefined && r.expiresAt <= nowIso
      ? { ...r, status: 'expired' }
      : r;
  }

  async #audit(
    actor: Actor,
    operation: BreakGlassOperation,
    r: BreakGlassRecord,
    result: 'ok' | 'denied',
    correlationId: string,
    errorCode?: string,
    rule?: string,
  ): Promise<void> {
    await this.o.runtime.audit({
      timestamp: this.#now().toISOString(),
      actor: actor.name,
      role: actor.role,
      authMethod: actor.authMethod,
      operation,
      // The reason is the requester's free text: only its digest goes into the chain.
      paramsDigest: paramsDigest({
        id: r.id,
        requester: r.requester,
        role: r.role,
        reason: r.reason,
        durationMinutes: r.durationMinutes,
        approvers: r.approvers,
        ...(r.expiresAt ? { expiresAt: r.expiresAt } : {}),
      }),
      result,
      ...(errorCode ? { errorCode } : {}),
      ...(rule ? { rule } : {}),
      latencyMs: 0,
      correlationId,
      policyVersion: this.o.runtime.policy().version,
    });
  }

  #alert(
    message: string,
    r: BreakGlassRecord,
    details: Record<string, string | number>,
    condition: { key?: string; repeatAfterMs?: number } = {},
  ): void {
    this.o.alerts?.raise({
      ...condition,
      kind: 'break_glass',
      severity: 'critical',
      message,
      details: { request: r.id, requester: r.requester, role: r.role, ...details },
    });
  }
}
