/** `hsmkit key …` against a service: the `/v1/keys` routes. */

import { HsmError } from '../../errors/index.js';
import type { KeyInfo } from '../../kms/key-info.js';
import { parseKeyType } from '../../kms/key-spec.js';
import type { KeyMetadata } from '../../kms/requests.js';
import { assertWritable, readInput, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';
import { seg } from './remote-client.js';
import { remoteClient } from './remote-context.js';

/** A key as `/v1/keys` returns it (snake_case). */
export interface KeyView {
  label: string;
  uri: string;
  id: string;
  type: string;
  family: KeyInfo['family'];
  token: string;
  member: string;
  replicas?: string[];
  attributes: KeyInfo['attributes'];
  public_key_pem: string;
  metadata?: {
    purpose?: string;
    expiry_date?: string;
    ceremony_id?: string;
    owner?: string;
    tags?: Record<string, string>;
    status?: string;
    created_at?: string;
  };
}

/** The API's key view as the KeyInfo local commands print, so text output is the same. */
export function keyInfoOf(v: KeyView): KeyInfo {
  const info: KeyInfo = {
    uri: v.uri,
    label: v.label,
    id: v.id,
    type: v.type,
    family: v.family,
    token: v.token,
    member: v.member,
    attributes: v.attributes,
    publicKeyPem: v.public_key_pem,
  };
  if (v.replicas) info.replicas = v.replicas;
  const m = v.metadata;
  if (m) {
    info.metadata = {
      ...(m.purpose === undefined ? {} : { purpose: m.purpose }),
      ...(m.expiry_date === undefined ? {} : { expiresAt: m.expiry_date }),
      ...(m.ceremony_id === undefined ? {} : { ceremonyId: m.ceremony_id }),
      ...(m.owner === undefined ? {} : { owner: m.owner }),
      ...(m.tags === undefined ? {} : { tags: m.tags }),
      ...(m.status === undefined ? {} : { status: m.status }),
      ...(m.created_at === undefined ? {} : { createdAt: m.created_at }),
    };
  }
  return info;
}

/** KeyMetadata (from `--meta`) in the request's snake_case. */
export function metadataBody(m: KeyMetadata): Record<string, unknown> {
  return {
    ...(m.purpose === undefined ? {} : { purpose: m.purpose }),
    ...(m.expiresAt === undefined ? {} : { expiry_date: m.expiresAt }),
    ...(m.ceremonyId === undefined ? {} : { ceremony_id: m.ceremonyId }),
    ...(m.owner === undefined ? {} : { owner: m.owner }),
    ...(m.tags === undefined ? {} : { tags: m.tags }),
  };
}

/**
 * A Key Generation Request file as JSON, sent as written: the service validates it (either the flat
 * request or the seed's `generate_key` envelope), so remote and local refuse the same fields.
 */
function parseKeyRequestJson(text: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `the key request is not valid JSON: ${(err as Error).message}`,
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'the key request must be a JSON object');
  return json as Record<string, unknown>;
}

/** What `key generate` needs from its options, already parsed. */
export interface GenerateInput {
  type?: string;
  label?: string;
  meta?: KeyMetadata | undefined;
  request?: string;
}

/** The body of `POST /v1/keys` (also a `key.create` job's request) from `key generate`'s options. */
export function keyRequestBody(o: GenerateInput): Record<string, unknown> {
  if (o.request !== undefined) {
    if (o.type !== undefined || o.label !== undefined)
      throw new HsmError('HSM_ERR_INVALID_INPUT', '--request cannot be combined with --type or --label');
    const body = parseKeyRequestJson(readInput(o.request).toString('utf8'));
    if (o.meta) {
      const prior = (body.metadata ?? {}) as Record<string, unknown>;
      const extra = metadataBody(o.meta);
      body.metadata = {
        ...prior,
        ...extra,
        ...(prior.tags || extra.tags
          ? { tags: { ...(prior.tags as object), ...(extra.tags as object) } }
          : {}),
      };
    }
    return body;
  }
  // Checked here too, so a typo fails before a round trip.
  const type = parseKeyType(required(o.type, '--type')).type;
  return {
    label: required(o.label, '--label'),
    key_type: type,
    ...(o.meta ? { metadata: metadataBody(o.meta) } : {}),
  };
}

/** `key generate`: POST /v1/keys. */
export async function generateKey(
  g: GlobalOptions,
  o: GenerateInput,
  describe: (k: KeyInfo) => string,
): Promise<void> {
  const body = keyRequestBody(o);
  const started = performance.now();
  const view = await remoteClient(g).post<KeyView>('/v1/keys', body);
  const seconds = (performance.now() - started) / 1000;
  const info = keyInfoOf(view);
  emit(
    g,
    view,
    () =>
      `Generated ${info.type} key "${info.label}" in the HSM (${seconds.toFixed(2)} s).\n${describe(info)}`,
  );
}

/** `key list`: GET /v1/keys. */
export async function listKeys(g: GlobalOptions, o: { prefix?: string }): Promise<void> {
  const answer = await remoteClient(g).get<{ keys: KeyView[] }>('/v1/keys', { prefix: o.prefix });
  emit(g, answer, () =>
    answer.keys.length === 0
      ? 'No keys.'
      : answer.keys.map((k) => `${k.label.padEnd(32)} ${k.type.padEnd(10)} ${k.id}`).join('\n'),
  );
}

/** `key show`: GET /v1/keys/:label. */
export async function showKey(
  g: GlobalOptions,
  ref: string,
  describe: (k: KeyInfo) => string,
): Promise<void> {
  const view = await remoteClient(g).get<KeyView>(`/v1/keys/${seg(ref)}`);
  emit(g, view, () => describe(keyInfoOf(view)));
}

/** `key public`: GET /v1/keys/:label/public. */
export async function publicKey(
  g: GlobalOptions,
  ref: string,
  o: { out?: string; force?: boolean },
): Promise<void> {
  if (o.out !== undefined) assertWritable(o.out, o.force);
  const answer = await remoteClient(g).get<{ label: string; spki: string; pem: string }>(
    `/v1/keys/${seg(ref)}/public`,
  );
  if (o.out === undefined) {
    if (g.json) emit(g, answer, () => '');
    else process.stdout.write(answer.pem);
    return;
  }
  writeOutput(o.out, answer.pem, o.force);
  emit(g, { ...answer, out: o.out }, () => `Wrote the public key of "${answer.label}" to ${o.out}`);
}

/** `key delete` (confirmed by the caller): DELETE /v1/keys/:label. */
export async function deleteKey(g: GlobalOptions, ref: string): Promise<void> {
  await remoteClient(g).delete(`/v1/keys/${seg(ref)}`);
  emit(g, { deleted: ref }, () => `Deleted key "${ref}".`);
}
