import { z } from 'zod';
import { HsmError } from '../errors/index.js';
import { fromKeyGenerationRequest } from '../kms/key-generation-request.js';
import type { CreateKeyRequest } from '../kms/requests.js';

/**
 * The Key Generation Request JSON (`hsmkit key generate --request file.json`):
 * ```json
 * { "label": "issuing-ca-2026", "key_type": "RSA", "key_size": 4096,
 *   "attributes": { "token": true, "private": true, "sensitive": true, "extractable": false,
 *                   "sign": true, "verify": true, "wrap": false, "unwrap": false },
 *   "metadata": { "purpose": "issuing-ca", "expiry_date": "2031-01-01", "ceremony_id": "C-17",
 *                 "owner": "pki-team", "tags": { "env": "prod" } } }
 * ```
 * `key_type` may also be a full type (`ec-p384`, `ed25519`) with no size; `curve` names EC curves.
 */
const requestSchema = z.strictObject({
  label: z.string(),
  key_type: z.string(),
  key_size: z.union([z.int().positive(), z.string()]).optional(),
  curve: z.string().optional(),
  attributes: z
    .strictObject({
      token: z.boolean().optional(),
      private: z.boolean().optional(),
      sensitive: z.boolean().optional(),
      extractable: z.boolean().optional(),
      sign: z.boolean().optional(),
      verify: z.boolean().optional(),
      decrypt: z.boolean().optional(),
      wrap: z.boolean().optional(),
      unwrap: z.boolean().optional(),
      derive: z.boolean().optional(),
    })
    .optional(),
  metadata: z
    .strictObject({
      purpose: z.string().max(256).optional(),
      expiry_date: z.string().optional(),
      ceremony_id: z.string().max(128).optional(),
      owner: z.string().max(256).optional(),
      tags: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});

/** Parses and validates a Key Generation Request; errors name the JSON path. */
export function parseKeyRequest(text: string): CreateKeyRequest {
  // U+FFFD is what invalid UTF-8 bytes became on the way in; a request must be valid text throughout.
  if (!text.isWellFormed() || text.includes('\uFFFD')) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'the key request is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `the key request is not valid JSON: ${(err as Error).message}`,
    );
  }
  const parsed = requestSchema.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`,
    );
    throw new HsmError('HSM_ERR_INVALID_INPUT', `invalid key request:\n${lines.join('\n')}`, {
      details: { issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return fromKeyGenerationRequest(parsed.data);
}
