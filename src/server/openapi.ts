import type { FastifyInstance, RouteOptions } from 'fastify';
import { ERROR_CODES } from '../errors/codes.js';
import { OTP_HEADER, ROLE_HEADER } from './authenticate.js';
import { PROBLEM_TYPE } from './problem.js';

/** OpenAPI 3.1 document (JSON Schema 2020-12 compatible, so route schemas are used as written). */
export type OpenApiDocument = Record<string, unknown>;

const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code', 'retryable'],
  properties: {
    type: { type: 'string', description: 'urn:hsmkit:error:<code>' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERROR_CODES) },
    retryable: { type: 'boolean' },
    details: { type: 'object' },
  },
};

/**
 * Collects every route as it is added (fastify's onRoute hook) and builds the OpenAPI document
 * from the routes' own JSON schemas, so the document cannot drift from what the service validates.
 * Call before any route is registered.
 */
export function collectOpenApi(app: FastifyInstance): () => OpenApiDocument {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (r) => {
    if (r.method !== 'HEAD') routes.push(r);
  });
  let built: OpenApiDocument | undefined;
  return () => {
    built ??= build(routes);
    return built;
  };
}

function build(routes: RouteOptions[]): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}').replace(/\*$/, '{request}');
    const schema = (r.schema ?? {}) as Record<string, unknown>;
    const config = (r.config ?? {}) as {
      access?: string;
      responses?: Record<number, { description: string; schema?: unknown }>;
    };
    const access = config.access ?? 'public';
    const parameters: unknown[] = [];
    for (const name of path.match(/\{([^}]+)\}/g) ?? []) {
      const n = name.slice(1, -1);
      const p = (schema.params as { properties?: Record<string, unknown> } | undefined)?.properties?.[n];
      parameters.push({ name: n, in: 'path', required: true, schema: p ?? { type: 'string' } });
    }
    const query = schema.querystring as { properties?: Record<string, unknown> } | undefined;
    for (const [n, s] of Object.entries(query?.properties ?? {}))
      parameters.push({ name: n, in: 'query', schema: s });
    if (access !== 'public') {
      parameters.push(
        {
          name: ROLE_HEADER,
          in: 'header',
          schema: { type: 'string' },
          description: 'role to act in (default: the identity’s first)',
        },
        {
          name: OTP_HEADER,
          in: 'header',
          schema: { type: 'string', pattern: '^\\d{6}$' },
          description: 'TOTP code; required for human identities',
        },
      );
    }
    const responses: Record<string, unknown> = {};
    for (const [status, d] of Object.entries(config.responses ?? { 200: { description: 'OK' } })) {
      responses[status] = d.schema
        ? { description: d.description, content: { 'application/json': { schema: d.schema } } }
        : { description: d.description };
    }
    responses.default = {
      description: 'An error (RFC 9457 problem document)',
      content: { [PROBLEM_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
    };
    const op: Record<string, unknown> = {
      operationId: `${String(r.method).toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: (schema.summary as string | undefined) ?? '',
      'x-hsmkit-access': access,
      parameters,
      responses,
      security: access === 'public' ? [] : [{ mutualTLS: [] }],
    };
    if (schema.body)
      op.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
    const entry = paths[path] ?? {};
    paths[path] = entry;
    for (const m of [r.method].flat()) entry[String(m).toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'hsmkit service',
      version: '1',
      description: 'HSM-held keys for certificate managers (docs/service.md).',
    },
    paths,
    components: {
      schemas: { Problem: PROBLEM_SCHEMA },
      securitySchemes: {
        mutualTLS: {
          type: 'mutualTLS',
          description: 'client certificate mapped by service.identities; humans add X-Hsmkit-Otp',
        },
      },
    },
  };
}
