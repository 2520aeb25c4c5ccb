export {
  CeremonyRepository,
  type CeremonyRunRecord,
  type CeremonyStatus,
  type CeremonyStepRecord,
  type CeremonyStepStatus,
  type CustodianRecord,
} from './ceremony-records.js';
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
export { BUSY_TIMEOUT_MS, Store } from './store.js';
