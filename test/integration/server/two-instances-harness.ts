/**
 * Several `hsmkit serve --tls` processes (run from source with tsx) on one SoftHSM token and one
 * private PostgreSQL store (test/support/postgres.ts). The config names the store as
 * `url: "${DATABASE_URL}"`, and the URL reaches each process only through its environment, as in
 * a deployment. Each instance gets its own port; the harness kills only processes it started,
 * by pid (and their process groups: a service's member hosts).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { type PostgresServer, startPostgres } from '../../support/postgres.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { type Answer, type Call, call } from './https-client.js';
import { type ClientCert, TlsMaterial } from './tls-material.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RUN = join(ROOT, 'src/cli/run.ts');

/** Roles of the harness's clients and their grants. */
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
    readonly clients: Record<keyof typeof GRANTS, ClientCert>,
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
        service: {
          listen: '127.0.0.1:1',
          tls: {
            certificate: tls.serverFiles.certificate,
            key: tls.serverFiles.key,
            client_ca: tls.serverFiles.clientCa,
          },
          identities: Object.keys(GRANTS).map((r) => ({
            name: `svc-${r}`,
            match: `cn:svc-${r}`,
            kind: 'service',
            roles: [r],
          })),
          rate_limit: { per_second: 10_000, burst: 10_000 },
        },
      }),
      { mode: 0o600 },
    );
    const clients = Object.fromEntries(Object.keys(GRANTS).map((r) => [r, tls.client(`svc-${r}`)])) as Record<
      keyof typeof GRANTS,
      ClientCert
    >;
    const h = new TwoInstanceHarness(dir, token, pg, config, tls, clients);
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      stringify({
        name: 'two-instances',
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

  /** The environment of every hsmkit process: the store URL arrives only here. */
  env(): NodeJS.ProcessEnv {
    const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
    return { ...env, DATABASE_URL: this.pg.url };
  }

  /** Runs the CLI from source on this config (JSON output). */
  cli(args: string[], timeoutMs = 120_000): Promise<CliRun> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', RUN, '--config', this.config, '--json', ...args],
        { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: this.env() },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
          resolve({ code, stdout, stderr });
        },
      );
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
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        RUN,
        '--config',
        this.config,
        '--json',
        'serve',
        '--tls',
        '--listen',
        `127.0.0.1:${port}`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: this.env() },
    );
    this.#pids.push(child.pid!);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-20_000);
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`${name} did not listen in time: ${stderr}`)),
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
        reject(new Error(`${name} exited (${code}) before listening: ${stderr}`));
      });
    });
    const inst: Instance = {
      name,
      port,
      base: `https://127.0.0.1:${port}`,
      child,
      exited,
      stderr: () => stderr,
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
    for (const pid of this.#pids) {
      try {
        process.kill(-pid, 'SIGKILL'); // member hosts left in the service's process group
      } catch {
        // the group is gone already
      }
    }
    await this.pg.stop();
    this.token.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
