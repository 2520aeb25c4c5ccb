/**
 * What the process harnesses of `hsmkit serve --tls` share (test/chaos/serve-process.ts for the
 * chaos tests and the soak, two-instances-harness.ts for several instances on one store): the
 * service's clients and their grants, the config's access section and policy, a free port, and the
 * service started from source as a child in its own process group, waited on until it listens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI_ENTRY, REPO_ROOT } from '../../support/cli.js';
import type { ClientCert, TlsMaterial } from './tls-material.js';

/** The roles the harnesses' clients act in, and what each may do. */
export const SERVICE_GRANTS = {
  admin: ['*'],
  operator: ['key.create', 'key.list', 'key.get', 'key.public'],
  signer: ['key.sign', 'key.public', 'key.get'],
} as const;

/** One of {@link SERVICE_GRANTS}' roles. */
export type ServiceRole = keyof typeof SERVICE_GRANTS;

/** Finds a free TCP port on 127.0.0.1 (the service is started on it afterwards). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The `service` config keys the harnesses share: the TLS files, one identity `svc-<role>` (matched
 * by CN) per role, and a rate limit no test reaches.
 */
export function serviceAccessConfig(tls: TlsMaterial): Record<string, unknown> {
  return {
    tls: {
      certificate: tls.serverFiles.certificate,
      key: tls.serverFiles.key,
      client_ca: tls.serverFiles.clientCa,
    },
    identities: Object.keys(SERVICE_GRANTS).map((r) => ({
      name: `svc-${r}`,
      match: `cn:svc-${r}`,
      kind: 'service',
      roles: [r],
    })),
    rate_limit: { per_second: 10_000, burst: 10_000 },
  };
}

/** A client certificate (CN `svc-<role>`) for every role. */
export function serviceClients(tls: TlsMaterial): Record<ServiceRole, ClientCert> {
  return Object.fromEntries(Object.keys(SERVICE_GRANTS).map((r) => [r, tls.client(`svc-${r}`)])) as Record<
    ServiceRole,
    ClientCert
  >;
}

/** Writes `<dir>/policy.yaml` (named `name`) granting each role its operations; returns its path. */
export function writeServicePolicy(dir: string, name: string): string {
  const policy = join(dir, 'policy.yaml');
  writeFileSync(
    policy,
    stringify({
      name,
      access: {
        default_role: 'admin',
        roles: Object.fromEntries(
          Object.entries(SERVICE_GRANTS).map(([r, ops]) => [r, [{ operations: [...ops] }]]),
        ),
      },
    }),
  );
  return policy;
}

/** One `hsmkit serve --tls` child. */
export interface ServeChild {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** Resolves when the service reports `listening`; rejects if it exits first or `timeoutMs` passes. */
  listening: Promise<void>;
  /** The last 20 000 characters of its stderr. */
  stderr(): string;
}

/** How to start {@link spawnServe}. */
export interface ServeOptions {
  config: string;
  /** Appended to `serve --tls` (e.g. `--listen`). Default none. */
  args?: string[];
  /** The whole environment of the child. */
  env: NodeJS.ProcessEnv;
  /** Names the process in failure messages. */
  name: string;
  timeoutMs: number;
}

/**
 * Starts `hsmkit --config … --json serve --tls` from source. The child leads its own process
 * group, shared by its member hosts, so cleanup can end exactly those (`process.kill(-pid)`).
 * The caller records `child.pid` before awaiting `listening`, so a failed start is cleaned up too.
 */
export function spawnServe(o: ServeOptions): ServeChild {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI_ENTRY, '--config', o.config, '--json', 'serve', '--tls', ...(o.args ?? [])],
    { cwd: REPO_ROOT, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const listening = new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`${o.name} did not listen in time: ${stderr}`)),
      o.timeoutMs,
    );
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      // With --json the CLI reports its error on stdout.
      reject(new Error(`${o.name} exited (${code}) before listening: ${stderr}${out.slice(-2000)}`));
    });
  });
  return { child, exited, listening, stderr: () => stderr };
}

/** SIGKILLs the process groups led by `pids` (member hosts left behind by a killed service). */
export function killProcessGroups(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
}
