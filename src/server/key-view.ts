import type { KeyInfo } from '../kms/key-info.js';

/** JSON Schema of a key as the API returns it. */
export const KEY_VIEW_SCHEMA = {
  type: 'object',
  properties: {
    label: { type: 'string' },
    uri: { type: 'string' },
    id: { type: 'string' },
    type: { type: 'string' },
    family: { type: 'string' },
    token: { type: 'string' },
    member: { type: 'string' },
    attributes: { type: 'object' },
    public_key_pem: { type: 'string' },
    metadata: { type: 'object' },
  },
} as const;

/** A key as the API returns it (snake_case, like the Key Generation Request). */
export function keyView(k: KeyInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    label: k.label,
    uri: k.uri,
    id: k.id,
    type: k.type,
    family: k.family,
    token: k.token,
    member: k.member,
    attributes: k.attributes,
    public_key_pem: k.publicKeyPem,
  };
  if (k.replicas) out.replicas = k.replicas;
  if (k.metadata) {
    const m = k.metadata;
    out.metadata = {
      ...(m.purpose === undefined ? {} : { purpose: m.purpose }),
      ...(m.expiresAt === undefined ? {} : { expiry_date: m.expiresAt }),
      ...(m.ceremonyId === undefined ? {} : { ceremony_id: m.ceremonyId }),
      ...(m.owner === undefined ? {} : { owner: m.owner }),
      ...(m.tags === undefined ? {} : { tags: m.tags }),
      ...(m.status === undefined ? {} : { status: m.status }),
      ...(m.createdAt === undefined ? {} : { created_at: m.createdAt }),
    };
  }
  return out;
}
