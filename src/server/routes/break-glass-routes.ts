import type { FastifyInstance } from 'fastify';
import { HsmError } from '../../errors/index.js';
import type { BreakGlassRecord } from '../../store/break-glass-repository.js';
import type { BreakGlass } from '../break-glass.js';

const REQUEST_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    requester: { type: 'string' },
    role: { type: 'string' },
    reason: { type: 'string' },
    duration_minutes: { type: 'integer' },
    status: { type: 'string', enum: ['pending', 'active', 'expired'] },
    approvals_needed: { type: 'integer' },
    approvers: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string' },
    expires_at: { type: 'string' },
  },
} as const;

/** The JSON view of a request: approvals still needed, never anything secret. */
function view(r: BreakGlassRecord) {
  return {
    id: r.id,
    requester: r.requester,
    role: r.role,
    reason: r.reason,
    duration_minutes: r.durationMinutes,
    status: r.status,
    approvals_needed: Math.max(0, r.quorum - r.approvers.length),
    approvers: r.approvers,
    created_at: r.createdAt,
    ...(r.expiresAt ? { expires_at: r.expiresAt } : {}),
  };
}

/**
 * `POST /v1/break-glass/requests` (201), `POST /v1/break-glass/requests/:id/approvals` and
 * `GET /v1/break-glass/requests`. Any authenticated identity may ask and list; who may approve is
 * decided by BreakGlass from `service.break_glass.approvers` (humans only, so TOTP was checked).
 */
export function registerBreakGlassRoutes(app: FastifyInstance, breakGlass: BreakGlass): void {
  app.post<{ Body: { reason: string; duration_minutes: number } }>(
    '/v1/break-glass/requests',
    {
      schema: {
        summary: 'Ask for the break-glass role (M-of-N approval, time-limited, audited and alerted)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['reason', 'duration_minutes'],
          properties: {
            reason: { type: 'string', minLength: 1, maxLength: 1000 },
            duration_minutes: { type: 'integer', minimum: 1, maximum: 1440 },
          },
        },
      },
      config: {
        access: 'authenticated',
        responses: { 201: { description: 'Pending until the quorum approves', schema: REQUEST_SCHEMA } },
      },
    },
    async (req, reply) => {
      const p = req.principal!;
      const r = await breakGlass.request(
        p.identity,
        p.actor,
        req.body.reason,
        req.body.duration_minutes,
        req.id,
      );
      return reply.code(201).send(view(r));
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/break-glass/requests/:id/approvals',
    {
      schema: {
        summary: 'Approve a break-glass request (an approver other than the requester, certificate + TOTP)',
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } },
        },
      },
      config: {
        access: 'authenticated',
        responses: { 200: { description: 'The request after this approval', schema: REQUEST_SCHEMA } },
      },
    },
    async (req) => {
      const p = req.principal!;
      if (req.body !== undefined && req.body !== null && Object.keys(req.body as object).length > 0)
        throw new HsmError('HSM_ERR_INVALID_INPUT', 'an approval takes no body (or {})');
      return view(await breakGlass.approve(req.params.id, p.identity, p.actor, req.id));
    },
  );

  app.get(
    '/v1/break-glass/requests',
    {
      schema: { summary: 'Break-glass requests, newest first, with their status now' },
      config: {
        access: 'authenticated',
        responses: {
          200: {
            description: 'The requests',
            schema: { type: 'object', properties: { items: { type: 'array', items: REQUEST_SCHEMA } } },
          },
        },
      },
    },
    async () => ({ items: (await breakGlass.list()).map(view) }),
  );
}
