import { HsmError } from '../errors/index.js';
import { fromKeyGenerationRequest, type KeyGenerationRequest } from '../kms/key-generation-request.js';
import type { CreateKeyRequest } from '../kms/requests.js';

const bool = { type: 'boolean' } as const;

/** The key itself: label, type and attributes (the flat Key Generation Request minus metadata). */
const keyShape = {
  label: { type: 'string', minLength: 1, maxLength: 128, description: 'CKA_LABEL, unique on the token' },
  key_type: {
    type: 'string',
    minLength: 1,
    maxLength: 32,
    description: 'RSA, EC, ec-p384, ed25519, ml-dsa-65, …',
  },
  key_size: {
    anyOf: [
      { type: 'integer', minimum: 1, maximum: 65536 },
      { type: 'string', maxLength: 16 },
    ],
    description: 'RSA modulus bits, or a curve / parameter set',
  },
  curve: { type: 'string', maxLength: 16, description: 'EC curve (P-256, P-384, P-521)' },
  attributes: {
    type: 'object',
    additionalProperties: false,
    description: 'Defaults: token, private, sensitive, not extractable, sign+verify',
    properties: {
      token: bool,
      private: bool,
      sensitive: bool,
      extractable: bool,
      sign: bool,
      verify: bool,
      decrypt: bool,
      wrap: bool,
      unwrap: bool,
      derive: bool,
    },
  },
} as const;

/** Metadata stored beside the key. */
const metadataSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    purpose: { type: 'string', maxLength: 256 },
    expiry_date: { type: 'string', maxLength: 32, pattern: '^\\d{4}-\\d{2}-\\d{2}' },
    ceremony_id: { type: 'string', maxLength: 128 },
    owner: { type: 'string', maxLength: 256 },
    tags: {
      type: 'object',
      maxProperties: 64,
      additionalProperties: { type: 'string', maxLength: 256 },
      propertyNames: { maxLength: 64 },
    },
  },
} as const;

/**
 * JSON Schema of `POST /v1/keys`: either the flat Key Generation Request of `hsmkit key generate
 * --request` (`label`, `key_type`, `key_size`, `curve`, `attributes`, `metadata`), or the seed's
 * envelope `{ operation: "generate_key", hsm_provider, key_specification: {the flat fields but
 * metadata}, metadata }`. Unknown fields are refused at every level.
 */
export const KEY_GENERATION_REQUEST_SCHEMA = {
  oneOf: [
    {
      title: 'KeyGenerationRequest',
      type: 'object',
      additionalProperties: false,
      required: ['label', 'key_type'],
      properties: { ...keyShape, metadata: metadataSchema },
    },
    {
      title: 'KeyGenerationEnvelope',
      type: 'object',
      additionalProperties: false,
      required: ['operation', 'key_specification'],
      properties: {
        operation: { type: 'string', enum: ['generate_key'] },
        hsm_provider: {
          type: 'string',
          maxLength: 64,
          description: 'must be the provider of a configured member',
        },
        key_specification: {
          type: 'object',
          additionalProperties: false,
          required: ['label', 'key_type'],
          properties: keyShape,
        },
        metadata: metadataSchema,
      },
    },
  ],
} as const;

type FlatRequest = KeyGenerationRequest;
interface Envelope {
  operation: 'generate_key';
  hsm_provider?: string;
  key_specification: Omit<FlatRequest, 'metadata'>;
  metadata?: FlatRequest['metadata'];
}

/**
 * Maps a validated body (either form) to a CreateKeyRequest. `providers` are the configured
 * members' providers: an envelope naming another provider is refused rather than silently served
 * by whatever this service runs.
 */
export function toCreateKeyRequest(
  body: FlatRequest | Envelope,
  providers: readonly string[],
): CreateKeyRequest {
  let flat: FlatRequest;
  if ('operation' in body) {
    if (body.hsm_provider !== undefined && !providers.includes(body.hsm_provider)) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `hsm_provider "${body.hsm_provider}" is not configured here (members: ${providers.join(', ') || 'none'})`,
      );
    }
    flat = { ...body.key_specification, ...(body.metadata ? { metadata: body.metadata } : {}) };
  } else flat = body;
  return fromKeyGenerationRequest(flat);
}

/** A validated body of `POST /v1/keys`. */
export type KeyGenerationBody = FlatRequest | Envelope;
