/** `hsmkit sign` and `hsmkit sign-batch` against a service: `POST /v1/sign` and `/v1/sign/batch`. */
import { createHash, createPublicKey } from 'node:crypto';
import { HsmError } from '../../errors/index.js';
import type { KeyFamily } from '../../kms/key-spec.js';
import { algorithmName, parseSignAlgorithm, type SignAlgorithm } from '../../kms/sign-algorithm.js';
import type { RemoteClient } from './remote-client.js';
import { seg } from './remote-client.js';

/**
 * The key's family, read from its public key (GET /v1/keys/:label/public, which signing roles may
 * call; `key.get` they may not have). Node names ML-DSA only from version 24, hence the fallback.
 */
export async function remoteKeyFamily(client: RemoteClient, key: string): Promise<KeyFamily> {
  const { pem } = await client.get<{ pem: string }>(`/v1/keys/${seg(key)}/public`);
  let type: string | undefined;
  try {
    type = createPublicKey(pem).asymmetricKeyType;
  } catch {
    return 'ml-dsa';
  }
  if (type === 'rsa' || type === 'rsa-pss') return 'rsa';
  if (type === 'ec') return 'ec';
  if (type === 'ed25519' || type === 'ed448') return 'eddsa';
  if (type?.startsWith('ml-dsa')) return 'ml-dsa';
  throw new HsmError('HSM_ERR_KEY_FUNCTION_NOT_PERMITTED', `key ${key} (${type ?? 'unknown'}) cannot sign`);
}

/**
 * The family a fully named algorithm (`ECDSA-SHA384`, `RSA-PSS-SHA256`, `EdDSA`) implies, so the
 * client need not fetch the public key; undefined for a bare hash or nothing.
 */
export function familyOfAlgorithm(alg: string | undefined): KeyFamily | undefined {
  const m = /^(rsa-pkcs1|rsa-pss|pkcs1|pss|ecdsa|eddsa|ed25519|ed448|ml-dsa)(-|$)/.exec(
    (alg ?? '').trim().toLowerCase().replace(/_/g, '-'),
  );
  if (!m) return undefined;
  const word = m[1]!;
  if (word === 'ecdsa') return 'ec';
  if (word === 'ml-dsa') return 'ml-dsa';
  if (word.startsWith('ed')) return 'eddsa';
  return 'rsa';
}

/** The signing algorithm: from `--alg` alone when it names the scheme, else from the key's family. */
async function algorithmFor(
  client: RemoteClient,
  key: string,
  alg: string | undefined,
): Promise<SignAlgorithm> {
  return parseSignAlgorithm(alg, familyOfAlgorithm(alg) ?? (await remoteKeyFamily(client, key)));
}

/**
 * The body fields that carry the message: hash-and-sign schemes send only the digest (computed
 * here, so a large file never crosses the wire); EdDSA and ML-DSA sign the message itself.
 */
export function messageFields(alg: SignAlgorithm, data: Uint8Array): { digest: string } | { data: string } {
  if (alg.scheme === 'eddsa' || alg.scheme === 'ml-dsa')
    return { data: Buffer.from(data).toString('base64') };
  return {
    digest: createHash(alg.hash ?? 'sha256')
      .update(data)
      .digest('base64'),
  };
}

/** One signature made by the service. */
export interface RemoteSignature {
  algorithm: string;
  signature: Buffer;
}

/** Signs `data` with `key` through POST /v1/sign. */
export async function remoteSign(
  client: RemoteClient,
  key: string,
  data: Uint8Array,
  alg: string | undefined,
  format: 'der' | 'raw',
): Promise<RemoteSignature> {
  const algorithm = await algorithmFor(client, key, alg);
  const answer = await client.post<{ signature: string }>('/v1/sign', {
    key,
    algorithm,
    format,
    ...messageFields(algorithm, data),
  });
  return { algorithm: algorithmName(algorithm), signature: Buffer.from(answer.signature, 'base64') };
}

/** One item's outcome in a batch: its signature, or the error it failed with. */
export type BatchOutcome = { ok: true; signature: Buffer } | { ok: false; error: HsmError };

/**
 * Signs the digests of `items` through POST /v1/sign/batch, `chunk` items per call (the service's
 * batch_size caps it). Items succeed or fail alone; the outcomes come back in order.
 */
export async function remoteSignBatch(
  client: RemoteClient,
  key: string,
  items: Uint8Array[],
  alg: string | undefined,
  format: 'der' | 'raw',
  chunk: number,
): Promise<{ algorithm: string; outcomes: BatchOutcome[] }> {
  const algorithm = await algorithmFor(client, key, alg);
  if (algorithm.scheme === 'eddsa' || algorithm.scheme === 'ml-dsa')
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `${algorithm.scheme} signs whole messages; batches carry digests`,
    );
  const outcomes: BatchOutcome[] = [];
  for (let i = 0; i < items.length; i += chunk) {
    const part = items.slice(i, i + chunk);
    const answer = await client.post<{
      results: Array<{ ok: boolean; signature?: string; error?: { code: string; detail: string } }>;
    }>('/v1/sign/batch', {
      items: part.map((d) => ({
        key,
        algorithm,
        format,
        ...(messageFields(algorithm, d) as { digest: string }),
      })),
    });
    for (const r of answer.results) {
      outcomes.push(
        r.ok && r.signature !== undefined
          ? { ok: true, signature: Buffer.from(r.signature, 'base64') }
          : {
              ok: false,
              error: HsmError.fromJSON({ code: r.error?.code ?? '', message: r.error?.detail ?? 'failed' }),
            },
      );
    }
  }
  return { algorithm: algorithmName(algorithm), outcomes };
}

/** `hsmkit sign` with --server: the same result the local branch produces. */
export async function signForCli(
  client: RemoteClient,
  key: string,
  data: Uint8Array,
  alg: string | undefined,
  format: 'der' | 'raw',
): Promise<{ key: string; label: string; algorithm: string; signature: Uint8Array }> {
  const r = await remoteSign(client, key, data, alg, format);
  return { key, label: key, algorithm: r.algorithm, signature: r.signature };
}
