import { keyTypeFromParts } from './key-spec.js';
import type { CreateKeyRequest } from './requests.js';
import { withoutUndefined } from './without-undefined.js';

/**
 * The flat Key Generation Request (CLI `--request FILE`, `POST /v1/keys`), after its shape was
 * validated by the caller (zod in the CLI, JSON Schema in the service).
 */
export interface KeyGenerationRequest {
  label: string;
  key_type: string;
  key_size?: number | string;
  curve?: string;
  attributes?: {
    token?: boolean;
    private?: boolean;
    sensitive?: boolean;
    extractable?: boolean;
    sign?: boolean;
    verify?: boolean;
    decrypt?: boolean;
    wrap?: boolean;
    unwrap?: boolean;
    derive?: boolean;
  };
  metadata?: {
    purpose?: string;
    expiry_date?: string;
    ceremony_id?: string;
    owner?: string;
    tags?: Record<string, string>;
  };
}

/** Maps a validated Key Generation Request to a CreateKeyRequest (unknown key types are HSM_ERR_INVALID_INPUT). */
export function fromKeyGenerationRequest(r: KeyGenerationRequest): CreateKeyRequest {
  const spec = keyTypeFromParts(r.key_type, r.key_size ?? r.curve);
  const req: CreateKeyRequest = { label: r.label, type: spec.type };
  const a = r.attributes;
  if (a) {
    req.protection = withoutUndefined({
      token: a.token,
      private: a.private,
      sensitive: a.sensitive,
      extractable: a.extractable,
    });
    req.usage = withoutUndefined({
      sign: a.sign,
      verify: a.verify,
      decrypt: a.decrypt,
      wrap: a.wrap,
      unwrap: a.unwrap,
      derive: a.derive,
    });
  }
  const m = r.metadata;
  if (m) {
    req.metadata = withoutUndefined({
      purpose: m.purpose,
      expiresAt: m.expiry_date,
      ceremonyId: m.ceremony_id,
      owner: m.owner,
      tags: m.tags,
    });
  }
  return req;
}
