/**
 * Shared helpers of the CLI remote-mode tests: the service fixture of the server tests (real
 * SoftHSM token, real mutual TLS on 127.0.0.1), client certificate files on disk (keys 0600), and
 * the CLI run from source as a child process with `--server`. The CLI runs asynchronously: the
 * service answers in this very process, so a synchronous child would block it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceFixture } from '../server/service-fixture.js';
import type { ClientCert } from '../server/tls-material.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RUN = join(ROOT, 'src/cli/run.ts');

/** What one CLI process produced. */
export interface CliResult {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Every output of the file's CLI runs, scanned for secrets at the end. */
export const transcript: CliResult[] = [];

/** Files of one client certificate, as `--client-cert` / `--client-key` take them. */
export interface ClientFiles {
  cert: string;
  key: string;
}

/** A scratch folder for one test file. */
export function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'hsmkit-cli-remote-'));
}

/** Writes a client's certificate (0644) and key (0600) into `dir`. */
export function clientFiles(dir: string, name: string, c: ClientCert): ClientFiles {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, c.cert, { mode: 0o644 });
  writeFileSync(key, c.key, { mode: 0o600 });
  return { cert, key };
}

/** The global options that point the CLI at a service (the fixture's, or a URL) as `client`. */
export function remoteArgs(f: ServiceFixture | string, caFile: string, client?: ClientFiles): string[] {
  return [
    '--server',
    typeof f === 'string' ? f : f.base,
    '--server-ca',
    caFile,
    ...(client ? ['--client-cert', client.cert, '--client-key', client.key] : []),
  ];
}

/** Runs the CLI from source (`node --import tsx src/cli/run.ts …`). */
export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', RUN, ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 120_000,
      },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
        const r = { args, code: typeof code === 'number' ? code : null, stdout, stderr };
        transcript.push(r);
        resolve(r);
      },
    );
  });
}

/** Parses the --json output of a run, with the run's streams in the failure message. */
export function json<T = any>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout.slice(0, 400)} | ${r.stderr.slice(0, 400)}`);
  }
}

/** A run that must succeed. */
export function ok(r: CliResult): CliResult {
  if (r.code !== 0)
    throw new Error(
      `hsmkit ${r.args.join(' ')} exited ${r.code}: ${r.stderr.slice(0, 600)} ${r.stdout.slice(0, 600)}`,
    );
  return r;
}

/** The HSM_ERR_* code a failed run printed (text mode, stderr). */
export function errorCode(r: CliResult): string | undefined {
  return /hsmkit: (HSM_ERR_[A-Z_]+):/.exec(r.stderr)?.[1];
}
