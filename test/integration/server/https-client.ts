/** Test helper: one HTTPS request with an optional client certificate, answered as status, headers and body. */
import { request } from 'node:https';
import type { ClientCert } from './tls-material.js';

/** A response as the tests look at it. */
export interface Answer {
  status: number;
  type: string;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body's bytes (binary answers: OCSP, DER CRLs). */
  bytes: Buffer;
  json: any;
}

/** Options of one request. */
export interface Call {
  method?: string;
  path: string;
  body?: unknown;
  /** Raw body text, sent as is (malformed JSON, 10 MB strings). */
  raw?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  client?: ClientCert;
}

/** Sends one request to `base` (https://127.0.0.1:port) trusting `ca`. Rejects when TLS refuses. */
export function call(base: string, ca: Buffer, c: Call): Promise<Answer> {
  const url = new URL(c.path, base);
  const payload = c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  if (payload !== undefined) {
    headers['content-type'] = c.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: c.method ?? 'GET',
        ca,
        agent: false,
        headers,
        ...(c.client ? { cert: c.client.cert, key: c.client.key } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          const text = bytes.toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            headers: res.headers,
            text,
            bytes,
            json,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
