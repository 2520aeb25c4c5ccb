/**
 * Where and how the adapter reaches Cloud KMS. Production uses the default endpoint over HTTPS with
 * Application Default Credentials. Plain HTTP without credentials exists only for a loopback
 * endpoint (an emulator or the test fake), so hsmkit never sends an unauthenticated request, or any
 * request in clear text, off the machine.
 */
import { HsmError } from '../../errors/index.js';

/** How to reach Cloud KMS. */
export interface ConnectionOptions {
  /** API host. Default `cloudkms.googleapis.com` (the client's own default). */
  apiEndpoint?: string;
  /** API port. Default 443. */
  port?: number;
  /** `https` (default) or `http`; `http` only with a loopback `apiEndpoint`. */
  protocol?: 'https' | 'http';
  /** `adc` (default): Application Default Credentials. `none`: no credentials, loopback only. */
  credentials?: 'adc' | 'none';
  /** Service-account key file for `adc`; default: the usual ADC search. */
  keyFilename?: string;
  /** Deadline of one RPC, in ms. Default 30_000. */
  timeoutMs?: number;
}

/** Validated connection options. */
export interface Connection {
  apiEndpoint: string | undefined;
  port: number | undefined;
  protocol: 'https' | 'http';
  credentials: 'adc' | 'none';
  keyFilename: string | undefined;
  timeoutMs: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '[::1]', 'localhost']);

/** Checks connection options and applies the defaults. */
export function resolveConnection(o: ConnectionOptions = {}): Connection {
  const protocol = o.protocol ?? 'https';
  const credentials = o.credentials ?? 'adc';
  const loopback = o.apiEndpoint !== undefined && LOOPBACK.has(o.apiEndpoint);
  if ((protocol === 'http' || credentials === 'none') && !loopback) {
    throw new HsmError(
      'HSM_ERR_CONFIG',
      'gcpkms: protocol "http" and credentials "none" are allowed only for a loopback apiEndpoint',
    );
  }
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port > 0 && o.port < 65536)) {
    throw new HsmError('HSM_ERR_CONFIG', `gcpkms: port ${o.port} is not a TCP port`);
  }
  const timeoutMs = o.timeoutMs ?? 30_000;
  if (!(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw new HsmError('HSM_ERR_CONFIG', 'gcpkms: timeoutMs must be a positive integer');
  }
  return {
    apiEndpoint: o.apiEndpoint,
    port: o.port,
    protocol,
    credentials,
    keyFilename: o.keyFilename,
    timeoutMs,
  };
}

/**
 * An auth client for `credentials: none`: it adds no Authorization header. google-gax's REST
 * stub needs only `getRequestHeaders` (to accept it as an auth client) and `fetch`.
 */
function noCredentials() {
  return {
    async getRequestHeaders(): Promise<Headers> {
      return new Headers();
    },
    async fetch(url: string, init: NonNullable<Parameters<typeof fetch>[1]>) {
      try {
        // Only the fields fetch knows: google-gax also passes gaxios options (agent, responseType).
        const { method, headers, body, signal } = init;
        return await fetch(url, { method: method ?? 'GET', headers, body, signal });
      } catch (err) {
        // undici reports a refused connection as TypeError("fetch failed") with the errno in a
        // cause; surface the errno as `code` so gcp-status.ts can classify it without messages.
        const code = (err as { cause?: { code?: unknown } }).cause?.code;
        throw Object.assign(new Error('connection to the Cloud KMS endpoint failed', { cause: err }), {
          code: typeof code === 'string' ? code : 'ECONNRESET',
        });
      }
    },
  };
}

/** The options handed to KeyManagementServiceClient: REST transport, endpoint, credentials. */
export function connectionOptions(c: Connection): Record<string, unknown> {
  return {
    // HTTP/1.1 + JSON: works through ordinary proxies and against a local fake or emulator.
    fallback: true,
    ...(c.apiEndpoint === undefined ? {} : { apiEndpoint: c.apiEndpoint }),
    ...(c.port === undefined ? {} : { port: c.port }),
    protocol: c.protocol,
    ...(c.credentials === 'none' ? { authClient: noCredentials() } : {}),
    ...(c.keyFilename === undefined ? {} : { keyFilename: c.keyFilename }),
  };
}
