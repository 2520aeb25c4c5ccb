/**
 * Shared helpers of the CLI remote-mode tests: the service fixture of the server tests (real
 * SoftHSM token, real mutual TLS on 127.0.0.1), client certificate files on disk (keys 0600), and
 * the CLI run from source as a child process with `--server`. The CLI runs asynchronously: the
 * service answers in this very process, so a synchronous child would block it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliResult, cliErrorCode, cliJson, cliOk, runCli } from '../../support/cli.js';
import type { ServiceFixture } from '../server/service-fixture.js';
import type { ClientCert } from '../server/tls-material.js';

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

/** Runs the CLI from source (minimal environment, 120 s limit), recording it in the transcript. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { env, minimalEnv: true, timeoutMs: 120_000, transcript });
}

/** Parses the --json output of a run, with the run's streams in the failure message. */
export const json = cliJson;

/** A run that must succeed. */
export const ok = cliOk;

/** The HSM_ERR_* code a failed run printed (text mode, stderr). */
export const errorCode = cliErrorCode;
