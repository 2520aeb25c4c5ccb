import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EXPORT_FILES, writeAuditExport } from '../../audit/audit-export.js';
import type { AuditRange } from '../../audit/audit-store.js';
import { verifyStoredChain } from '../../audit/retention.js';
import { HsmError } from '../../errors/index.js';
import type { GovernedKeyManager } from '../../governance/governed-key-manager.js';
import type { AdminDeps } from '../admin-deps.js';

/** One file of an export folder, as the API carries it. */
export interface ExportedFile {
  /** Path inside the folder (`audit.jsonl`, `checkpoints/12.sig`, …). */
  name: string;
  encoding: 'utf8' | 'base64';
  content: string;
}

/**
 * `GET /v1/audit/export` and `POST /v1/audit/verify`. The export is exactly the folder
 * `hsmkit audit export` writes (records as JSONL, the audit public key, each checkpoint's payload
 * and DER signature, the manifest), carried as a list of files: write them out and
 * `hsmkit audit verify --export DIR` (or openssl) checks them offline.
 */
export function registerAuditRoutes(
  app: FastifyInstance,
  km: (req: FastifyRequest) => GovernedKeyManager,
  admin: AdminDeps,
): void {
  app.get<{ Querystring: { from_seq?: string; to_seq?: string } }>(
    '/v1/audit/export',
    {
      schema: {
        summary: 'Export audit records (a fresh checkpoint first) in the offline-verifiable export format',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from_seq: { type: 'string', pattern: '^[1-9][0-9]{0,15}$' },
            to_seq: { type: 'string', pattern: '^[1-9][0-9]{0,15}$' },
          },
        },
      },
      config: {
        access: 'audit.export',
        responses: {
          200: {
            description: 'The export: its manifest and every file of the export folder',
            schema: {
              type: 'object',
              properties: {
                format: { type: 'string', enum: ['hsmkit-audit-export'] },
                manifest: { type: 'object' },
                files: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      name: { type: 'string' },
                      encoding: { type: 'string', enum: ['utf8', 'base64'] },
                      content: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      const range: AuditRange = {};
      if (req.query.from_seq !== undefined) range.fromSeq = Number(req.query.from_seq);
      if (req.query.to_seq !== undefined) range.toSeq = Number(req.query.to_seq);
      if (range.fromSeq !== undefined && range.toSeq !== undefined && range.fromSeq > range.toSeq)
        throw new HsmError('HSM_ERR_INVALID_INPUT', 'from_seq is after to_seq');
      return g.governor.run({ operation: 'audit.export', params: { ...range } }, async () => {
        // A fresh checkpoint first, so the export carries a signature over its newest records.
        const failed = await g.governor.checkpoint();
        if (failed) throw failed;
        const key = await admin.auditKey();
        const records = await admin.audit.list(range);
        const parent = mkdtempSync(join(tmpdir(), 'hsmkit-audit-export-'));
        try {
          const dir = join(parent, 'export');
          const manifest = writeAuditExport(dir, records, key.publicKeyPem, key.keyUri);
          return { format: 'hsmkit-audit-export', manifest, files: readFolder(dir) };
        } finally {
          rmSync(parent, { recursive: true, force: true });
        }
      });
    },
  );

  app.post<{ Body: Record<string, never> }>(
    '/v1/audit/verify',
    {
      schema: {
        summary: 'Verify the stored audit chain and its checkpoint signatures',
        body: { type: 'object', additionalProperties: false, properties: {} },
      },
      config: {
        access: 'audit.verify',
        responses: {
          200: {
            description: 'The verdict; first_bad names the first broken record',
            schema: {
              type: 'object',
              properties: {
                valid: { type: 'boolean' },
                records: { type: 'integer' },
                checkpoints: { type: 'integer' },
                first_seq: { type: 'integer' },
                last_seq: { type: 'integer' },
                first_bad: { type: 'object' },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      return g.governor.run({ operation: 'audit.verify', params: {} }, async () => {
        const records = await admin.audit.list();
        // The key is created only by a checkpoint; verifying must not make one.
        const pem = records.some((r) => r.checkpoint !== undefined)
          ? (await admin.auditKey(false)).publicKeyPem
          : undefined;
        const r = verifyStoredChain(records, pem, await admin.audit.archiveAnchor());
        return {
          valid: r.ok,
          records: r.records,
          checkpoints: r.checkpoints,
          ...(r.firstSeq === undefined ? {} : { first_seq: r.firstSeq }),
          ...(r.lastSeq === undefined ? {} : { last_seq: r.lastSeq }),
          ...(r.firstBreak ? { first_bad: r.firstBreak } : {}),
        };
      });
    },
  );
}

function readFolder(dir: string): ExportedFile[] {
  const files: ExportedFile[] = [];
  for (const name of [EXPORT_FILES.manifest, EXPORT_FILES.records, EXPORT_FILES.publicKey]) {
    files.push({ name, encoding: 'utf8', content: readFileSync(join(dir, name), 'utf8') });
  }
  const cps = readdirSync(join(dir, EXPORT_FILES.checkpoints)).sort();
  for (const f of cps) {
    const bytes = readFileSync(join(dir, EXPORT_FILES.checkpoints, f));
    const name = `${EXPORT_FILES.checkpoints}/${f}`;
    files.push(
      f.endsWith('.sig')
        ? { name, encoding: 'base64', content: bytes.toString('base64') }
        : { name, encoding: 'utf8', content: bytes.toString('utf8') },
    );
  }
  return files;
}
