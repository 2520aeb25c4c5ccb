import { HsmError, toHsmError } from '../errors/index.js';

/** Global flags every command honours. */
export interface GlobalOptions {
  json?: boolean;
  config?: string;
  /** Service base URL (`--server`, env HSMKIT_SERVER): run the command against the API instead. */
  server?: string;
  /** Client certificate (PEM) for the service's mutual TLS. */
  clientCert?: string;
  /** Its private key (PEM), a file of mode 0600; never taken from argv. */
  clientKey?: string;
  /** CA certificate that issued the service's certificate (default: the system roots). */
  serverCa?: string;
  /** File with a TOTP code or the otpauth:// URI (human identities); env HSMKIT_TOTP holds a code. */
  totpFile?: string;
  /** Role to act in (X-Hsmkit-Role; default: the identity's first). */
  role?: string;
}

/** Prints a command's result: JSON with --json, else the human lines. */
export function emit(opts: GlobalOptions, result: unknown, human: () => string): void {
  if (opts.json) process.stdout.write(`${JSON.stringify(result, jsonReplacer, 2)}\n`);
  else process.stdout.write(`${human()}\n`);
}

/** Prints an error and returns the exit code. Input errors exit 2; everything else 1. */
export function reportError(err: unknown, json: boolean): number {
  const e = toHsmError(err);
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: e.toJSON() }, null, 2)}\n`);
  else process.stderr.write(`hsmkit: ${e.code}: ${e.message}\n`);
  return e.status >= 400 && e.status < 500 && e.code !== 'HSM_ERR_KEY_NOT_FOUND' ? 2 : 1;
}

/** Byte arrays print as hex in JSON output. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** Aligned "key: value" lines for people. */
export function table(rows: Array<[string, unknown]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k.padEnd(width)}  ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n');
}

/** Refuses an option value that is missing. */
export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '') throw new HsmError('HSM_ERR_INVALID_INPUT', `${flag} is required`);
  return value;
}
