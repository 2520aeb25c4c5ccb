/** `hsmkit audit export|verify` against a service: `/v1/audit/*`. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { HsmError } from '../../errors/index.js';
import { emit, type GlobalOptions, required } from '../output.js';
import { remoteClient } from './remote-context.js';

/** The export document of GET /v1/audit/export: the manifest and every file of the export folder. */
interface ExportDocument {
  format: string;
  manifest: { records: number } & Record<string, unknown>;
  files: Array<{ name: string; encoding: 'utf8' | 'base64'; content: string }>;
}

function seqBound(v: string | undefined, flag: string): string | undefined {
  if (v === undefined) return undefined;
  if (!/^[1-9]\d{0,15}$/.test(v))
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `${flag}: with --server the range is seq numbers (the API takes from_seq/to_seq)`,
    );
  return v;
}

/**
 * `audit export --out DIR`: the service's export written as the same folder the local command
 * writes, so `hsmkit audit verify --export DIR` checks it offline. File names from the service
 * must stay inside DIR.
 */
export async function exportAudit(
  g: GlobalOptions,
  o: { out?: string; from?: string; to?: string },
): Promise<void> {
  const out = required(o.out, '--out');
  if (existsSync(out))
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${out} exists; the export folder must be new`);
  const doc = await remoteClient(g).get<ExportDocument>('/v1/audit/export', {
    from_seq: seqBound(o.from, '--from'),
    to_seq: seqBound(o.to, '--to'),
  });
  if (doc.format !== 'hsmkit-audit-export' || !Array.isArray(doc.files))
    throw new HsmError('HSM_ERR_INTERNAL', 'the service answered something that is not an audit export');
  for (const f of doc.files) {
    const rel = normalize(f.name);
    if (rel.startsWith('..') || rel.startsWith('/') || rel.includes('\0'))
      throw new HsmError(
        'HSM_ERR_INTERNAL',
        `the export names a file outside its folder: ${f.name.slice(0, 100)}`,
      );
  }
  mkdirSync(out, { recursive: false });
  for (const f of doc.files) {
    const path = join(out, normalize(f.name));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.encoding === 'base64' ? Buffer.from(f.content, 'base64') : f.content, {
      flag: 'wx',
    });
  }
  emit(
    g,
    { out, ...doc.manifest },
    () =>
      `Exported ${doc.manifest.records} record(s) to ${out} (verify offline: hsmkit audit verify --export ${out}).`,
  );
}

/** `audit verify`: POST /v1/audit/verify; a broken chain exits with HSM_ERR_AUDIT_CHAIN. */
export async function verifyAudit(g: GlobalOptions): Promise<void> {
  const r = await remoteClient(g).post<{
    valid: boolean;
    records: number;
    checkpoints: number;
    first_seq?: number;
    last_seq?: number;
    first_bad?: { seq: number; reason?: string; message?: string };
  }>('/v1/audit/verify', {});
  if (!r.valid) {
    const b = r.first_bad;
    throw new HsmError(
      'HSM_ERR_AUDIT_CHAIN',
      `audit log broken at record ${b?.seq ?? '?'}: ${b?.message ?? 'see details'}`,
      {
        details: { ...(b ? { seq: b.seq, reason: b.reason } : {}), report: r },
      },
    );
  }
  emit(
    g,
    r,
    () =>
      `Audit log OK: ${r.records} record(s)${r.records ? ` (${r.first_seq}..${r.last_seq})` : ''}, ${r.checkpoints} signed checkpoint(s).`,
  );
}
