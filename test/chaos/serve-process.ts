/**
 * `hsmkit serve --tls` as a real process (run from source with tsx) over real SoftHSM tokens, for
 * the service chaos test and the soak: one member, or a cluster of N members with the replication
 * key set up by `hsmkit cluster init-replication`. The harness writes the config, PIN files (0600),
 * a client/server PKI (openssl) and an access policy (`hsmkit policy apply`), starts, kills and
 * restarts the service, and kills only what it started, by pid.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { type Answer, type Call, call } from '../integration/server/https-client.js';
import {
  freePort,
  killProcessGroups,
  type ServeChild,
  type ServiceRole,
  serviceAccessConfig,
  serviceClients,
  spawnServe,
  writeServicePolicy,
} from '../integration/server/serve-child.js';
import { type ClientCert, TlsMaterial } from '../integration/server/tls-material.js';
import { type CliResult, childEnv, runCli } from '../support/cli.js';
import { createSoftHsmToken, memberEntries, SOFTHSM_MODULE, type SoftHsmToken } from '../support/softhsm.js';

/** Options of {@link ServeHarness.create}. */
export interface ServeHarnessOptions {
  /** Number of SoftHSM members (default 1); more than one sets up replication. */
  members?: number;
  /** Extra `hsm_configuration.high_availability` settings. */
  highAvailability?: Record<string, unknown>;
  /** `performance` settings (default batch_size 16). */
  performance?: Record<string, unknown>;
  /** Metrics listener (`host:port`); default none. */
  metrics?: boolean;
}

/** The service process and its world. */
export class ServeHarness {
  #serve: ServeChild | undefined;
  /** Every service pid this harness started (for the report). */
  readonly pids: number[] = [];

  private constructor(
    readonly dir: string,
    readonly tokens: SoftHsmToken[],
    readonly config: string,
    readonly tls: TlsMaterial,
    readonly port: number,
    readonly metricsPort: number | undefined,
    readonly clients: Record<ServiceRole, ClientCert>,
  ) {}

  /** Builds tokens, PKI, config and policy; does not start the service. */
  static async create(opts: ServeHarnessOptions = {}): Promise<ServeHarness> {
    const n = opts.members ?? 1;
    const dir = mkdtempSync(join(tmpdir(), 'hsmkit-serve-chaos-'));
    const tokens = Array.from({ length: n }, (_, i) => createSoftHsmToken(`serve-node${i}`));
    const tls = new TlsMaterial(dir);
    const port = await freePort();
    const metricsPort = opts.metrics ? await freePort() : undefined;
    const members = memberEntries(dir, tokens, (i) => `node${i}`);
    const config = join(dir, 'hsmkit.yaml');
    writeFileSync(
      config,
      stringify({
        hsm_configuration: {
          provider: 'softhsm2',
          connection: { type: 'local', module: SOFTHSM_MODULE, members },
          performance: { batch_size: 16, ...(opts.performance ?? {}) },
          ...(n > 1
            ? {
                high_availability: {
                  replication: { min_copies: n - 1 },
                  health_interval_ms: 500,
                  sla_ms: 5000,
                  ...(opts.highAvailability ?? {}),
                },
              }
            : {}),
        },
        store: { driver: 'sqlite', path: join(dir, 'hsmkit.db') },
        service: {
          listen: `127.0.0.1:${port}`,
          ...(metricsPort ? { metrics_listen: `127.0.0.1:${metricsPort}` } : {}),
          ...serviceAccessConfig(tls),
        },
      }),
      { mode: 0o600 },
    );
    const h = new ServeHarness(dir, tokens, config, tls, port, metricsPort, serviceClients(tls));
    if (n > 1) {
      const args = ['cluster', 'init-replication'];
      for (let i = 0; i < n; i++) args.push('--so-pin-file', `node${i}=${join(dir, `so-pin-${i}`)}`);
      await h.cliOk(args);
    }
    await h.cliOk(['policy', 'apply', writeServicePolicy(dir, 'serve-chaos')]);
    return h;
  }

  /** Base URL of the API. */
  get base(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Pid of the running service, if any. */
  get pid(): number | undefined {
    const c = this.#serve?.child;
    return c && c.exitCode === null && c.signalCode === null ? c.pid : undefined;
  }

  /**
   * A config naming member `i` alone, on the same store: for what the cluster composition refuses
   * (keys with metadata, such as a CA's, need the one-member key manager).
   */
  singleMemberConfig(i = 0): string {
    const doc = parse(readFileSync(this.config, 'utf8')) as {
      hsm_configuration: { connection: { members: unknown[] }; high_availability?: unknown };
    };
    doc.hsm_configuration.connection.members = [doc.hsm_configuration.connection.members[i]];
    delete doc.hsm_configuration.high_availability;
    const file = join(this.dir, `single-node${i}.yaml`);
    writeFileSync(file, stringify(doc), { mode: 0o600 });
    return file;
  }

  /** Runs the CLI from source on this config (or `config`). */
  cli(args: string[], timeoutMs = 120_000, config = this.config): Promise<CliResult> {
    return runCli(['--config', config, '--json', ...args], { timeoutMs });
  }

  /** Runs the CLI and throws (with stderr) unless it exits 0. */
  async cliOk(args: string[], config = this.config): Promise<string> {
    const r = await this.cli(args, 120_000, config);
    if (r.code !== 0) throw new Error(`hsmkit ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Starts `hsmkit serve --tls` (with `env` added to its environment) and waits until it listens. */
  async start(timeoutMs = 60_000, env: Record<string, string> = {}): Promise<void> {
    if (this.pid !== undefined) throw new Error('the service is already running');
    const serve = spawnServe({
      config: this.config,
      env: { ...childEnv(), ...env },
      name: 'serve',
      timeoutMs,
    });
    this.#serve = serve;
    this.pids.push(serve.child.pid!);
    await serve.listening;
  }

  /** SIGKILLs the service (its member hosts notice and exit by themselves) and waits for the exit. */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    await this.#serve?.exited;
  }

  /** Stops the service with SIGTERM (graceful) and waits. */
  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    process.kill(pid, 'SIGTERM');
    await this.#serve?.exited;
  }

  /** The service's last stderr (for failure messages). */
  get stderr(): string {
    return this.#serve?.stderr() ?? '';
  }

  /** Sends one request to the service as `client`. */
  send(c: Call): Promise<Answer> {
    return call(this.base, this.tls.ca, c);
  }

  /** Stops the service and removes every file of the harness. */
  async cleanup(): Promise<void> {
    await this.kill().catch(() => undefined);
    // Member hosts orphaned by a SIGKILLed service exit when their socket closes; make sure.
    killProcessGroups(this.pids);
    await new Promise((r) => setTimeout(r, 200));
    for (const t of this.tokens) t.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
