/**
 * Several `hsmkit serve --tls` processes (run from source with tsx) on one SoftHSM token and one
 * private PostgreSQL store (test/support/postgres.ts). The config names the store as
 * `url: "${DATABASE_URL}"`, and the URL reaches each process only through its environment, as in
 * a deployment. Each instance gets its own port; the harness kills only processes it started,
 * by pid (and their process groups: a service's member hosts).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type CliResult, childEnv, runCli } from '../../support/cli.js';
import { type PostgresServer, startPostgres } from '../../support/postgres.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { type Answer, type Call, call } from './https-client.js';
import {
  freePort,
  killProcessGroups,
  type ServiceRole,
  serviceAccessConfig,
  serviceClients,
  spawnServe,
  writeServicePolicy,
} from './serve-child.js';
import { type ClientCert, TlsMaterial } from './tls-material.js';

/** One running `hsmkit serve` process. */
export interface Instance {
  name: string;
  port: number;
  base: string;
  child: ChildProcess;
  exited: Promise<void>;
  stderr(): string;
}

/** A token, a PostgreSQL server, TLS material, config and policy; instances start on demand. */
export class TwoInstanceHarness {
  readonly instances: Instance[] = [];
  readonly #pids: number[] = [];

  private constructor(
    readonly dir: string,
    readonly token: SoftHsmToken,
    readonly pg: PostgresServer,
    readonly config: string,
    readonly tls: TlsMaterial,
    readonly clients: Record<ServiceRole, ClientCert>,
  ) {}

  /** Builds everything and applies the access policy (through the CLI, on PostgreSQL). */
  static async create(): Promise<TwoInstanceHarness> {
    const dir = mkdtempSync(join(tmpdir(), 'hsmkit-two-'));
    const pg = await startPostgres();
    const token = createSoftHsmToken('two-instances');
    const tls = new TlsMaterial(dir);
    writeFileSync(join(dir, 'user-pin'), token.userPin, { mode: 0o600 });
    const config = join(dir, 'hsmkit.yaml');
    writeFileSync(
      config,
      stringify({
        hsm_configuration: {
          provider: 'softhsm2',
          connection: {
            module: SOFTHSM_MODULE,
            token_label: token.label,
            pin_file: 'user-pin',
            env: token.env,
          },
          performance: { batch_size: 16 },
        },
        store: { driver: 'postgres', url: '${DATABASE_URL}' },
        service: { listen: '127.0.0.1:1', ...serviceAccessConfig(tls) },
      }),
      { mode: 0o600 },
    );
    const h = new TwoInstanceHarness(dir, token, pg, config, tls, serviceClients(tls));
    await h.cliOk(['policy', 'apply', writeServicePolicy(dir, 'two-instances')]);
    return h;
  }

  /** The environment of every hsmkit process: the store URL arrives only here. */
  env(): NodeJS.ProcessEnv {
    return { ...childEnv(), DATABASE_URL: this.pg.url };
  }

  /** Runs the CLI from source on this config (JSON output). */
  cli(args: string[], timeoutMs = 120_000): Promise<CliResult> {
    return runCli(['--config', this.config, '--json', ...args], {
      timeoutMs,
      env: { DATABASE_URL: this.pg.url },
    });
  }

  /** Runs the CLI; throws (with stderr) unless it exits 0. */
  async cliOk(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`hsmkit ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Starts one more `hsmkit serve --tls` on a free port and waits until it listens. */
  async startInstance(name: string, timeoutMs = 90_000): Promise<Instance> {
    const port = await freePort();
    const s = spawnServe({
      config: this.config,
      args: ['--listen', `127.0.0.1:${port}`],
      env: this.env(),
      name,
      timeoutMs,
    });
    this.#pids.push(s.child.pid!);
    await s.listening;
    const inst: Instance = {
      name,
      port,
      base: `https://127.0.0.1:${port}`,
      child: s.child,
      exited: s.exited,
      stderr: s.stderr,
    };
    this.instances.push(inst);
    return inst;
  }

  /** Sends one request to `inst`. */
  send(inst: Instance, c: Call): Promise<Answer> {
    return call(inst.base, this.tls.ca, c);
  }

  /** Stops an instance gracefully (SIGTERM) and waits for it. */
  async stop(inst: Instance): Promise<void> {
    if (inst.child.exitCode === null && inst.child.signalCode === null) {
      inst.child.kill('SIGTERM');
      await inst.exited;
    }
  }

  /** Stops every instance and PostgreSQL, and removes every file. */
  async cleanup(): Promise<void> {
    for (const inst of this.instances) {
      if (inst.child.exitCode === null && inst.child.signalCode === null) inst.child.kill('SIGKILL');
      await inst.exited;
    }
    killProcessGroups(this.#pids); // member hosts left in the service's process group
    await this.pg.stop();
    this.token.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
