import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AuditLog } from '../audit/audit-log.js';
import type { HsmkitConfig } from '../config/schema.js';
import type { KeyManager } from '../kms/key-manager.js';
import type { ActivePolicy } from '../policy/policy-engine.js';
import { AuditLogRepository } from '../store/audit-log-repository.js';
import { PolicyRepository } from '../store/policy-repository.js';
import type { Database } from '../store/schema.js';
import type { AlertSink } from './alerts.js';
import { AuditKey } from './audit-key.js';
import { GovernedKeyManager } from './governed-key-manager.js';
import { Governor } from './governor.js';
import { localActor } from './local-actor.js';
import { PolicyAdmin } from './policy-admin.js';
import { loadActivePolicy } from './policy-source.js';

/** Options of {@link openGovernance}. */
export interface GovernanceOptions {
  /** The key manager to govern (an adapter or a cluster); only the governed one is handed out. */
  inner: KeyManager;
  /** The store's database (audit log and policy versions live there). */
  db: Kysely<Database>;
  /** The configuration's security_policy block: the bootstrap policy until one is applied. */
  security: HsmkitConfig['securityPolicy'];
  /** Member name recorded when an operation names none. */
  member?: string;
  alerts?: AlertSink;
  env?: NodeJS.ProcessEnv;
}

/** Policy, audit and the governed key manager of one session (a CLI run). */
export interface Governance {
  km: GovernedKeyManager;
  governor: Governor;
  audit: AuditLog;
  auditStore: AuditLogRepository;
  policies: PolicyRepository;
  admin: PolicyAdmin;
  /** The policy in force now. */
  policy(): ActivePolicy;
  /** Re-reads the policy in force (after apply or rollback). */
  refresh(): Promise<void>;
  /** The audit key; created on first use unless `create` is false. */
  auditKey(create?: boolean): Promise<AuditKey>;
}

/** Wires policy and audit around a key manager for a local (OS-user) session. */
export async function openGovernance(o: GovernanceOptions): Promise<Governance> {
  const policies = new PolicyRepository(o.db);
  let current = await loadActivePolicy(policies, o.security);
  const auditStore = new AuditLogRepository(o.db);
  const audit = new AuditLog(auditStore, {
    requiredFields: current.document.audit.required_fields,
    checkpointEvery: current.document.audit.checkpoint_every,
  });
  let key: Promise<AuditKey> | undefined;
  const auditKey = (create = true): Promise<AuditKey> => {
    if (!create) return AuditKey.ensure(o.inner, false);
    key ??= AuditKey.ensure(o.inner).catch((err) => {
      key = undefined;
      throw err;
    });
    return key;
  };
  const governor = new Governor({
    policy: () => current,
    audit,
    actor: localActor(current.document, o.env),
    correlationId: randomUUID(),
    auditKey,
    ...(o.member === undefined ? {} : { member: o.member }),
    ...(o.alerts === undefined ? {} : { alerts: o.alerts }),
  });
  return {
    km: new GovernedKeyManager(o.inner, governor),
    governor,
    audit,
    auditStore,
    policies,
    admin: new PolicyAdmin(policies, governor, () => current),
    policy: () => current,
    refresh: async () => {
      current = await loadActivePolicy(policies, o.security);
    },
    auditKey,
  };
}
