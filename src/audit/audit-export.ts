import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HsmError } from '../errors/index.js';
import type { AuditRecord } from './audit-record.js';
import { canonicalJson } from './canonical-json.js';
import { checkpointPayload } from './checkpoint.js';
import { parseExportedRecord } from './exported-record.js';
import { type ChainReport, verifyChain } from './verify-chain.js';

/** Names of the files in an export folder. */
export const EXPORT_FILES = {
  records: 'audit.jsonl',
  publicKey: 'audit-public-key.pem',
  manifest: 'manifest.json',
  checkpoints: 'checkpoints',
} as const;

/** What an export folder says about itself. */
export interface ExportManifest {
  format: 'hsmkit-audit-export';
  v: 1;
  exportedAt: string;
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  /** True when the export starts at record 1, so the first prevHash must be the genesis hash. */
  anchored: boolean;
  auditKeyUri?: string;
}

/**
 * Writes records as JSONL plus what an offline verifier needs: the audit public key (PEM) and,
 * for each checkpoint, its signed payload and DER signature as files, so that
 * `openssl dgst -sha384 -verify audit-public-key.pem -signature checkpoints/N.sig checkpoints/N.json`
 * checks it without hsmkit. The folder must not exist yet (nothing is overwritten).
 */
export function writeAuditExport(
  dir: string,
  records: AuditRecord[],
  publicKeyPem: string,
  auditKeyUri?: string,
): ExportManifest {
  try {
    mkdirSync(dir, { recursive: false, mode: 0o700 });
    mkdirSync(join(dir, EXPORT_FILES.checkpoints), { mode: 0o700 });
  } catch (err) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `cannot create ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'} (it must not exist)`,
    );
  }
  const write = (name: string, data: string | Uint8Array) =>
    writeFileSync(join(dir, name), data, { flag: 'wx', mode: 0o600 });
  write(EXPORT_FILES.records, records.map((r) => `${canonicalJson(r)}\n`).join(''));
  write(EXPORT_FILES.publicKey, publicKeyPem);
  for (const r of records) {
    if (r.checkpoint === undefined) continue;
    write(join(EXPORT_FILES.checkpoints, `${r.seq}.json`), r.checkpoint.payload);
    write(join(EXPORT_FILES.checkpoints, `${r.seq}.sig`), Buffer.from(r.checkpoint.signature, 'base64'));
  }
  const manifest: ExportManifest = {
    format: 'hsmkit-audit-export',
    v: 1,
    exportedAt: new Date().toISOString(),
    records: records.length,
    anchored: records[0]?.seq === 1,
  };
  if (records.length > 0) {
    manifest.firstSeq = records[0]!.seq;
    manifest.lastSeq = records.at(-1)!.seq;
  }
  if (auditKeyUri !== undefined) manifest.auditKeyUri = auditKeyUri;
  write(EXPORT_FILES.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Verifies an export folder offline: needs only its files and the audit public key in it (or `publicKeyPem`). */
export function verifyAuditExport(dir: string, publicKeyPem?: string): ChainReport {
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch (err) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `cannot read ${join(dir, name)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  };
  const records: AuditRecord[] = [];
  for (const [i, line] of read(EXPORT_FILES.records).split('\n').entries()) {
    if (line.trim() === '') continue;
    records.push(parseExportedRecord(line, i + 1, EXPORT_FILES.records));
  }
  const pem = publicKeyPem ?? read(EXPORT_FILES.publicKey);
  return verifyChain(records, pem, records[0]?.seq === 1);
}

/** The seq a checkpoint record covers, for reports. */
export function coveredSeq(r: AuditRecord): number | undefined {
  return r.checkpoint ? checkpointPayload(r.checkpoint)?.seq : undefined;
}
