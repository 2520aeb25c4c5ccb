/**
 * The encrypted backup file, version 1: UTF-8 JSON (see docs/operations/backup-and-recovery.md).
 *
 * ```
 * { format: "hsmkit-backup", v: 1,
 *   manifest: { createdAt, source, kek, signer, entries: [{ index, label, id, type, digest }], notBackedUp },
 *   signature,                       // ECDSA P-256 SHA-256 (DER, base64) over canonicalJson(manifest), made in the HSM
 *   entries: [{ index, label, id, type, spki, attributes, wrapped }] }   // wrapped.blob: RFC 5649 AES-KWP under the KEK
 * ```
 *
 * Each entry's `digest` in the signed manifest is SHA-256 of the entry's canonical JSON, so a
 * changed byte anywhere in an entry names that entry, and a changed manifest breaks the signature.
 * The blobs are authenticated a second time by AES-KWP's integrity check inside the HSM at restore.
 */
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json.js';
import { HsmError } from '../errors/index.js';
import type { WrappedKey } from '../kms/key-manager.js';

export const BACKUP_FORMAT = 'hsmkit-backup';
export const BACKUP_VERSION = 1;

/** One backed-up key. */
export interface BackupEntry {
  index: number;
  label: string;
  /** CKA_ID, hex. */
  id: string;
  /** hsmkit key type (`rsa-3072`, `ec-p256`, …). */
  type: string;
  /** The public key (SPKI DER, base64), as recorded at backup time. */
  spki: string;
  /** Security attributes of the source private key at backup time. */
  attributes: { sensitive: boolean; extractable: boolean; wrapWithTrusted: boolean; sign: boolean };
  /** The private key wrapped under the KEK (blob: hex, opaque outside an HSM holding the KEK). */
  wrapped: WrappedKey;
}

/** A key the selector named that is not in the file, and why. */
export interface NotBackedUp {
  label: string;
  id: string;
  type: string;
  reason: string;
}

/** The signed part of the file. */
export interface BackupManifest {
  createdAt: string;
  source: { member: string; token: string };
  kek: { label: string; mechanism?: number };
  signer: { label: string; alg: 'ecdsa-p256-sha256'; spki: string; fingerprint: string };
  entries: Array<{ index: number; label: string; id: string; type: string; digest: string }>;
  notBackedUp: NotBackedUp[];
}

/** A whole backup file. */
export interface BackupFile {
  format: typeof BACKUP_FORMAT;
  v: typeof BACKUP_VERSION;
  manifest: BackupManifest;
  signature: string;
  entries: BackupEntry[];
}

/** What `backup verify` found. */
export interface VerifyReport {
  ok: boolean;
  entries: number;
  notBackedUp: NotBackedUp[];
  signerFingerprint: string;
  /** Problems, each naming where: `manifest`, `signature`, or `entry <index> "<label>"`. */
  problems: Array<{ where: string; label?: string; index?: number; problem: string }>;
}

export const sha256hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** The digest of an entry as recorded in the manifest. */
export function entryDigest(e: BackupEntry): string {
  return sha256hex(canonicalJson(e));
}

/** The bytes the manifest signature covers. */
export function manifestBytes(m: BackupManifest): Buffer {
  return Buffer.from(canonicalJson(m));
}

/** Serialises a backup file. */
export function serializeBackup(f: BackupFile): string {
  return `${JSON.stringify(f, null, 1)}\n`;
}

/** Parses a backup file's text; anything that is not a v1 backup file is HSM_ERR_BACKUP_INVALID. */
export function parseBackup(text: string): BackupFile {
  let f: unknown;
  try {
    f = JSON.parse(text);
  } catch {
    throw new HsmError(
      'HSM_ERR_BACKUP_INVALID',
      'the backup file is not valid JSON (damaged or not a backup)',
      {
        details: { where: 'file' },
      },
    );
  }
  const o = f as Partial<BackupFile>;
  if (
    typeof o !== 'object' ||
    o === null ||
    o.format !== BACKUP_FORMAT ||
    o.v !== BACKUP_VERSION ||
    typeof o.manifest !== 'object' ||
    o.manifest === null ||
    !Array.isArray(o.manifest.entries) ||
    !Array.isArray(o.entries) ||
    typeof o.signature !== 'string'
  ) {
    throw new HsmError('HSM_ERR_BACKUP_INVALID', `not an ${BACKUP_FORMAT} v${BACKUP_VERSION} file`, {
      details: { where: 'file' },
    });
  }
  return o as BackupFile;
}

/**
 * Checks a backup file without any HSM or custodian: the manifest signature (against the signer
 * key in the file, and against `expectedSigner` — a SHA-256 SPKI fingerprint — when given), that
 * every manifest entry has its entry with the same digest, that each entry's public key matches
 * its wrapped key's public half. Names every tampered entry.
 */
export function verifyBackup(f: BackupFile, opts: { expectedSigner?: string } = {}): VerifyReport {
  const problems: VerifyReport['problems'] = [];
  const m = f.manifest;
  let signerFingerprint = '';
  try {
    const spki = Buffer.from(m.signer.spki, 'base64');
    signerFingerprint = sha256hex(spki);
    if (signerFingerprint !== m.signer.fingerprint)
      problems.push({ where: 'manifest', problem: 'the signer fingerprint does not match the signer key' });
    if (opts.expectedSigner !== undefined && opts.expectedSigner.toLowerCase() !== signerFingerprint)
      problems.push({
        where: 'signature',
        problem: 'the file is signed by another key than the expected one',
      });
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    const ok = cryptoVerify(
      'sha256',
      manifestBytes(m),
      { key, dsaEncoding: 'der' },
      Buffer.from(f.signature, 'base64'),
    );
    if (!ok) problems.push({ where: 'signature', problem: 'the manifest signature does not verify' });
  } catch {
    problems.push({ where: 'signature', problem: 'the manifest signature or signer key is malformed' });
  }
  const byIndex = new Map<number, BackupEntry>();
  for (const e of f.entries) {
    if (byIndex.has(e.index)) problems.push({ where: `entry ${e.index}`, problem: 'duplicate entry index' });
    byIndex.set(e.index, e);
  }
  for (const me of m.entries) {
    const e = byIndex.get(me.index);
    const where = `entry ${me.index} "${me.label}"`;
    if (!e) {
      problems.push({ where, label: me.label, index: me.index, problem: 'missing from the file' });
      continue;
    }
    byIndex.delete(me.index);
    let digest = '';
    try {
      digest = entryDigest(e);
    } catch {
      /* unserialisable: reported below as a digest mismatch */
    }
    if (digest !== me.digest || e.label !== me.label || e.id !== me.id) {
      problems.push({
        where,
        label: me.label,
        index: me.index,
        problem: 'the entry does not match its signed digest',
      });
    }
  }
  for (const e of byIndex.values()) {
    problems.push({
      where: `entry ${e.index} "${String(e.label).slice(0, 64)}"`,
      index: e.index,
      problem: 'not in the signed manifest',
    });
  }
  return {
    ok: problems.length === 0,
    entries: m.entries.length,
    notBackedUp: m.notBackedUp ?? [],
    signerFingerprint,
    problems,
  };
}

/** Throws HSM_ERR_BACKUP_INVALID naming the tampered parts when the report is not ok. */
export function assertVerified(r: VerifyReport): void {
  if (r.ok) return;
  const names = r.problems.map((p) => `${p.where}: ${p.problem}`);
  throw new HsmError('HSM_ERR_BACKUP_INVALID', `backup verification failed: ${names.join('; ')}`, {
    details: { problems: r.problems },
  });
}
