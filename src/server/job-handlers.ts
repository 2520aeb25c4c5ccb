import { HsmError } from '../errors/index.js';
import type { GovernedKeyManager } from '../governance/governed-key-manager.js';
import { generateCrl } from '../pki/crl.js';
import { issueBatch } from '../pki/issue.js';
import { toPem } from '../pki/pem.js';
import { asPkiKeyManager } from '../pki/pki-key-manager.js';
import type { Operation } from '../policy/vocabulary.js';
import type { AdminDeps } from './admin-deps.js';
import { type KeyGenerationBody, toCreateKeyRequest } from './key-generation-request.js';
import { keyView } from './key-view.js';
import { BACKUP_CREATE_SCHEMA } from './routes/backup-routes.js';
import { crlView } from './routes/pki-admin-routes.js';
import { type BackupCreateParams, createServiceBackup } from './service-backup.js';

/** Job kinds and the policy operation each performs (the submitter's role must be granted it). */
export const JOB_KINDS: Record<string, Operation> = {
  'key.create': 'key.create',
  'pki.issue-bulk': 'pki.issue',
  'pki.crl': 'pki.crl',
  'backup.create': 'backup.create',
};

/** Largest number of CSRs in one `pki.issue-bulk` job. */
export const MAX_BULK_CSRS = 1000;

const caName = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
} as const;

/** JSON schemas of the `params` of the kinds other than `key.create` (which takes `request`). */
export const JOB_PARAMS_SCHEMAS: Record<string, Record<string, unknown>> = {
  'pki.issue-bulk': {
    type: 'object',
    additionalProperties: false,
    required: ['ca', 'profile', 'csr_pems'],
    properties: {
      ca: caName,
      profile: { type: 'string', minLength: 1, maxLength: 64 },
      csr_pems: {
        type: 'array',
        minItems: 1,
        maxItems: MAX_BULK_CSRS,
        items: { type: 'string', minLength: 1, maxLength: 96 * 1024 },
      },
      validity_days: { type: 'integer', minimum: 1, maximum: 36500 },
    },
  },
  'pki.crl': {
    type: 'object',
    additionalProperties: false,
    required: ['ca'],
    properties: { ca: caName, next_update_days: { type: 'integer', minimum: 1, maximum: 366 } },
  },
  'backup.create': BACKUP_CREATE_SCHEMA,
};

/** What the handlers work with besides the job's governed key manager. */
export interface JobEnv {
  providers: readonly string[];
  admin?: AdminDeps;
}

interface BulkParams {
  ca: string;
  profile: string;
  csr_pems: string[];
  validity_days?: number;
}

/**
 * Runs one job as its submitter (`km` is governed as them) and returns its result. The job's own
 * operation is one governed call around the work, as the matching route does.
 */
export async function runJob(
  kind: string,
  request: unknown,
  km: GovernedKeyManager,
  env: JobEnv,
  jobId = '',
): Promise<unknown> {
  if (kind === 'key.create') {
    return keyView(await km.createKey(toCreateKeyRequest(request as KeyGenerationBody, env.providers)));
  }
  const admin = env.admin;
  if (!admin) throw new HsmError('HSM_ERR_CONFIG', `job kind ${kind} needs the service's PKI and governance`);
  if (kind === 'pki.issue-bulk') {
    const p = request as BulkParams;
    const results = await km.governor.run(
      {
        operation: 'pki.issue',
        params: { ca: p.ca, profile: p.profile, csrs: p.csr_pems.length, bulk: true },
      },
      () =>
        issueBatch(admin.pki(asPkiKeyManager(km)), {
          ca: p.ca,
          profile: p.profile,
          csrs: p.csr_pems.map((t) => Buffer.from(t, 'utf8')),
          ...(p.validity_days === undefined ? {} : { validityMs: p.validity_days * 86_400_000 }),
        }),
    );
    const rows = results.map((r, index) =>
      r.ok
        ? {
            index,
            ok: true,
            serial: r.issued.record.serial,
            certificate_pem: toPem(r.issued.record.der, 'CERTIFICATE'),
          }
        : { index, ok: false, error: { code: r.error.code, message: r.error.message } },
    );
    return {
      issued: rows.filter((r) => r.ok).length,
      failed: rows.filter((r) => !r.ok).length,
      results: rows,
    };
  }
  if (kind === 'pki.crl') {
    const p = request as { ca: string; next_update_days?: number };
    const days = p.next_update_days;
    const deps = admin.pki(asPkiKeyManager(km));
    const r = await km.governor.run({ operation: 'pki.crl', params: { ...p, job: true } }, () =>
      days === undefined ? generateCrl(deps, p.ca) : generateCrl(deps, p.ca, days * 86_400_000),
    );
    return crlView(r);
  }
  if (kind === 'backup.create') {
    if (!admin.backups) throw new HsmError('HSM_ERR_CONFIG', 'the service has no backup storage configured');
    return createServiceBackup(km, admin.backups, request as BackupCreateParams, jobId);
  }
  throw new HsmError('HSM_ERR_INVALID_INPUT', `unknown job kind ${kind.slice(0, 64)}`);
}
