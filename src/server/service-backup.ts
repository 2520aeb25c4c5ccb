import { createBackup } from '../backup/backup.js';
import { parseBackup, serializeBackup, type VerifyReport, verifyBackup } from '../backup/format.js';
import { objectDigest } from '../backup/storage/backup-storage.js';
import { HsmError } from '../errors/index.js';
import type { GovernedKeyManager } from '../governance/governed-key-manager.js';
import type { ServiceBackups } from './admin-deps.js';

/** Parameters of a `backup.create` job (`POST /v1/backups`). */
export interface BackupCreateParams {
  /** Key selector: `all`, `prefix*`, or `label,label,…`. */
  keys: string;
  /** One of the service's backup locations; default its first. */
  storage?: string;
}

/** The storage location a request names, checked against the service's own list. */
export function backupLocation(backups: ServiceBackups, asked: string | undefined): string {
  const location = asked ?? backups.locations[0];
  if (location === undefined) {
    throw new HsmError('HSM_ERR_CONFIG', 'the service has no backup storage location');
  }
  if (!backups.locations.includes(location)) {
    // Not echoed in full: a client probing for paths learns nothing.
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'storage is not one of the service’s backup locations', {
      details: { locations: backups.locations },
    });
  }
  return location;
}

/**
 * Creates a backup as the job's submitter: one governed `backup.create` call around a governed
 * `key.export` under the policy's export rule (as `hsmkit backup create` does), then stores the
 * signed file under a fresh name. Keys that cannot be backed up are listed, never skipped silently.
 */
export async function createServiceBackup(
  km: GovernedKeyManager,
  backups: ServiceBackups,
  params: BackupCreateParams,
  jobId: string,
): Promise<Record<string, unknown>> {
  const location = backupLocation(backups, params.storage);
  const g = km.governor;
  return g.run({ operation: 'backup.create', params: { keys: params.keys, location } }, async () => {
    const r = await g.run(
      {
        operation: 'key.export',
        params: { selector: params.keys, kek: backups.kekLabel, location },
        export: { wrappingKey: backups.kekLabel, approvals: 0 },
      },
      async () => {
        const source = await backups.openSource();
        try {
          return await createBackup({ source, selector: params.keys, kekLabel: backups.kekLabel });
        } finally {
          await source.close();
        }
      },
    );
    const data = Buffer.from(serializeBackup(r.file), 'utf8');
    const name = `backup-${new Date().toISOString().replace(/[:.]/g, '-')}-${jobId.slice(0, 8)}.json`;
    const { storage, close } = backups.storage(location);
    try {
      await storage.put(name, data);
    } finally {
      close();
    }
    return {
      name,
      location,
      sha256: objectDigest(data),
      entries: r.backedUp.length,
      backed_up: r.backedUp,
      not_backed_up: r.notBackedUp,
      signer_fingerprint: r.file.manifest.signer.fingerprint,
    };
  });
}

/** Verifies a backup file's text; a file that is not a backup is a report with one problem. */
export function verifyBackupText(text: string, expectedSigner?: string): VerifyReport {
  try {
    return verifyBackup(parseBackup(text), expectedSigner === undefined ? {} : { expectedSigner });
  } catch (err) {
    if (!HsmError.is(err, 'HSM_ERR_BACKUP_INVALID')) throw err;
    return {
      ok: false,
      entries: 0,
      notBackedUp: [],
      signerFingerprint: '',
      problems: [{ where: 'file', problem: err.message }],
    };
  }
}
