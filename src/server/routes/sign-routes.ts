import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HsmError } from '../../errors/index.js';
import type { GovernedKeyManager } from '../../governance/governed-key-manager.js';
import type { BatchSignResult } from '../../kms/key-manager.js';
import type { SignRequest } from '../../kms/requests.js';
import type { SignAlgorithm } from '../../kms/sign-algorithm.js';
import { signEach } from '../../kms/sign-each.js';
import { problemOf } from '../problem.js';

const base64 = (maxLength: number) =>
  ({ type: 'string', minLength: 1, maxLength, pattern: '^[A-Za-z0-9+/]*={0,2}$' }) as const;

const algorithmSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['scheme'],
  properties: {
    scheme: { type: 'string', enum: ['rsa-pkcs1', 'rsa-pss', 'ecdsa', 'eddsa', 'ml-dsa'] },
    hash: { type: 'string', enum: ['sha256', 'sha384', 'sha512'] },
  },
} as const;

const common = {
  key: { type: 'string', minLength: 1, maxLength: 512, description: 'label or RFC 7512 URI' },
  algorithm: algorithmSchema,
  format: { type: 'string', enum: ['der', 'raw'], description: 'ECDSA output (default der)' },
} as const;

/** A precomputed digest: at most 64 bytes (SHA-512), base64. */
const digestSchema = base64(88);
/** A message in a batch item (EdDSA and ML-DSA sign the message itself): at most 64 KiB, base64. */
const batchDataSchema = base64(87_384);

const signSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['key'],
  oneOf: [{ required: ['digest'] }, { required: ['data'] }],
  properties: { ...common, digest: digestSchema, data: base64(1_400_000) },
} as const;

interface SignBody {
  key: string;
  digest?: string;
  data?: string;
  algorithm?: SignAlgorithm;
  format?: 'der' | 'raw';
}

function toSignRequest(b: SignBody): SignRequest {
  const req: SignRequest = { key: b.key };
  if (b.digest !== undefined) req.digest = decode(b.digest, 'digest');
  if (b.data !== undefined) req.data = decode(b.data, 'data');
  if (b.algorithm !== undefined) req.algorithm = b.algorithm;
  if (b.format !== undefined) req.format = b.format;
  return req;
}

/**
 * An item's failure as the caller may see it: an HsmError, never an internal error's text. The
 * batch signers hand back other errors wrapped by toHsmError (HSM_ERR_INTERNAL carrying the
 * original as its cause and its message), so those are unwrapped and masked too.
 */
function asHsmError(err: unknown): HsmError {
  const wrapped = HsmError.is(err, 'HSM_ERR_INTERNAL') && err.cause !== undefined && !HsmError.is(err.cause);
  const e = wrapped ? (err as HsmError).cause : err;
  return HsmError.is(e) ? e : new HsmError('HSM_ERR_INTERNAL', 'internal error');
}

function decode(text: string, field: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length === 0) throw new HsmError('HSM_ERR_DATA_INVALID', `${field} is empty`);
  return bytes;
}

/** `POST /v1/sign` and `POST /v1/sign/batch` (up to `batchSize` digests or messages, results in order). */
export function registerSignRoutes(
  app: FastifyInstance,
  km: (req: FastifyRequest) => GovernedKeyManager,
  batchSize: number,
): void {
  app.post<{ Body: SignBody }>(
    '/v1/sign',
    {
      schema: { summary: 'Sign a digest or data in the HSM', body: signSchema },
      config: {
        access: 'key.sign',
        idempotency: 'redo', // signing again is harmless (a new, equally valid signature)
        responses: {
          200: {
            description: 'The signature, base64',
            schema: {
              type: 'object',
              properties: { key: { type: 'string' }, signature: { type: 'string' } },
            },
          },
        },
      },
    },
    async (req) => {
      const signature = await km(req).sign(toSignRequest(req.body));
      return { key: req.body.key, signature: Buffer.from(signature).toString('base64') };
    },
  );

  app.post<{ Body: { items: SignBody[] } }>(
    '/v1/sign/batch',
    {
      schema: {
        summary: `Sign up to ${batchSize} digests or messages (up to 64 KiB each); each item succeeds or fails alone`,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['items'],
          properties: {
            items: {
              type: 'array',
              minItems: 1,
              maxItems: batchSize,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['key'],
                oneOf: [{ required: ['digest'] }, { required: ['data'] }],
                properties: { ...common, digest: digestSchema, data: batchDataSchema },
              },
            },
          },
        },
      },
      config: {
        access: 'key.sign',
        idempotency: 'redo',
        responses: {
          200: {
            description: 'One result per item, in order: a signature, or that item’s problem document',
            schema: { type: 'object', properties: { results: { type: 'array', items: { type: 'object' } } } },
          },
        },
      },
    },
    async (req) => {
      const manager = km(req);
      // Items that cannot even be decoded fail alone, like items the HSM refuses.
      const decoded = req.body.items.map((item): SignRequest | HsmError => {
        try {
          return toSignRequest(item);
        } catch (err) {
          return asHsmError(err);
        }
      });
      const valid = decoded.filter((d): d is SignRequest => !(d instanceof HsmError));
      // One governed batch: each item is still decided and audited alone, the key looked up once.
      const signed = manager.signBatch
        ? await manager.signBatch(valid)
        : await signEach(valid, (r) => manager.sign(r));
      let next = 0;
      const results = decoded.map((d, index) => {
        const r: BatchSignResult =
          d instanceof HsmError ? { ok: false, error: d } : (signed[next++] as BatchSignResult);
        return r.ok
          ? { index, ok: true, signature: Buffer.from(r.signature).toString('base64') }
          : { index, ok: false, error: problemOf(asHsmError(r.error)) };
      });
      return { results };
    },
  );
}
