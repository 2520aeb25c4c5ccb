import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { validateObjectName } from '../../backup/storage/backup-storage.js';
import { HsmError } from '../../errors/index.js';
import type { GovernedKeyManager } from '../../governance/governed-key-manager.js';
import type { ServiceJobRepository } from '../../store/service-job-repository.js';
import type { ServiceBackups } from '../admin-deps.js';
import { backupLocation, verifyBackupText } from '../service-backup.js';

/** Largest backup file accepted inline by `POST /v1/backups/verify` (base64 of it fits the body limit). */
export const MAX_INLINE_BACKUP_B64 = 700 * 1024;

const location = { type: 'string', minLength: 1, maxLength: 512 } as const;
const problemsSchema = {
  type: 'object',
  properties: {
    valid: { type: 'boolean' },
    entries: { type: 'integer' },
    signer_fingerprint: { type: 'string' },
    not_backed_up: { type: 'array', items: { type: 'object' } },
    problems: { type: 'array', items: { type: 'object' } },
  },
} as const;

/** The job schema of `backup.create` (`POST /v1/backups`, or `POST /v1/jobs` with kind backup.create). */
export const BACKUP_CREATE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['keys'],
  properties: {
    keys: {
      type: 'string',
      minLength: 1,
      maxLength: 1024,
      description: '`all`, `prefix*`, or label,label,…',
    },
    storage: { ...location, description: 'one of the service’s backup locations; default its first' },
  },
} as const;

/**
 * `/v1/backups`: create (a durable `backup.create` job, 202), list what the service's storage holds,
 * and verify a file (inline or stored) without custodians or an HSM.
 */
export function registerBackupRoutes(
  app: FastifyInstance,
  km: (req: FastifyRequest) => GovernedKeyManager,
  backups: ServiceBackups,
  jobs: ServiceJobRepository | undefined,
  kick: () => void,
): void {
  if (jobs) {
    app.post<{ Body: { keys: string; storage?: string } }>(
      '/v1/backups',
      {
        schema: {
          summary: 'Back up keys under the backup KEK, as a durable job',
          body: BACKUP_CREATE_SCHEMA,
        },
        config: {
          access: 'backup.create',
          responses: {
            202: {
              description: 'Accepted; poll /v1/jobs/{job_id}',
              schema: {
                type: 'object',
                properties: { job_id: { type: 'string' }, status: { type: 'string' } },
              },
            },
          },
        },
      },
      async (req, reply) => {
        backupLocation(backups, req.body.storage);
        const actor = req.principal!.actor;
        const job = await jobs.add({
          id: randomUUID(),
          kind: 'backup.create',
          request: req.body,
          actor: actor.name,
          role: actor.role,
        });
        kick();
        return reply
          .code(202)
          .header('location', `/v1/jobs/${job.id}`)
          .send({ job_id: job.id, status: job.status });
      },
    );
  }

  app.get<{ Querystring: { storage?: string } }>(
    '/v1/backups',
    {
      schema: {
        summary: 'Backup files in the service’s storage',
        querystring: { type: 'object', additionalProperties: false, properties: { storage: location } },
      },
      config: {
        access: 'backup.list',
        responses: {
          200: {
            description: 'Stored backups, by name',
            schema: { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } } } },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      const at = backupLocation(backups, req.query.storage);
      return g.governor.run({ operation: 'backup.list', params: { location: at } }, async () => {
        const { storage, close } = backups.storage(at);
        try {
          const items = (await storage.list()).map((o) => ({
            name: o.name,
            size: o.size,
            location: at,
            ...(o.sha256 === undefined ? {} : { sha256: o.sha256 }),
            ...(o.modifiedAt === undefined ? {} : { modified_at: o.modifiedAt }),
          }));
          return { items };
        } finally {
          close();
        }
      });
    },
  );

  app.post<{ Body: { file_b64?: string; name?: string; storage?: string; signer?: string } }>(
    '/v1/backups/verify',
    {
      schema: {
        summary: 'Verify a backup file (signature, every entry): inline as base64, or a stored one by name',
        body: {
          type: 'object',
          additionalProperties: false,
          oneOf: [{ required: ['file_b64'] }, { required: ['name'] }],
          properties: {
            file_b64: {
              type: 'string',
              minLength: 1,
              maxLength: MAX_INLINE_BACKUP_B64,
              pattern: '^[A-Za-z0-9+/\\r\\n]+={0,2}$',
            },
            name: { type: 'string', minLength: 1, maxLength: 200 },
            storage: location,
            signer: {
              type: 'string',
              pattern: '^[0-9a-f]{64}$',
              description: 'expected signer SHA-256 fingerprint',
            },
          },
        },
      },
      config: {
        access: 'backup.verify',
        responses: { 200: { description: 'The verdict', schema: problemsSchema } },
      },
    },
    async (req) => {
      const g = km(req);
      const b = req.body;
      if (b.storage !== undefined && b.name === undefined)
        throw new HsmError('HSM_ERR_INVALID_INPUT', 'storage goes with name');
      const params = b.name === undefined ? { inline: true } : { name: b.name, storage: b.storage };
      return g.governor.run({ operation: 'backup.verify', params }, async () => {
        let text: string;
        if (b.name !== undefined) {
          validateObjectName(b.name);
          const { storage, close } = backups.storage(backupLocation(backups, b.storage));
          try {
            // The storage checks the object's recorded SHA-256 first (HSM_ERR_BACKUP_INVALID).
            text = (await storage.get(b.name)).toString('utf8');
          } finally {
            close();
          }
        } else {
          text = Buffer.from(b.file_b64!, 'base64').toString('utf8');
        }
        const r = verifyBackupText(text, b.signer);
        return {
          valid: r.ok,
          entries: r.entries,
          signer_fingerprint: r.signerFingerprint,
          not_backed_up: r.notBackedUp,
          problems: r.problems,
        };
      });
    },
  );
}
