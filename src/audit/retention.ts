import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HsmError } from '../errors/index.js';
import { EXPORT_FILES, writeAuditExport } from './audit-export.js';
import type { AuditRecord } from './audit-record.js';
import type { AuditArchiveAnchor, AuditStore } from './audit-store.js';
import { canonicalJson } from './canonical-json.js';
import type { CheckpointSigner } from './checkpoint.js';
import { type ChainReport, verifyChain } from './verify-chain.js';

/** Files an archive adds to its export folder. */
export const ARCHIVE_FILES = { statement: 'archive.json', signature: 'archive.sig' } as const;

/** What an archive's signature asserts. */
export interface ArchiveStatement {
  type: 'hsmkit.audit.archive';
  v: 1;
  firstSeq: number;
  throughSeq: number;
  /** Hash of record throughSeq: the prevHash of the first record kept. */
  lastHash: string;
  /** SHA-256 of the exported records file. */
  recordsSha256: string;
  archivedAt: string;
  keyUri: string;
}

/** Result of one retention run. */
export interface ArchiveResult {
  archived: number;
  throughSeq?: number;
  exportDir?: string;
}

/**
 * Retention (the audit policy's `retention_days`): records older than `cutoff` are exported (JSONL,
 * checkpoint signatures, public key), an archive statement naming their range, last hash and the
 * export's SHA-256 is signed in the HSM with the audit key, and only then are they removed from the
 * store, leaving an anchor so the kept chain verifies from its first record. A chain that does not
 * verify is never archived. The statement verifies with
 * `openssl dgst -sha384 -verify audit-public-key.pem -signature archive.sig archive.json`.
 */
export async function archiveExpired(
  store: AuditStore,
  opts: { cutoff: string; outDir: string; publicKeyPem: string; signer: CheckpointSigner },
): Promise<ArchiveResult> {
  if (!store.archive || !store.archiveAnchor) {
    throw new HsmError('HSM_ERR_NOT_SUPPORTED', 'this audit store cannot archive');
  }
  const anchor = await store.archiveAnchor();
  const all = await store.list();
  const check = verifyStoredChain(all, opts.publicKeyPem, anchor);
  if (!check.ok) {
    throw new HsmError(
      'HSM_ERR_AUDIT_CHAIN',
      `the audit log does not verify (record ${check.firstBreak?.seq}); nothing archived`,
    );
  }
  const expired: AuditRecord[] = [];
  for (const r of all) {
    if (r.timestamp >= opts.cutoff) break;
    expired.push(r);
  }
  if (expired.length === 0) return { archived: 0 };
  const last = expired.at(-1)!;
  writeAuditExport(opts.outDir, expired, opts.publicKeyPem, opts.signer.keyUri);
  const recordsSha256 = createHash('sha256')
    .update(readFileSync(join(opts.outDir, EXPORT_FILES.records)))
    .digest('hex');
  const statement: ArchiveStatement = {
    type: 'hsmkit.audit.archive',
    v: 1,
    firstSeq: expired[0]!.seq,
    throughSeq: last.seq,
    lastHash: last.hash,
    recordsSha256,
    archivedAt: new Date().toISOString(),
    keyUri: opts.signer.keyUri,
  };
  const text = canonicalJson(statement);
  const signature = await opts.signer.sign(Buffer.from(text, 'utf8'));
  writeFileSync(join(opts.outDir, ARCHIVE_FILES.statement), text, { flag: 'wx', mode: 0o600 });
  writeFileSync(join(opts.outDir, ARCHIVE_FILES.signature), signature, { flag: 'wx', mode: 0o600 });
  const newAnchor: AuditArchiveAnchor = {
    throughSeq: last.seq,
    lastHash: last.hash,
    exportDir: opts.outDir,
    recordsSha256,
    archivedAt: statement.archivedAt,
  };
  await store.archive(newAnchor);
  return { archived: expired.length, throughSeq: last.seq, exportDir: opts.outDir };
}

/**
 * Verifies the records a store holds. Without an archive anchor the chain must start at record 1
 * from the genesis hash; with one, it must start right after the archived range and link to its
 * last hash (a removal outside retention still breaks the chain).
 */
export function verifyStoredChain(
  records: AuditRecord[],
  publicKeyPem: string | undefined,
  anchor: AuditArchiveAnchor | undefined,
): ChainReport {
  const report = verifyChain(records, publicKeyPem, anchor === undefined);
  if (!report.ok || anchor === undefined || records.length === 0) return report;
  const first = records[0]!;
  if (first.seq !== anchor.throughSeq + 1 || first.prevHash !== anchor.lastHash) {
    report.ok = false;
    report.firstBreak = {
      seq: anchor.throughSeq + 1,
      reason: 'archive_anchor',
      message: `record ${anchor.throughSeq + 1} should follow the archived records 1..${anchor.throughSeq}`,
    };
  }
  return report;
}
