import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HsmError } from '../../errors/index.js';
import type { GovernedKeyManager } from '../../governance/governed-key-manager.js';
import type { RecoveredAnswer } from '../idempotency.js';
import {
  KEY_GENERATION_REQUEST_SCHEMA,
  type KeyGenerationBody,
  toCreateKeyRequest,
} from '../key-generation-request.js';
import { KEY_VIEW_SCHEMA, keyView } from '../key-view.js';

const labelParams = {
  type: 'object',
  additionalProperties: false,
  required: ['label'],
  properties: { label: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

type LabelReq = { Params: { label: string } };

/** `/v1/keys`: generate (the Key Generation Request), list, get, delete, and the public key. */
export function registerKeyRoutes(
  app: FastifyInstance,
  km: (req: FastifyRequest) => GovernedKeyManager,
  providers: readonly string[],
): void {
  app.post<{ Body: KeyGenerationBody }>(
    '/v1/keys',
    {
      schema: { summary: 'Generate a key pair in the HSM', body: KEY_GENERATION_REQUEST_SCHEMA },
      config: {
        access: 'key.create',
        // Interrupted by a service death: answer with the key if it was made, else generate it now.
        idempotency: async (req) => recoverKeyCreation(km, req),
        responses: { 201: { description: 'The new key', schema: KEY_VIEW_SCHEMA } },
      },
    },
    async (req, reply) => {
      const info = await km(req).createKey(toCreateKeyRequest(req.body, providers));
      return reply
        .code(201)
        .header('location', `/v1/keys/${encodeURIComponent(info.label)}`)
        .send(keyView(info));
    },
  );

  app.get<{ Querystring: { prefix?: string } }>(
    '/v1/keys',
    {
      schema: {
        summary: 'List keys',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { prefix: { type: 'string', maxLength: 128 } },
        },
      },
      config: {
        access: 'key.list',
        responses: {
          200: {
            description: 'Keys',
            schema: { type: 'object', properties: { keys: { type: 'array', items: KEY_VIEW_SCHEMA } } },
          },
        },
      },
    },
    async (req) => {
      const prefix = req.query.prefix;
      const keys = await km(req).listKeys(prefix === undefined ? {} : { labelPrefix: prefix });
      return { keys: keys.map(keyView) };
    },
  );

  app.get<LabelReq>(
    '/v1/keys/:label',
    {
      schema: { summary: 'One key', params: labelParams },
      config: { access: 'key.get', responses: { 200: { description: 'The key', schema: KEY_VIEW_SCHEMA } } },
    },
    async (req) => keyView(await km(req).getKey(req.params.label)),
  );

  app.delete<LabelReq>(
    '/v1/keys/:label',
    {
      schema: { summary: 'Delete both halves of a key pair and its metadata', params: labelParams },
      config: { access: 'key.delete', responses: { 204: { description: 'Deleted' } } },
    },
    async (req, reply) => {
      await km(req).deleteKey(req.params.label);
      return reply.code(204).send();
    },
  );

  app.get<LabelReq>(
    '/v1/keys/:label/public',
    {
      schema: { summary: 'The public key (SubjectPublicKeyInfo)', params: labelParams },
      config: {
        access: 'key.public',
        responses: {
          200: {
            description: 'DER SPKI as base64, and PEM',
            schema: {
              type: 'object',
              properties: { label: { type: 'string' }, spki: { type: 'string' }, pem: { type: 'string' } },
            },
          },
        },
      },
    },
    async (req) => {
      const der = Buffer.from(await km(req).getPublicKey(req.params.label));
      const b64 = der.toString('base64');
      const pem = `-----BEGIN PUBLIC KEY-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
      return { label: req.params.label, spki: b64, pem };
    },
  );
}

/**
 * A key generation whose service died mid-request is never redone blindly: if the label now exists
 * on the token the key is answered (201, as the first request would have), else it is generated.
 */
async function recoverKeyCreation(
  km: (req: FastifyRequest) => GovernedKeyManager,
  req: FastifyRequest,
): Promise<RecoveredAnswer | undefined> {
  const body = req.body as KeyGenerationBody;
  const label = 'operation' in body ? body.key_specification.label : body.label;
  try {
    return { status: 201, body: keyView(await km(req).getKey(label)) };
  } catch (err) {
    if (HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) return undefined;
    throw err;
  }
}
