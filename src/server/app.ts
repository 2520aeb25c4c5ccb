import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { HsmError } from '../errors/index.js';
import { authenticationHook } from './authenticate.js';
import { pinPeerCertificate } from './client-identity.js';
import { registerIdempotency } from './idempotency.js';
import { JobRunner } from './job-runner.js';
import { collectOpenApi } from './openapi.js';
import { sendProblem, toClientError } from './problem.js';
import './request-context.js';
import { requestKeyManager } from './request-key-manager.js';
import { registerAuditRoutes } from './routes/audit-routes.js';
import { registerBackupRoutes } from './routes/backup-routes.js';
import { registerBreakGlassRoutes } from './routes/break-glass-routes.js';
import { registerCeremonyRoutes } from './routes/ceremony-routes.js';
import { registerHealthRoutes } from './routes/health-routes.js';
import { registerJobRoutes } from './routes/job-routes.js';
import { registerKeyRoutes } from './routes/key-routes.js';
import { registerPkiAdminRoutes } from './routes/pki-admin-routes.js';
import { MALFORMED_OCSP, registerPkiRoutes } from './routes/pki-routes.js';
import { registerPolicyRoutes } from './routes/policy-routes.js';
import { registerSignRoutes } from './routes/sign-routes.js';
import type { AppDeps } from './service-deps.js';
import { parseStrictJson } from './strict-json.js';

export { MAX_OCSP_BODY } from './routes/pki-routes.js';
export type { ApiDeps, AppDeps, ServiceRuntime } from './service-deps.js';

/** Default largest JSON body (1 MiB); `service.body_limit_bytes` overrides it. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * The hsmkit HTTP service: OCSP and CRLs, health, the OpenAPI document, and (with `deps.api`) the
 * `/v1` key and signing API behind client-certificate identities, MFA, rate limits and RBAC.
 * Transport (mutual TLS) is the caller's: pass fastify's `https` options through `serverOptions`.
 * Every error is an RFC 9457 problem document carrying an HSM_ERR_* code.
 */
export function buildApp(
  deps: AppDeps,
  serverOptions: { https?: Record<string, unknown> } = {},
): FastifyInstance {
  const api = deps.api;
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: api?.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    ...(serverOptions.https ? { https: serverOptions.https } : {}),
    // Unknown fields, wrong types and coercions are errors, never silently fixed.
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false },
    },
    // A URL the router cannot decode (`/ocsp/%%%`) is still an OCSP request: answer malformedRequest.
    frameworkErrors: (err: Error, req: FastifyRequest, rawReply: unknown) => {
      const reply = rawReply as unknown as FastifyReply;
      if (req.url.startsWith('/ocsp')) {
        reply.code(200).header('content-type', 'application/ocsp-response').send(Buffer.from(MALFORMED_OCSP));
      } else {
        sendProblem(reply, new HsmError('HSM_ERR_INVALID_INPUT', `bad request URL: ${err.message}`));
      }
    },
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  // One certificate per connection: no renegotiation (client-identity.ts).
  if (serverOptions.https) app.server.on('secureConnection', pinPeerCertificate);

  // JSON only (and OCSP's DER): a text/plain body is 415, not a string the schema then rejects.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseStrictJson(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  const openapi = collectOpenApi(app);
  const metrics = deps.metrics;

  app.setErrorHandler((err, req, reply) => {
    const e = toClientError(err);
    if (e.code === 'HSM_ERR_INTERNAL') req.log.error({ err }, 'internal error');
    if (e.code === 'HSM_ERR_POLICY_VIOLATION') metrics?.securityEvents.inc({ kind: 'policy_violation' });
    metrics?.errors.inc({ code: e.code });
    const wait = e.details?.retryAfterSeconds;
    if (typeof wait === 'number') reply.header('retry-after', String(wait));
    return sendProblem(reply, e);
  });
  app.setNotFoundHandler((req, reply) => {
    metrics?.errors.inc({ code: 'HSM_ERR_NOT_FOUND' });
    return sendProblem(
      reply,
      new HsmError('HSM_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`),
    );
  });
  if (metrics) {
    app.addHook('onResponse', async (req, reply) => {
      metrics.requests.inc({
        method: req.method,
        route: req.routeOptions.url ?? 'unknown',
        status: String(reply.statusCode),
      });
    });
  }
  if (api) app.addHook('onRequest', authenticationHook(api, metrics));
  // Idempotency-Key on every authenticated POST route, present and future (docs/service.md).
  if (api?.idempotency)
    registerIdempotency(app, api.idempotency, api.idempotencyTtlMs ? { ttlMs: api.idempotencyTtlMs } : {});

  registerPkiRoutes(app, deps);
  registerHealthRoutes(app, deps);
  if (api) {
    const km = requestKeyManager(api.runtime, metrics);
    registerKeyRoutes(app, km, api.providers);
    registerSignRoutes(app, km, api.runtime.batchSize);
    if (api.admin) {
      registerPkiAdminRoutes(app, km, api.admin);
      registerPolicyRoutes(app, km, api.runtime, api.admin);
      registerAuditRoutes(app, km, api.admin);
      registerCeremonyRoutes(app, km, api.admin);
    }
    if (api.jobs) {
      const runner =
        api.runJobs === false
          ? undefined
          : new JobRunner(
              api.jobs,
              api.runtime,
              api.providers,
              metrics,
              api.admin ? { admin: api.admin } : {},
            );
      registerJobRoutes(app, api.jobs, runner, api.runtime);
      if (api.admin?.backups)
        registerBackupRoutes(app, km, api.admin.backups, api.jobs, () => runner?.kick());
      if (runner) {
        app.addHook('onReady', async () => runner.start());
        app.addHook('onClose', async () => runner.stop());
      }
    }
    if (api.breakGlass) {
      const bg = api.breakGlass;
      registerBreakGlassRoutes(app, bg);
      metrics?.observeBreakGlass(() => bg.activeCount());
    }
    if (metrics) {
      for (const [member, state] of Object.entries(api.runtime.memberStates()))
        metrics.setMemberState(member, state);
      const off = api.runtime.onMemberState((member, state) => metrics.setMemberState(member, state));
      app.addHook('onClose', async () => off());
    }
  }
  app.get(
    '/openapi.json',
    { schema: { summary: 'This document' }, config: { responses: { 200: { description: 'OpenAPI 3.1' } } } },
    async () => openapi(),
  );
  return app;
}
