import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { openContext } from '../cli/context.js';
import type { BenchToken } from './bench-token.js';
import { type BenchKey, DIGEST } from './keys.js';
import { nodeArgs } from './node-script.js';
import { makeTlsFiles, type TlsFiles } from './tls-files.js';

/** The identity the load generator presents (its client certificate's CN). */
const CLIENT_CN = 'hsmkit-bench-client';

/** Load of one run of the HTTP load generator (http-load-client.ts). */
export interface LoadResult {
  requests: number;
  items: number;
  errors: number;
  firstError?: string;
  seconds: number;
  latencies: number[];
}

/**
 * A real `hsmkit serve --tls` process on the benchmark's token, with mutual TLS, a signer
 * identity for the load generator, a high rate limit and batches of `batchSize` items; its
 * Prometheus listener gives the event-loop delay, /proc its memory.
 */
export class ServiceUnderTest {
  private child: ChildProcess | undefined;
  base = '';
  metricsUrl = '';
  readonly tls: TlsFiles;
  readonly config: string;

  constructor(
    private readonly dir: string,
    token: BenchToken,
    private readonly batchSize: number,
    hostProcesses: number,
  ) {
    this.tls = makeTlsFiles(dir, CLIENT_CN);
    const pinFile = join(dir, 'pin');
    writeFileSync(pinFile, token.userPin, { mode: 0o600 });
    this.config = join(dir, 'hsmkit.yaml');
    const config = {
      hsm_configuration: {
        provider: 'softhsm2',
        connection: {
          module: token.member().module,
          token_label: token.label,
          pin_file: pinFile,
          env: token.env,
          host_processes: hostProcesses,
        },
        performance: { batch_size: batchSize },
      },
      store: { path: join(dir, 'hsmkit.db') },
      service: {
        tls: { certificate: this.tls.serverCert, key: this.tls.serverKey, client_ca: this.tls.ca },
        identities: [{ name: 'bench', match: `cn:${CLIENT_CN}`, kind: 'service', roles: ['signer'] }],
        rate_limit: { per_second: 100_000, burst: 1_000_000 },
        body_limit_bytes: 4 * 1024 * 1024,
      },
    };
    writeFileSync(this.config, stringify(config), { mode: 0o600 });
  }

  /** Applies an access policy (signer may sign) and makes the keys through hsmkit's own context. */
  async prepare(keys: BenchKey[]): Promise<void> {
    const ctx = await openContext({ config: this.config });
    try {
      const policy = {
        name: 'bench',
        access: { default_role: 'admin', roles: { signer: [{ operations: ['key.sign', 'key.public'] }] } },
      };
      await ctx.governance.admin.apply(stringify(policy), 'benchmark policy', false);
      for (const k of keys) await ctx.km.createKey({ label: k.label, type: k.type });
    } finally {
      await ctx.close();
    }
  }

  /** Starts `hsmkit serve --tls` and waits for its address. */
  async start(): Promise<void> {
    // HSMKIT_BENCH_PROFILE_DIR: the service writes a V8 CPU profile there when it stops (docs/performance.md).
    const prof = process.env.HSMKIT_BENCH_PROFILE_DIR;
    const args = [
      ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []),
      ...nodeArgs('cli/run'),
      '--config',
      this.config,
      '--json',
      'serve',
      '--tls',
      '--listen',
      '127.0.0.1:0',
      '--metrics-listen',
      '127.0.0.1:0',
    ];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, HSMKIT_HOME: this.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let out = '';
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err = (err + c.toString()).slice(-4000);
    });
    const started = await new Promise<{ listening: string; metrics: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hsmkit serve did not start: ${err}`)), 60_000);
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        try {
          const j = JSON.parse(out) as { listening: string; metrics: string };
          clearTimeout(timer);
          resolve(j);
        } catch {
          // not the whole JSON document yet
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`hsmkit serve exited (${code}): ${err}`));
      });
    });
    this.base = started.listening.replace('http://', 'https://');
    this.metricsUrl = started.metrics;
  }

  /** Process id of the service. */
  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** Resident memory of the service now and its peak so far (VmRSS, VmHWM), in MB. */
  memory(): { rssMb: number; peakRssMb: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  }

  /** Reads one gauge from the service's /metrics (prom-client resets the event-loop histogram per read). */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(this.metricsUrl)).text();
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : Number.NaN;
  }

  /**
   * Runs the load generator in its own process: `POST /v1/sign/batch` of `batchSize` items, or with
   * `single` one `POST /v1/sign` per signature. Items are digests, or for EdDSA (which signs the
   * message itself) the message.
   */
  load(
    key: BenchKey,
    o: { connections: number; warmupMs: number; seconds?: number; items?: number; single?: boolean },
  ): Promise<LoadResult> {
    const { single = false, ...rest } = o;
    const item: Record<string, unknown> =
      key.cMech === 'eddsa'
        ? { key: key.label, data: key.message.toString('base64') }
        : { key: key.label, digest: DIGEST.toString('base64') };
    if (key.request.algorithm) item.algorithm = key.request.algorithm;
    const job = {
      url: `${this.base}/v1/sign${single ? '' : '/batch'}`,
      ca: this.tls.ca,
      cert: this.tls.clientCert,
      key: this.tls.clientKey,
      body: JSON.stringify(single ? item : { items: Array.from({ length: this.batchSize }, () => item) }),
      ...rest,
    };
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        nodeArgs('bench/http-load-client'),
        {
          env: { ...process.env, HSMKIT_BENCH_LOAD: JSON.stringify(job) },
          maxBuffer: 256 << 20,
          timeout: 3_600_000,
        },
        (e, stdout, stderr) => {
          if (e) return reject(new Error(`load generator failed: ${e.message} ${stderr}`));
          resolve(JSON.parse(stdout.trim()) as LoadResult);
        },
      );
    });
  }

  /** Stops the service (SIGTERM, then SIGKILL after 5 s) — only the process this object started. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}
