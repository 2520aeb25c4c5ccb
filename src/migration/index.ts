/** Vendor migration: plan and carry out moving every key of one HSM member to another (adapter-agnostic). */
export { type AuditTarget, migrationAudit } from './audit.js';
export { pkiCertificateDirectory } from './certificates.js';
export {
  type CertificatePlan,
  type KeyAction,
  type KeyPlan,
  type MigrationPlan,
  type PlanOptions,
  planMigration,
  TRANSPORT_KEY_LABEL,
} from './plan.js';
export type * from './ports.js';
export { type KeyOutcome, type MigrationResult, type RunOptions, runMigration } from './run.js';
