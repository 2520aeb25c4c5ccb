export {
  type BreakGlassRecord,
  BreakGlassRepository,
  type NewBreakGlassRequest,
} from './break-glass-repository.js';
export {
  CeremonyRepository,
  type CeremonyRunRecord,
  type CeremonyStatus,
  type CeremonyStepRecord,
  type CeremonyStepStatus,
  type CustodianRecord,
} from './ceremony-records.js';
export {
  advisoryKey,
  type Coordinator,
  type LeaderDuty,
  type Leadership,
  LocalCoordinator,
  leadDuty,
  PostgresCoordinator,
} from './coordinator.js';
export {
  type IdempotencyRecord,
  IdempotencyRepository,
} from './idempotency-repository.js';
export {
  type KeyListFilter,
  KeyMetadataRepository,
  type KeyPatch,
  type KeyRecord,
  type KeyStatus,
  type NewKeyRecord,
} from './key-metadata.js';
export {
  LATEST_MIGRATION,
  MIGRATION_LOCK_TABLE,
  MIGRATION_TABLE,
  type MigrateOptions,
  migrateToLatest,
  migrationProvider,
  migrations,
  type StoreDialect,
} from './migrations.js';
export {
  type CaRecord,
  type CertificateRecord,
  type CertificateStatus,
  type NewCertificateRecord,
  PkiRepository,
} from './pki-records.js';
export type {
  AlertDeadLetterTable,
  BreakGlassApprovalTable,
  BreakGlassRequestTable,
  Database,
  KeyMetadataTable,
  PkiCaTable,
  PkiCertificateTable,
  PkiCrlNumberTable,
  PkiRevocationTable,
  ServiceJobTable,
  ServiceTotpTable,
} from './schema.js';
export { type JobRecord, type JobStatus, ServiceJobRepository } from './service-job-repository.js';
export { ServiceTotpRepository } from './service-totp-repository.js';
export { BUSY_TIMEOUT_MS, MIGRATION_ADVISORY_LOCK, Store } from './store.js';
export { storeDialectOf } from './store-dialect.js';
