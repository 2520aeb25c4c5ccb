/**
 * A vendor's own backup service, as an interface only: hsmkit ships no implementation, and claims
 * none. Two models exist (docs/operations/backup-and-recovery.md, "Vendor backup services"):
 *
 * - **Thales Luna Backup HSM**: the partition's objects are cloned, wrapped under the domain key
 *   shared by partitions of one cloning domain, into a separate Backup HSM (or a cloud backup
 *   service) with `lunacm partition backup` / `restore`; keys never leave Luna hardware in the clear.
 * - **AWS CloudHSM cluster backups**: the service snapshots a cluster on its own schedule and on
 *   demand; backups are encrypted under keys of the HSM hardware and can only be restored into a
 *   CloudHSM cluster (`CreateCluster --source-backup-id`), copied across regions with `CopyBackupToRegion`.
 *
 * In both, the backup is opaque to the customer and restorable only into the vendor's hardware,
 * so hsmkit can trigger, list and check freshness, never verify contents itself.
 */

/** One backup as the vendor's service reports it. */
export interface VendorBackup {
  /** The vendor's backup id (CloudHSM `backup-…`, a Luna backup partition serial + label). */
  id: string;
  /** What was backed up: a cluster id or partition label. */
  source: string;
  /** When the vendor says the backup was taken, ISO-8601. */
  createdAt: string;
  /** Region or site where the backup lives. */
  location?: string;
  /** The vendor's state (`READY`, `CREATE_IN_PROGRESS`, …), as reported. */
  state: string;
}

/** Operations hsmkit would drive on a vendor's backup service. */
export interface VendorBackupService {
  /** Vendor name for reports (`aws-cloudhsm`, `luna-backup-hsm`). */
  readonly vendor: string;
  /** Starts a backup of `source` now; resolves with the vendor's record. */
  startBackup(source: string): Promise<VendorBackup>;
  /** Backups of `source`, newest first. */
  listBackups(source: string): Promise<VendorBackup[]>;
  /** Copies a backup to another region or site (CloudHSM CopyBackupToRegion; a second Backup HSM). */
  copyBackup?(id: string, destination: string): Promise<VendorBackup>;
  /** Restores into a new cluster or partition; resolves with the vendor's id of the target. */
  restore(id: string, target: string): Promise<{ target: string }>;
}
