/**
 * Test helpers that run external tools (pkcs11-tool, openssl) to check hsmkit's work with code
 * hsmkit did not write. They never throw an error that carries the command line: pkcs11-tool gets
 * the token PIN as an argument, and a failing assertion must not print it. Results are returned
 * (status, stdout, stderr) with every occurrence of the token's PINs replaced by `[pin]`.
 */
import { spawnSync } from 'node:child_process';
import { SOFTHSM_MODULE, type SoftHsmToken } from './softhsm.js';

/** What a tool run produced. */
export interface ToolResult {
  /** Exit status; null if killed by a signal. */
  status: number | null;
  stdout: string;
  stderr: string;
}

function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('[pin]');
  return out;
}

/** Runs a program without a shell; the error thrown on a failure to start names only the program. */
function run(
  program: string,
  args: string[],
  env: Record<string, string>,
  secrets: string[],
  timeoutMs: number,
): ToolResult {
  const r = spawnSync(program, args, {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) {
    // r.error carries spawnargs (the PIN): build a new error with the code only.
    const code = (r.error as NodeJS.ErrnoException).code ?? 'unknown';
    throw new Error(`${program} could not be run (${code})`);
  }
  return { status: r.status, stdout: redact(r.stdout, secrets), stderr: redact(r.stderr, secrets) };
}

/**
 * Runs pkcs11-tool against the fixture token (SoftHSM module, --token-label, SOFTHSM2_CONF).
 * With `login` (default true), logs in as the user with the token's PIN.
 */
export function pkcs11Tool(
  token: SoftHsmToken,
  args: string[],
  opts: { login?: boolean; module?: string } = {},
): ToolResult {
  const base = ['--module', opts.module ?? SOFTHSM_MODULE, '--token-label', token.label];
  if (opts.login ?? true) base.push('--login', '--pin', token.userPin);
  return run('pkcs11-tool', [...base, ...args], token.env, [token.userPin, token.soPin], 60_000);
}

/** Like pkcs11Tool, but throws (without the command line) when the exit status is not 0. */
export function pkcs11ToolOk(token: SoftHsmToken, args: string[], opts: { login?: boolean } = {}): string {
  const r = pkcs11Tool(token, args, opts);
  if (r.status !== 0) throw new Error(`pkcs11-tool ${args[0] ?? ''} exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** One object as `pkcs11-tool --list-objects` prints it. */
export interface ListedObject {
  /** The heading line, e.g. `Private Key Object; EC`. */
  heading: string;
  /** `private`, `public`, `secret`, `certificate`, `data` or `other`. */
  kind: 'private' | 'public' | 'secret' | 'certificate' | 'data' | 'other';
  label?: string;
  /** CKA_ID as printed (lowercase hex). */
  id?: string;
  /** Items of the `Usage:` line (e.g. `sign`), empty when the line is absent. */
  usage: string[];
  /** Items of the `Access:` line (e.g. `sensitive`, `never extractable`), empty when absent. */
  access: string[];
  /** Every `name: value` line of the object. */
  fields: Record<string, string>;
}

/** Parses the output of `pkcs11-tool --list-objects`. */
export function parseListObjects(output: string): ListedObject[] {
  const out: ListedObject[] = [];
  let cur: ListedObject | undefined;
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    if (!/^\s/.test(line)) {
      const heading = line.trim();
      const kind = heading.startsWith('Private Key Object')
        ? 'private'
        : heading.startsWith('Public Key Object')
          ? 'public'
          : heading.startsWith('Secret Key Object')
            ? 'secret'
            : heading.startsWith('Certificate Object')
              ? 'certificate'
              : heading.startsWith('Data object')
                ? 'data'
                : 'other';
      cur = { heading, kind, usage: [], access: [], fields: {} };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const m = /^\s+([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const name = m[1]!.trim();
    const value = m[2]!.trim();
    cur.fields[name] = value;
    const items = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s !== 'none');
    if (name === 'label') cur.label = value;
    else if (name === 'ID') cur.id = value.toLowerCase();
    else if (name === 'Usage') cur.usage = items;
    else if (name === 'Access') cur.access = items;
  }
  return out;
}

/** Lists the token's objects with pkcs11-tool (logged in, so private objects show). */
export function listObjects(token: SoftHsmToken, type?: 'privkey' | 'pubkey' | 'secrkey'): ListedObject[] {
  const args = ['--list-objects'];
  if (type) args.push('--type', type);
  return parseListObjects(pkcs11ToolOk(token, args));
}

/** Runs openssl with `args` (no secrets involved). */
export function openssl(args: string[]): ToolResult {
  return run('openssl', args, {}, [], 60_000);
}
