/**
 * Where encrypted backup files are kept off the HSM host: a named object store with put, get,
 * list and delete. Every object is stored with its SHA-256 and `get` checks it, so storage that
 * corrupted or replaced an object fails loudly (HSM_ERR_BACKUP_INVALID) before `backup verify`
 * even looks at the signature. Backup files are already encrypted and signed; the digest is a
 * second, storage-level check, not the security boundary.
 */
import { createHash } from 'node:crypto';
import { HsmError } from '../../errors/index.js';

/** One stored backup object. */
export interface StoredBackup {
  /** Object name (no directories): `keys-2026-11-28.backup.json`. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** SHA-256 (hex) recorded at upload; absent when a listing does not carry it. */
  sha256?: string;
  /** Last modification, ISO-8601, when the store reports it. */
  modifiedAt?: string;
}

/** A backup object store (filesystem directory, S3-compatible bucket, …). */
export interface BackupStorage {
  /** Where this store points, for messages and audit records (never credentials). */
  readonly location: string;
  /** Stores `data` under `name`; an existing object is never overwritten (HSM_ERR_INVALID_INPUT). */
  put(name: string, data: Uint8Array): Promise<StoredBackup>;
  /**
   * Reads `name` and checks it against its recorded SHA-256: HSM_ERR_NOT_FOUND when absent,
   * HSM_ERR_BACKUP_INVALID when the bytes do not match.
   */
  get(name: string): Promise<Buffer>;
  /** Every backup object, sorted by name. */
  list(): Promise<StoredBackup[]>;
  /** Removes `name` (HSM_ERR_NOT_FOUND when absent). */
  delete(name: string): Promise<void>;
}

/** SHA-256 of `data`, hex. */
export const objectDigest = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * Checks an object name: 1–200 characters of `A-Z a-z 0-9 . _ -`, not starting with a dot (so no
 * `..`, no path separators, no hidden temp files).
 */
export function validateObjectName(name: string): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/.test(name)) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `backup object name "${name.slice(0, 64)}" must be 1–200 of A-Z a-z 0-9 . _ - and not start with a dot`,
    );
  }
  return name;
}

/** Throws HSM_ERR_BACKUP_INVALID when `data` does not have the recorded digest. */
export function assertObjectDigest(
  location: string,
  name: string,
  data: Uint8Array,
  recorded?: string,
): void {
  if (recorded === undefined || !/^[0-9a-f]{64}$/.test(recorded)) {
    throw new HsmError('HSM_ERR_BACKUP_INVALID', `${location}: object "${name}" has no recorded SHA-256`, {
      details: { where: 'object', name },
    });
  }
  const actual = objectDigest(data);
  if (actual !== recorded) {
    throw new HsmError(
      'HSM_ERR_BACKUP_INVALID',
      `${location}: object "${name}" does not match its recorded SHA-256 (changed in storage)`,
      { details: { where: 'object', name, recorded, actual } },
    );
  }
}
