import { randomUUID } from 'node:crypto';
import { request } from 'node:https';
import { HsmError } from '../../errors/index.js';
import { errorFromProblem, errorFromTransport } from './remote-error.js';
import type { RemoteTarget } from './remote-options.js';

/** One HTTP exchange's answer. */
export interface RemoteAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** Tunables of the client; the defaults suit an interactive CLI. */
export interface RemoteClientOptions {
  /** Whole-request timeout, milliseconds (default 60 000; RSA-8192 keygen should go through jobs). */
  timeoutMs?: number;
  /** Extra attempts of an idempotent request after a transport error or a retryable code (default 2). */
  retries?: number;
  /** First back-off, milliseconds; doubled per attempt (default 250). */
  backoffMs?: number;
}

/** Largest response body read (audit exports are the biggest answers). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * The CLI's HTTPS client of the hsmkit service: mutual TLS with the operator's certificate,
 * X-Hsmkit-Otp and X-Hsmkit-Role headers, a timeout per request, problem documents mapped back to
 * HsmError. GETs are retried on transport errors and retryable codes; POSTs carry an
 * Idempotency-Key and are retried only while the service says that key is still in progress, so a
 * POST never runs twice.
 */
export class RemoteClient {
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoffMs: number;

  constructor(
    readonly target: RemoteTarget,
    opts: RemoteClientOptions = {},
  ) {
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
    this.#retries = opts.retries ?? 2;
    this.#backoffMs = opts.backoffMs ?? 250;
  }

  /** GET a JSON resource. */
  get<T = Record<string, unknown>>(
    path: string,
    query?: Record<string, string | number | undefined>,
  ): Promise<T> {
    return this.json<T>('GET', withQuery(path, query));
  }

  /** POST a JSON body; the answer's JSON. */
  post<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
    return this.json<T>('POST', path, body);
  }

  /** DELETE a resource (204 expected). */
  async delete(path: string): Promise<void> {
    await this.send('DELETE', path);
  }

  /** Sends a request and parses a JSON answer (an empty body is `{}`). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const a = await this.send(method, path, body);
    if (a.body.length === 0) return {} as T;
    try {
      return JSON.parse(a.body.toString('utf8')) as T;
    } catch {
      throw new HsmError(
        'HSM_ERR_INTERNAL',
        `${method} ${path}: the service answered ${a.status} with a body that is not JSON`,
      );
    }
  }

  /** Sends one request with retries as described above; a non-2xx answer is thrown as HsmError. */
  async send(method: string, path: string, body?: unknown): Promise<RemoteAnswer> {
    const idempotent = method === 'GET' || method === 'HEAD';
    const idempotencyKey = method === 'POST' ? randomUUID() : undefined;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    for (let attempt = 0; ; attempt++) {
      let error: HsmError;
      let retry: boolean;
      try {
        const a = await this.#once(method, path, payload, idempotencyKey);
        if (a.status >= 200 && a.status < 300) return a;
        error = errorFromProblem(a.status, a.contentType, a.body.toString('utf8'));
        retry =
          (idempotent && error.retryable && error.code !== 'HSM_ERR_RATE_LIMITED') ||
          error.code === 'HSM_ERR_IDEMPOTENCY_IN_PROGRESS';
      } catch (err) {
        error = HsmError.is(err)
          ? err
          : errorFromTransport(err, this.target.base.host, this.target.cert !== undefined);
        // A transport error after a POST was sent leaves its outcome unknown: never resend it.
        retry = idempotent && (error.code === 'HSM_ERR_UNAVAILABLE' || error.code === 'HSM_ERR_TIMEOUT');
      }
      if (!retry || attempt >= this.#retries) throw error;
      await new Promise((r) => setTimeout(r, this.#backoffMs * 2 ** attempt));
    }
  }

  async #once(
    method: string,
    path: string,
    payload: Buffer | undefined,
    idempotencyKey?: string,
  ): Promise<RemoteAnswer> {
    const url = new URL(path, this.target.base);
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    if (this.target.role !== undefined) headers['x-hsmkit-role'] = this.target.role;
    if (this.target.otp) headers['x-hsmkit-otp'] = await this.target.otp();
    const t = this.target;
    return await new Promise<RemoteAnswer>((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          headers,
          agent: false,
          ...(t.ca ? { ca: t.ca } : {}),
          ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (d: Buffer) => {
            size += d.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy(
                new HsmError(
                  'HSM_ERR_PAYLOAD_TOO_LARGE',
                  `the answer is larger than ${MAX_RESPONSE_BYTES} bytes`,
                ),
              );
              return;
            }
            chunks.push(d);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              contentType: String(res.headers['content-type'] ?? ''),
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(this.#timeoutMs, () =>
        req.destroy(Object.assign(new Error('timeout'), { code: 'HSM_TIMEOUT' })),
      );
      // Under TLS 1.3 the server checks the client certificate after the client's handshake is
      // done, and refuses it by closing the connection: a reset right after secureConnect means that.
      let handshakeDone = false;
      req.on('socket', (socket) => socket.once('secureConnect', () => (handshakeDone = true)));
      req.on('error', (err) => reject(Object.assign(err, { afterHandshake: handshakeDone })));
      req.end(payload);
    });
  }
}

/** `path?k=v…`, leaving out undefined values. */
export function withQuery(path: string, query?: Record<string, string | number | undefined>): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Encodes one path segment (labels may hold `/`, URIs hold `:` and `;`). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
