import type { AuditLog } from '../audit/audit-log.js';
import { type AuditEntry, paramsDigest } from '../audit/audit-record.js';
import { HsmError, toHsmError } from '../errors/index.js';
import type { SignAlgorithm } from '../kms/sign-algorithm.js';
import { type ActivePolicy, evaluatePolicy, violation } from '../policy/policy-engine.js';
import type { Actor, KeyFacts, PolicyRequest } from '../policy/policy-request.js';
import { type Operation, READ_ONLY_OPERATIONS } from '../policy/vocabulary.js';
import { type AlertSink, noAlerts } from './alerts.js';
import type { AuditKey } from './audit-key.js';

/** Everything the governor needs; one per actor session (a CLI run, an HTTP request's identity). */
export interface GovernorOptions {
  /** The policy in force. A function, so an applied policy takes effect without a restart. */
  policy: () => ActivePolicy;
  audit: AuditLog;
  actor: Actor;
  /** Ties together the records of one request or CLI run. */
  correlationId: string;
  /** Member name recorded when the operation does not name one. */
  member?: string;
  alerts?: AlertSink;
  /** Finds (and on first use creates) the key that signs checkpoints. */
  auditKey?: () => Promise<AuditKey>;
}

/** One governed operation, as the governor sees it. */
export interface GovernedCall {
  operation: Operation;
  /** Non-secret parameters; only their digest is recorded. Data to sign appears as its hash. */
  params: Record<string, unknown>;
  keyUri?: string;
  member?: string;
  algorithm?: SignAlgorithm;
  export?: { wrappingKey?: string; approvals: number };
  /** Reads the facts of the key operated on (a lookup, which changes nothing). */
  facts?: () => Promise<{ key: KeyFacts; uri: string; member?: string }>;
  /** Facts of a key that does not exist yet (key.create). */
  key?: KeyFacts;
}

/**
 * The enforcement point. For each call: read the key's facts, ask the policy, and only if it
 * allows, check the audit log can be written and perform the call; then record exactly one
 * audit record (ok, denied or error). A refusal performs nothing. If the record cannot be
 * written the call fails with HSM_ERR_AUDIT, and a result already computed is withheld.
 */
export class Governor {
  constructor(readonly options: GovernorOptions) {}

  /** The actor this governor acts for. */
  get actor(): Actor {
    return this.options.actor;
  }

  /** Runs `exec` under policy and audit. */
  async run<T>(call: GovernedCall, exec: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const policy = this.options.policy();
    const req: PolicyRequest = { actor: this.options.actor, operation: call.operation };
    let keyUri = call.keyUri;
    let member = call.member ?? this.options.member;
    const base = () => this.#entry(call, policy, started, keyUri, member);
    try {
      if (call.key) req.key = call.key;
      if (call.facts) {
        const f = await call.facts();
        req.key = f.key;
        keyUri = f.uri;
        member = f.member ?? member;
      }
      if (call.algorithm) req.algorithm = call.algorithm;
      if (call.export) req.export = call.export;
    } catch (err) {
      await this.#record({ ...base(), result: 'error', errorCode: toHsmError(err).code });
      throw err;
    }
    const decision = evaluatePolicy(policy.document, req);
    if (!decision.allowed) {
      const error = violation(policy, req, decision.rule, decision.reason);
      this.#alert({
        kind: 'policy_violation',
        message: error.message,
        rule: decision.rule,
        operation: call.operation,
      });
      await this.#record({ ...base(), result: 'denied', errorCode: error.code, rule: decision.rule });
      throw error;
    }
    try {
      await this.options.audit.probe();
    } catch (err) {
      this.#alert({ kind: 'audit_failure', message: toHsmError(err).message, operation: call.operation });
      throw err;
    }
    let result: T;
    try {
      result = await exec();
    } catch (err) {
      await this.#record({ ...base(), result: 'error', errorCode: toHsmError(err).code });
      throw err;
    }
    const events = policy.document.audit.events;
    const recorded =
      !READ_ONLY_OPERATIONS.has(call.operation) || events.includes('*') || events.includes(call.operation);
    if (recorded) await this.#record({ ...base(), result: 'ok' });
    if (this.options.audit.checkpointDue) await this.checkpoint();
    return result;
  }

  /**
   * Signs a checkpoint of the log's current tip with the audit key (creating the key on first
   * use, which is itself recorded). A failure raises an alert and is returned, not thrown: the
   * records stay protected by the hash chain, and the next checkpoint covers them.
   */
  async checkpoint(): Promise<HsmError | undefined> {
    const o = this.options;
    if (!o.auditKey) return undefined;
    try {
      const key = await o.auditKey();
      if (key.created) {
        await this.#record({
          ...this.#entry(
            {
              operation: 'key.create',
              params: { label: key.info.label, type: 'ec-p384', reason: 'audit key' },
            },
            o.policy(),
            performance.now(),
            key.keyUri,
            key.info.member,
          ),
          result: 'ok',
        });
      }
      await o.audit.checkpoint(key, {
        actor: o.actor.name,
        role: o.actor.role,
        authMethod: o.actor.authMethod,
        correlationId: o.correlationId,
        policyVersion: o.policy().version,
        ...(key.info.member === undefined ? {} : { member: key.info.member }),
      });
      return undefined;
    } catch (err) {
      const e = toHsmError(err, 'HSM_ERR_AUDIT');
      this.#alert({ kind: 'checkpoint_failure', message: `${e.code}: ${e.message}` });
      return e;
    }
  }

  #entry(
    call: Pick<GovernedCall, 'operation' | 'params'>,
    policy: ActivePolicy,
    started: number,
    keyUri?: string,
    member?: string,
  ): Omit<AuditEntry, 'result'> {
    const o = this.options;
    const e: Omit<AuditEntry, 'result'> = {
      timestamp: new Date().toISOString(),
      actor: o.actor.name,
      role: o.actor.role,
      authMethod: o.actor.authMethod,
      operation: call.operation,
      paramsDigest: paramsDigest(call.params),
      latencyMs: Math.round(performance.now() - started),
      correlationId: o.correlationId,
      policyVersion: policy.version,
    };
    if (keyUri !== undefined) e.keyUri = keyUri;
    if (member !== undefined) e.member = member;
    return e;
  }

  async #record(entry: AuditEntry): Promise<void> {
    try {
      await this.options.audit.append(entry);
    } catch (err) {
      const e = toHsmError(err, 'HSM_ERR_AUDIT');
      this.#alert({ kind: 'audit_failure', message: e.message, operation: entry.operation });
      throw HsmError.is(e, 'HSM_ERR_AUDIT')
        ? e
        : new HsmError('HSM_ERR_AUDIT', 'the audit record could not be written; the operation was refused', {
            cause: err,
          });
    }
  }

  #alert(a: Parameters<AlertSink['raise']>[0]): void {
    (this.options.alerts ?? noAlerts).raise({
      ...a,
      actor: this.options.actor.name,
      correlationId: this.options.correlationId,
    });
  }
}
