import type { AuditRecord } from '../audit/audit-record.js';
import type { AuditArchiveAnchor, AuditRange } from '../audit/audit-store.js';
import type { BackupStorage } from '../backup/storage/backup-storage.js';
import type { BackupKeyManager } from '../kms/key-transfer.js';
import type { PkiDeps } from '../pki/pki-deps.js';
import type { PkiKeyManager } from '../pki/pki-key-manager.js';
import type { CeremonyRepository } from '../store/ceremony-records.js';
import type { PolicyRepository } from '../store/policy-repository.js';

/** The audit key as the API needs it: its public half and URI (the export names both). */
export interface AuditKeyView {
  readonly publicKeyPem: string;
  readonly keyUri: string;
}

/**
 * What the PKI, governance, ceremony and backup endpoints need beyond the key API. The composition
 * root builds it; every HSM operation still goes through the request's governed key manager, which
 * the routes pass to {@link AdminDeps.pki}.
 */
export interface AdminDeps {
  /** The PKI services over `km` (the request's or job's governed key manager). */
  pki(km: PkiKeyManager): PkiDeps;
  /** Stored policy versions. */
  policies: PolicyRepository;
  /** Re-reads the policy in force after an apply, approval or rollback. */
  refreshPolicy(): Promise<void>;
  /** The audit log's records. */
  audit: {
    list(range?: AuditRange): Promise<AuditRecord[]>;
    archiveAnchor(): Promise<AuditArchiveAnchor | undefined>;
  };
  /** The audit key; created on first use unless `create` is false. */
  auditKey(create?: boolean): Promise<AuditKeyView>;
  /** Ceremony runs, steps, custodians and challenge nonces. */
  ceremonies: CeremonyRepository;
  /** Backups; the `/v1/backups` routes and the `backup.create` job exist only when given. */
  backups?: ServiceBackups;
}

/**
 * Where the service keeps backups and how it reaches the keys. A request may name a storage
 * location only from `locations`: a client never chooses where the service writes.
 */
export interface ServiceBackups {
  /** Storage locations the service may write (`file:///dir`, `s3://bucket/prefix`); the first is the default. */
  readonly locations: readonly string[];
  /** Opens one of {@link locations}. */
  storage(location: string): { storage: BackupStorage; close(): void };
  /** Opens the member holding the keys as a backup source (wrap, attributes); closed after use. */
  openSource(): Promise<BackupKeyManager & { close(): Promise<void> }>;
  /** Label of the backup KEK on that member. */
  readonly kekLabel: string;
}
