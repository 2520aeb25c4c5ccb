import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { S3BackupStorage } from '../adapters/s3/s3-backup-storage.js';
import type { BackupStorage } from '../backup/storage/backup-storage.js';
import { FileBackupStorage } from '../backup/storage/file-backup-storage.js';
import { HsmError } from '../errors/index.js';

/** S3 options given beside an `s3://` URL (flags, not the URL: credentials never travel in it). */
export interface S3UrlOptions {
  /** `--s3-endpoint`: an S3-compatible service; default AWS. */
  s3Endpoint?: string;
  /** `--s3-region`; default AWS_REGION, else us-east-1. */
  s3Region?: string;
  /** `--s3-sse`: `AES256` or `aws:kms`. */
  s3Sse?: string;
  /** `--s3-kms-key-id` for `aws:kms`. */
  s3KmsKeyId?: string;
}

/**
 * Chooses the backup storage adapter for a location (the CLI is the composition root):
 * `file:///absolute/dir` or `s3://bucket[/prefix]`. A URL carrying user info is refused without
 * being echoed, since it may hold a secret; S3 credentials come from the SDK's chain only.
 */
export function openBackupStorage(
  url: string,
  o: S3UrlOptions = {},
): { storage: BackupStorage; close(): void } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'backup location must be file:///dir or s3://bucket/prefix');
  }
  if (u.username !== '' || u.password !== '') {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      'backup location must not carry credentials; S3 credentials come from the environment or the AWS config',
    );
  }
  if (u.protocol === 'file:') {
    return { storage: new FileBackupStorage(fileURLToPath(u)), close: () => undefined };
  }
  if (u.protocol === 's3:') {
    if (u.hostname === '') throw new HsmError('HSM_ERR_INVALID_INPUT', 's3:// location needs a bucket');
    const sse = o.s3Sse;
    if (sse !== undefined && sse !== 'AES256' && sse !== 'aws:kms')
      throw new HsmError('HSM_ERR_INVALID_INPUT', '--s3-sse takes AES256 or aws:kms');
    const s3 = new S3BackupStorage({
      bucket: u.hostname,
      prefix: decodeURIComponent(u.pathname),
      ...(o.s3Endpoint === undefined ? {} : { endpoint: o.s3Endpoint }),
      ...(o.s3Region === undefined ? {} : { region: o.s3Region }),
      ...(sse === undefined ? {} : { serverSideEncryption: sse }),
      ...(o.s3KmsKeyId === undefined ? {} : { kmsKeyId: o.s3KmsKeyId }),
    });
    return { storage: s3, close: () => s3.close() };
  }
  throw new HsmError('HSM_ERR_INVALID_INPUT', `backup location scheme ${u.protocol} is not file: or s3:`);
}

/** Reads a backup from a path, or from `file:///dir/NAME` / `s3://bucket/prefix/NAME` with its digest checked. */
export async function loadBackup(location: string, s3Endpoint?: string): Promise<Buffer> {
  if (!location.includes('://')) {
    try {
      return await readFile(location);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new HsmError(
        code === 'ENOENT' ? 'HSM_ERR_NOT_FOUND' : 'HSM_ERR_INVALID_INPUT',
        `backup ${location}: ${code ?? 'unreadable'}`,
      );
    }
  }
  const slash = location.lastIndexOf('/');
  const name = location.slice(slash + 1);
  const { storage, close } = openBackupStorage(
    location.slice(0, slash),
    s3Endpoint === undefined ? {} : { s3Endpoint },
  );
  try {
    return await storage.get(name);
  } finally {
    close();
  }
}
