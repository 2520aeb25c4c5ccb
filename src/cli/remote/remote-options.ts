import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { generate } from 'otplib';
import { HsmError } from '../../errors/index.js';
import type { GlobalOptions } from '../output.js';

/** Largest client certificate, key, CA or TOTP file read (a PEM chain is a few KiB). */
const MAX_FILE_BYTES = 64 * 1024;

/** Everything the HTTPS client needs to reach the service; built once per CLI run. */
export interface RemoteTarget {
  /** Service base URL, `https://host:port` (no path). */
  base: URL;
  /** Client certificate chain (PEM); absent when none was given (the server then refuses at TLS). */
  cert?: Buffer;
  /** Client private key (PEM), read from a 0600 file only. */
  key?: Buffer;
  /** CA that signs the server certificate; absent: the system roots. */
  ca?: Buffer;
  /** Produces the X-Hsmkit-Otp code for a request (human identities); absent for service accounts. */
  otp?: () => Promise<string>;
  /** X-Hsmkit-Role: the role to act in (default: the identity's first). */
  role?: string;
}

function badInput(message: string): HsmError {
  return new HsmError('HSM_ERR_INVALID_INPUT', message);
}

/** Reads a small file; `secret` files must not be readable by group or others (like pin files). */
function readSmallFile(path: string, flag: string, secret: boolean): Buffer {
  const file = resolve(path);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw badInput(`${flag} ${file}: cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'EIO'})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw badInput(`${flag} ${file}: is not a regular file`);
    if (secret && process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(3, '0');
      throw badInput(
        `${flag} ${file}: is accessible by group or others (mode ${mode}); run: chmod 600 ${file}`,
      );
    }
    if (stat.size > MAX_FILE_BYTES) throw badInput(`${flag} ${file}: is larger than ${MAX_FILE_BYTES} bytes`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The TOTP source: `--totp-file` holds either the current 6-digit code or the otpauth:// URI that
 * `hsmkit totp enrol` wrote (then a fresh code is computed per request); env HSMKIT_TOTP holds a
 * code. Neither the code nor the secret is ever printed or put in an error.
 */
function totpSource(opts: GlobalOptions): (() => Promise<string>) | undefined {
  if (opts.totpFile !== undefined) {
    const text = readSmallFile(opts.totpFile, '--totp-file', true).toString('utf8').trim();
    if (/^\d{6}$/.test(text)) return async () => text;
    if (text.startsWith('otpauth://')) {
      let secret: string | null = null;
      try {
        secret = new URL(text).searchParams.get('secret');
      } catch {
        secret = null;
      }
      if (!secret) throw badInput('--totp-file: the otpauth:// URI has no secret parameter');
      const s = secret;
      return async () => {
        try {
          return await generate({ secret: s });
        } catch (err) {
          // otplib's own error names the problem (too short, not base32), never the secret.
          throw badInput(`--totp-file: the otpauth:// secret is not usable: ${(err as Error).message}`);
        }
      };
    }
    throw badInput('--totp-file must hold a 6-digit code or the otpauth:// URI from "hsmkit totp enrol"');
  }
  const env = process.env.HSMKIT_TOTP;
  if (env !== undefined && env !== '') {
    if (!/^\d{6}$/.test(env.trim())) throw badInput('HSMKIT_TOTP must be a 6-digit code');
    return async () => env.trim();
  }
  return undefined;
}

/** Parses `--server` (or HSMKIT_SERVER): an https:// URL without credentials, query or fragment. */
export function parseServerUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badInput(`--server takes an https:// URL, got "${text.slice(0, 100)}"`);
  }
  if (url.protocol !== 'https:')
    throw badInput('--server must be an https:// URL (the API is mutual TLS only)');
  if (url.username || url.password) throw badInput('--server must not carry credentials');
  if (url.search || url.hash) throw badInput('--server takes no query or fragment');
  return url;
}

/** Builds the remote target from the global options; reads the certificate files once. */
export function remoteTarget(opts: GlobalOptions): RemoteTarget {
  const base = parseServerUrl(opts.server ?? '');
  if ((opts.clientCert === undefined) !== (opts.clientKey === undefined))
    throw badInput('--client-cert and --client-key go together');
  const target: RemoteTarget = { base };
  if (opts.clientCert !== undefined && opts.clientKey !== undefined) {
    target.cert = readSmallFile(opts.clientCert, '--client-cert', false);
    target.key = readSmallFile(opts.clientKey, '--client-key', true);
  }
  if (opts.serverCa !== undefined) target.ca = readSmallFile(opts.serverCa, '--server-ca', false);
  const otp = totpSource(opts);
  if (otp) target.otp = otp;
  if (opts.role !== undefined) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(opts.role)) throw badInput('--role takes a role name');
    target.role = opts.role;
  }
  return target;
}
