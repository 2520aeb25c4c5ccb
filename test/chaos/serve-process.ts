/**
 * `hsmkit serve --tls` as a real process (run from source with tsx) over real SoftHSM tokens, for
 * the service chaos test and the soak: one member, or a cluster of N members with the replication
 * key set up by `hsmkit cluster init-replication`. The harness writes the config, PIN files (0600),
 * a client/server PKI (openssl) and an access policy (`hsmkit policy apply`), starts, kills and
 * restarts the service, and kills only what it started, by pid.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { type Answer, type Call, call } from '../integration/server/https-client.js';
import { type ClientCert, TlsMaterial } from '../integration/server/tls-material.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../support/softhsm.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN = join(ROOT, 'src/cli/run.ts');

/** The roles the harness's clients act in, and what each may do. */
const GRANTS = {
  admin: ['*'],
  operator: ['key.create', 'key.list', 'key.get', 'key.public'],
  signer: ['key.sign', 'key.public', 'key.get'],
} as const;

/** A result of one CLI run. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

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

/** Finds a free TCP port on 127.0.0.1 (the service is started on it afterwards). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The service process and its world. */
export class ServeHarness {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stderr = '';
  /** Every service pid this harness started (for the report). */
  readonly pids: number[] = [];

  private constructor(
    readonly dir: string,
    readonly tokens: SoftHsmToken[],
    readonly config: string,
    readonly tls: TlsMaterial,
    readonly port: number,
    readonly metricsPort: number | undefined,
    readonly clients: Record<keyof typeof GRANTS, ClientCert>,
  ) {}

  /** Builds tokens, PKI, config and policy; does not start the service. */
  static async create(opts: ServeHarnessOptions = {}): Promise<ServeHarness> {
    const n = opts.members ?? 1;
    const dir = mkdtempSync(join(tmpdir(), 'hsmkit-serve-chaos-'));
    const tokens = Array.from({ length: n }, (_, i) => createSoftHsmToken(`serve-node${i}`));
    const tls = new TlsMaterial(dir);
    const port = await freePort();
    const metricsPort = opts.metrics ? await freePort() : undefined;
    const members = tokens.map((t, i) => {
      writeFileSync(join(dir, `user-pin-${i}`), t.userPin, { mode: 0o600 });
      writeFileSync(join(dir, `so-pin-${i}`), t.soPin, { mode: 0o600 });
      return { name: `node${i}`, token_label: t.label, pin_file: `user-pin-${i}`, env: t.env };
    });
    const identities = Object.keys(GRANTS).map((r) => ({
      name: `svc-${r}`,
      match: `cn:svc-${r}`,
      kind: 'service',
      roles: [r],
    }));
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
          tls: {
            certificate: tls.serverFiles.certificate,
            key: tls.serverFiles.key,
            client_ca: tls.serverFiles.clientCa,
          },
          identities,
          rate_limit: { per_second: 10_000, burst: 10_000 },
        },
      }),
      { mode: 0o600 },
    );
    const clients = Object.fromEntries(Object.keys(GRANTS).map((r) => [r, tls.client(`svc-${r}`)])) as Record<
      keyof typeof GRANTS,
      ClientCert
    >;
    const h = new ServeHarness(dir, tokens, config, tls, port, metricsPort, clients);
    if (n > 1) {
      const args = ['cluster', 'init-replication'];
      for (let i = 0; i < n; i++) args.push('--so-pin-file', `node${i}=${join(dir, `so-pin-${i}`)}`);
      await h.cliOk(args);
    }
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      stringify({
        name: 'serve-chaos',
        access: {
          default_role: 'admin',
          roles: Object.fromEntries(
            Object.entries(GRANTS).map(([r, ops]) => [r, [{ operations: [...ops] }]]),
          ),
        },
      }),
    );
    await h.cliOk(['policy', 'apply', policy]);
    return h;
  }

  /** Base URL of the API. */
  get base(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Pid of the running service, if any. */
  get pid(): number | undefined {
    const c = this.#child;
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
  cli(args: string[], timeoutMs = 120_000, config = this.config): Promise<CliRun> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', RUN, '--config', config, '--json', ...args],
        { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
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
    this.#stderr = '';
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', RUN, '--config', this.config, '--json', 'serve', '--tls'],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, shared by its member hosts: cleanup can end exactly those.
        detached: true,
      },
    );
    this.#child = child;
    this.pids.push(child.pid!);
    this.#exited = new Promise((r) => child.once('exit', () => r()));
    child.stderr!.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-20_000);
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`serve did not listen in time: ${this.#stderr}`)),
        timeoutMs,
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
        reject(new Error(`serve exited (${code}) before listening: ${this.#stderr}${out.slice(-2000)}`));
      });
    });
  }

  /** SIGKILLs the service (its member hosts notice and exit by themselves) and waits for the exit. */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    await this.#exited;
  }

  /** Stops the service with SIGTERM (graceful) and waits. */
  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    process.kill(pid, 'SIGTERM');
    await this.#exited;
  }

  /** The service's last stderr (for failure messages). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Sends one request to the service as `client`. */
  send(c: Call): Promise<Answer> {
    return call(this.base, this.tls.ca, c);
  }

  /** Stops the service and removes every file of the harness. */
  async cleanup(): Promise<void> {
    await this.kill().catch(() => undefined);
    // Member hosts orphaned by a SIGKILLed service exit when their socket closes; make sure.
    for (const pid of this.pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    }
    await new Promise((r) => setTimeout(r, 200));
    for (const t of this.tokens) t.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
