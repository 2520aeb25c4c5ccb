/** The KEK ceremony port lives in kms (adapters implement it); re-exported for src/backup's callers. */
export type { BackupKekMember } from '../kms/backup-kek-member.js';
