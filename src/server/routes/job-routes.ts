import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { HsmError } from '../../errors/index.js';
import type { ServiceJobRepository } from '../../store/service-job-repository.js';
import { JOB_PARAMS_SCHEMAS } from '../job-handlers.js';
import type { JobRunner } from '../job-runner.js';
import { JOB_KINDS } from '../job-runner.js';
import { KEY_GENERATION_REQUEST_SCHEMA } from '../key-generation-request.js';
import { checkRouteAccess } from '../route-access.js';
import type { ServiceRuntime } from '../service-deps.js';

const JOB_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed'] },
    result: { type: 'object' },
    error: { type: 'object' },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
} as const;

/** `POST /v1/jobs` (202 + id) and `GET /v1/jobs/:id`; a job is visible only to its submitter. */
export function registerJobRoutes(
  app: FastifyInstance,
  jobs: ServiceJobRepository,
  runner: JobRunner | undefined,
  runtime: ServiceRuntime,
): void {
  // key.create takes the Key Generation Request as `request` (or `params`); other kinds take `params`.
  const variant = (kind: string, field: 'request' | 'params', schema: unknown) => ({
    type: 'object',
    additionalProperties: false,
    required: ['kind', field],
    properties: { kind: { type: 'string', const: kind }, [field]: schema },
  });
  app.post<{ Body: { kind: string; request?: unknown; params?: unknown } }>(
    '/v1/jobs',
    {
      schema: {
        summary: 'Submit a long operation (e.g. RSA-8192 key generation) as a durable job',
        body: {
          oneOf: [
            variant('key.create', 'request', KEY_GENERATION_REQUEST_SCHEMA),
            variant('key.create', 'params', KEY_GENERATION_REQUEST_SCHEMA),
            ...Object.entries(JOB_PARAMS_SCHEMAS).map(([kind, schema]) => variant(kind, 'params', schema)),
          ],
        },
      },
      config: {
        access: 'authenticated',
        responses: { 202: { description: 'Accepted; poll the Location', schema: JOB_SCHEMA } },
      },
    },
    async (req, reply) => {
      const principal = req.principal!;
      // The job's own operation decides who may submit it; the runner decides again per key.
      await checkRouteAccess(runtime, principal.actor, JOB_KINDS[req.body.kind]!, req.id, 'POST /v1/jobs');
      const job = await jobs.add({
        id: randomUUID(),
        kind: req.body.kind,
        request: req.body.request ?? req.body.params,
        actor: principal.actor.name,
        role: principal.actor.role,
      });
      runner?.kick();
      return reply.code(202).header('location', `/v1/jobs/${job.id}`).send(view(job));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      schema: {
        summary: 'A job’s status and, when finished, its result or error',
        params: {
          type: 'object',
          additionalProperties: false,
          required: ['id'],
          properties: { id: { type: 'string', format: 'uuid' } },
        },
      },
      config: { access: 'authenticated', responses: { 200: { description: 'The job', schema: JOB_SCHEMA } } },
    },
    async (req) => {
      const job = await jobs.get(req.params.id);
      // Another identity's job is reported as absent: its existence is not disclosed.
      if (!job || job.actor !== req.principal!.actor.name)
        throw new HsmError('HSM_ERR_NOT_FOUND', 'no such job');
      return view(job);
    },
  );
}

function view(j: Awaited<ReturnType<ServiceJobRepository['get']>> & object): Record<string, unknown> {
  return {
    id: j.id,
    kind: j.kind,
    status: j.status,
    ...(j.result === undefined ? {} : { result: j.result }),
    ...(j.error === undefined ? {} : { error: j.error }),
    created_at: j.createdAt,
    updated_at: j.updatedAt,
  };
}
