/**
 * hsmkit foundation benchmark: keygen, connection setup, single-signature latency and throughput
 * through Pkcs11KeyManager, each next to a raw C PKCS#11 baseline (bench/baseline/p11-sign.c) run
 * on the same SoftHSM token, with the same keys, in the same run. The machine is shared and
 * drifts, so only the ratio hsmkit / C is comparable between runs.
 *
 *   node --import tsx bench/foundation.mts [--quick] [--only keygen,connect,latency,throughput]
 *                                          [--in-flight N]
 *
 * Prints a markdown report on stdout and writes bench/results/foundation.json. Prints no secret:
 * the token's PIN is random, given to hsmkit as a Secret and to the C program in its environment.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pkcs11KeyManager } from '../src/adapters/pkcs11/pkcs11-key-manager.js';
import type { KeyType } from '../src/kms/key-spec.js';
import type { SignRequest } from '../src/kms/requests.js';
import { createSoftHsmToken, type SoftHsmToken } from '../test/support/softhsm.js';

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

// ---- options ------------------------------------------------------------------------------------

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const onlyArg = argv.find((a) => a.startsWith('--only='))?.slice(7) ?? argv[argv.indexOf('--only') + 1];
const SECTIONS = new Set(
  argv.includes('--only') || argv.some((a) => a.startsWith('--only='))
    ? (onlyArg ?? '').split(',')
    : ['keygen', 'connect', 'latency', 'throughput'],
);

if (argv.includes('--in-flight') && !(Number(argv[argv.indexOf('--in-flight') + 1]) >= 1))
  throw new Error('--in-flight needs a positive number');

const CFG = {
  keygenSamples: QUICK ? 3 : 10,
  connectSamples: QUICK ? 3 : 10,
  latencySignatures: QUICK ? 300 : 2000,
  latencyWarmup: QUICK ? 50 : 200,
  cLatencySeconds: QUICK ? 1 : 2,
  /** Per key and per side; split into rounds of C 2 threads, C 2 processes, hsmkit, so drift hits all three. */
  throughputSeconds: QUICK ? 2 : 10,
  throughputRounds: QUICK ? 1 : 3,
  throughputWarmupSeconds: 0.5,
  inFlight: argv.includes('--in-flight') ? Number(argv[argv.indexOf('--in-flight') + 1]) : 64,
  hostProcesses: 2,
};

/** Two C signing processes on an idle machine use about 2 cores; well under that means other load. */
const DISTURBED_BELOW_CORES = Math.min(2, cpus().length) * 0.8;

// ---- fixed inputs (the same bytes the C baseline signs) -----------------------------------------

const MESSAGE = Buffer.from('hsmkit benchmark message');
const DIGEST = createHash('sha256').update(MESSAGE).digest();
const C_DIGEST_HEX = 'b40aee4e271eadca3a236e4e9a5452116993ecc76d65ba2d30b05c35b43af001';
if (DIGEST.toString('hex') !== C_DIGEST_HEX) throw new Error('fixed digest differs from the C baseline');

interface BenchKey {
  name: string;
  label: string;
  type: KeyType;
  cMech: 'ecdsa' | 'rsa-pkcs' | 'eddsa';
  /** What hsmkit is asked to sign: it hands C_Sign exactly the bytes the C loop signs. */
  request: SignRequest;
  /** The message the signature verifies against. */
  message: Buffer;
}

const KEYS: BenchKey[] = [
  {
    name: 'P-256',
    label: 'bench-p256',
    type: 'ec-p256',
    cMech: 'ecdsa',
    request: { key: 'bench-p256', digest: DIGEST, algorithm: { scheme: 'ecdsa', hash: 'sha256' } },
    message: MESSAGE,
  },
  {
    name: 'RSA-2048',
    label: 'bench-rsa2048',
    type: 'rsa-2048',
    cMech: 'rsa-pkcs',
    request: { key: 'bench-rsa2048', digest: DIGEST, algorithm: { scheme: 'rsa-pkcs1', hash: 'sha256' } },
    message: MESSAGE,
  },
  {
    name: 'Ed25519',
    label: 'bench-ed25519',
    type: 'ed25519',
    cMech: 'eddsa',
    request: { key: 'bench-ed25519', data: DIGEST },
    message: DIGEST,
  },
];

// ---- statistics ---------------------------------------------------------------------------------

/** Nearest-rank percentile (q in 0..1) of unsorted samples. */
function pct(samples: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(samples).sort();
  if (s.length === 0) return Number.NaN;
  const rank = Math.min(s.length, Math.max(1, Math.ceil(q * s.length)));
  return s[rank - 1]!;
}
const median = (x: ArrayLike<number>) => pct(x, 0.5);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const fmt = (x: number, d = 0) =>
  Number.isFinite(x)
    ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    : '–';

// ---- the C baseline -----------------------------------------------------------------------------

interface CSignResult {
  mode: 'threads' | 'processes';
  threads: number;
  processes: number;
  mech: string;
  ops: number;
  seconds: number;
  elapsed: number;
  opsPerSec: number;
  p50us: number;
  p99us: number;
  /** CPU the signing threads used over the window, in cores. */
  cpuCores: number;
  setupUs: number;
}

class CBaseline {
  readonly bin: string;
  readonly setupUs: number[] = [];
  constructor(
    private readonly tok: SoftHsmToken,
    readonly dir: string,
  ) {
    this.bin = join(dir, 'p11-sign');
    execFileSync('cc', ['-O2', '-o', this.bin, join(here, 'baseline', 'p11-sign.c'), '-ldl', '-lpthread'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }

  private env(): NodeJS.ProcessEnv {
    // The PIN travels in the environment, never on the command line.
    return { ...process.env, SOFTHSM2_CONF: this.tok.conf, P11_PIN: this.tok.userPin };
  }

  private async run(args: string[], timeoutMs: number): Promise<unknown> {
    const { stdout } = await execFileP(this.bin, ['--token', this.tok.label, ...args], {
      env: this.env(),
      timeout: timeoutMs,
      maxBuffer: 1 << 20,
    });
    return JSON.parse(stdout.trim());
  }

  async sign(
    key: BenchKey,
    opts: { threads?: number; processes?: number; seconds: number; warmupMs?: number },
  ): Promise<CSignResult> {
    const args = ['--key', key.label, '--mech', key.cMech, '--seconds', String(opts.seconds)];
    if (opts.processes) args.push('--processes', String(opts.processes));
    else args.push('--threads', String(opts.threads ?? 1));
    args.push('--warmup-ms', String(opts.warmupMs ?? 300));
    const r = (await this.run(args, Math.ceil((opts.seconds + 30) * 1000))) as CSignResult;
    this.setupUs.push(r.setupUs);
    return r;
  }

  async keygenRsa(bits: number): Promise<number> {
    const r = (await this.run(['--keygen-rsa', String(bits), '--count', '1'], 120_000)) as {
      samplesSeconds: number[];
    };
    return r.samplesSeconds[0]!;
  }
}

// ---- hsmkit measurements ------------------------------------------------------------------------

/** CPU seconds (user + system) a process has used, from /proc. */
function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return Number.NaN;
  }
}

interface ThroughputResult {
  opsPerSec: number;
  /** Signatures completed inside the window. */
  ops: number;
  seconds: number;
  /** Latencies (ms) of the calls issued and completed inside the window. */
  latencies: number[];
  errors: number;
  eventLoopP99ms: number;
  /** Share of one core used during the window, parent and each host. */
  cpu: { parent: number; hosts: number[] };
}

/** Closed loop: `inFlight` callers, each awaiting its signature and issuing the next. */
async function hsmkitThroughput(
  km: Pkcs11KeyManager,
  key: BenchKey,
  seconds: number,
): Promise<ThroughputResult> {
  const warmupMs = CFG.throughputWarmupSeconds * 1000;
  const windowMs = seconds * 1000;
  const t0 = performance.now();
  const measureFrom = t0 + warmupMs;
  const deadline = measureFrom + windowMs;
  const latencies: number[] = [];
  let completed = 0;
  let errors = 0;
  const eld = monitorEventLoopDelay({ resolution: 1 });
  let cpuStart: { parent: NodeJS.CpuUsage; hosts: number[] } | undefined;
  const pids = km.member.hostPids;
  const startTimer = setTimeout(() => {
    cpuStart = { parent: process.cpuUsage(), hosts: pids.map(procCpuSeconds) };
    eld.enable();
  }, warmupMs);
  const worker = async () => {
    for (;;) {
      const start = performance.now();
      if (start >= deadline) return;
      try {
        await km.sign(key.request);
      } catch {
        errors++;
        continue;
      }
      const end = performance.now();
      if (end >= measureFrom && end <= deadline) {
        completed++;
        if (start >= measureFrom) latencies.push(end - start);
      }
    }
  };
  await Promise.all(Array.from({ length: CFG.inFlight }, worker));
  clearTimeout(startTimer);
  eld.disable();
  const wall = (performance.now() - measureFrom) / 1000;
  const parentCpu = cpuStart ? process.cpuUsage(cpuStart.parent) : { user: Number.NaN, system: 0 };
  const hostsCpu = cpuStart ? pids.map((p, i) => (procCpuSeconds(p) - cpuStart!.hosts[i]!) / wall) : [];
  return {
    opsPerSec: completed / seconds,
    ops: completed,
    seconds,
    latencies,
    errors,
    eventLoopP99ms: eld.percentile(99) / 1e6,
    cpu: { parent: (parentCpu.user + parentCpu.system) / 1e6 / wall, hosts: hostsCpu },
  };
}

/** One caller, sign calls awaited one by one. */
async function hsmkitLatency(km: Pkcs11KeyManager, key: BenchKey) {
  for (let i = 0; i < CFG.latencyWarmup; i++) await km.sign(key.request);
  const lat = new Float64Array(CFG.latencySignatures);
  const t0 = performance.now();
  for (let i = 0; i < lat.length; i++) {
    const s = performance.now();
    await km.sign(key.request);
    lat[i] = (performance.now() - s) * 1000;
  }
  const secs = (performance.now() - t0) / 1000;
  return { n: lat.length, p50us: median(lat), p99us: pct(lat, 0.99), opsPerSec: lat.length / secs };
}

// ---- main ---------------------------------------------------------------------------------------

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function main() {
  const began = performance.now();
  const loadAtStart = loadavg()[0]!;
  const tok = createSoftHsmToken(`bench-${Date.now().toString(36)}`);
  const workdir = mkdtempSync(join(tmpdir(), 'hsmkit-bench-'));
  const results: Record<string, unknown> = {};
  let km: Pkcs11KeyManager | undefined;
  try {
    const c = new CBaseline(tok, workdir);
    log(`C baseline compiled; token ${tok.label}`);
    km = await Pkcs11KeyManager.open(tok.member({ hostProcesses: CFG.hostProcesses }));
    for (const k of KEYS) {
      await km.createKey({ label: k.label, type: k.type });
      const sig = await km.sign(k.request);
      if (
        !(await km.verify({ key: k.label, data: k.message, signature: sig, algorithm: k.request.algorithm }))
      )
        throw new Error(`${k.name}: hsmkit signature does not verify`);
    }
    log('keys generated through hsmkit and checked');

    if (SECTIONS.has('latency')) {
      const rows = [];
      for (const k of KEYS.filter((x) => x.name !== 'Ed25519')) {
        log(`latency ${k.name}`);
        const cr = await c.sign(k, { threads: 1, seconds: CFG.cLatencySeconds });
        const h = await hsmkitLatency(km, k);
        rows.push({
          key: k.name,
          hsmkit: {
            ...h,
            p50us: round(h.p50us, 1),
            p99us: round(h.p99us, 1),
            opsPerSec: round(h.opsPerSec, 0),
          },
          c: { p50us: cr.p50us, p99us: cr.p99us, opsPerSec: cr.opsPerSec },
          p50Ratio: round(h.p50us / cr.p50us, 2),
          p99Ratio: round(h.p99us / cr.p99us, 2),
        });
      }
      results.latency = rows;
    }

    if (SECTIONS.has('throughput')) {
      const rows = [];
      const roundSeconds = CFG.throughputSeconds / CFG.throughputRounds;
      for (const k of KEYS) {
        const rounds: Array<{ ct: CSignResult; cp: CSignResult; h: ThroughputResult; ratio: number }> = [];
        for (let r = 0; r < CFG.throughputRounds; r++) {
          const tag = `throughput ${k.name} round ${r + 1}/${CFG.throughputRounds}`;
          log(
            `${tag}: C 2 threads, C 2 processes, hsmkit (${CFG.hostProcesses} hosts, ${CFG.inFlight} in flight)`,
          );
          const ct = await c.sign(k, { threads: 2, seconds: roundSeconds });
          const cp = await c.sign(k, { processes: 2, seconds: roundSeconds });
          const h = await hsmkitThroughput(km, k, roundSeconds);
          rounds.push({ ct, cp, h, ratio: h.opsPerSec / Math.max(ct.opsPerSec, cp.opsPerSec) });
        }
        const med = (f: (x: (typeof rounds)[number]) => number) => median(rounds.map(f));
        const cSide = (f: (x: (typeof rounds)[number]) => CSignResult) => ({
          opsPerSec: round(
            med((x) => f(x).opsPerSec),
            0,
          ),
          p50us: round(
            med((x) => f(x).p50us),
            1,
          ),
          p99us: round(
            med((x) => f(x).p99us),
            1,
          ),
          cpuCores: round(
            med((x) => f(x).cpuCores),
            2,
          ),
        });
        const threads2 = cSide((x) => x.ct);
        const processes2 = cSide((x) => x.cp);
        const lat = rounds.flatMap((x) => x.h.latencies);
        const hostsCpu = rounds[0]!.h.cpu.hosts.map((_, i) =>
          round(
            med((x) => x.h.cpu.hosts[i] ?? 0),
            2,
          ),
        );
        const parentCpu = round(
          med((x) => x.h.cpu.parent),
          2,
        );
        rows.push({
          key: k.name,
          rounds: rounds.length,
          secondsPerRound: roundSeconds,
          c: {
            threads2,
            processes2,
            best: processes2.opsPerSec >= threads2.opsPerSec ? '2 processes' : '2 threads',
            bestOpsPerSec: Math.max(threads2.opsPerSec, processes2.opsPerSec),
          },
          hsmkit: {
            opsPerSec: round(
              med((x) => x.h.opsPerSec),
              0,
            ),
            p50ms: round(median(lat), 2),
            p99ms: round(pct(lat, 0.99), 2),
            errors: rounds.reduce((n, x) => n + x.h.errors, 0),
            eventLoopP99ms: round(
              med((x) => x.h.eventLoopP99ms),
              2,
            ),
            cpu: { parent: parentCpu, hosts: hostsCpu },
            cpuCores: round(parentCpu + hostsCpu.reduce((a, b) => a + b, 0), 2),
          },
          /** Median over rounds of hsmkit ÷ the better C mode of the same round. */
          ratio: round(
            med((x) => x.ratio),
            3,
          ),
          perRound: rounds.map((x) => ({
            cThreads2: round(x.ct.opsPerSec, 0),
            cProcesses2: round(x.cp.opsPerSec, 0),
            hsmkit: round(x.h.opsPerSec, 0),
            ratio: round(x.ratio, 3),
            cProcesses2Cores: round(x.cp.cpuCores, 2),
          })),
          /** Rounds in which C with 2 processes could not get the machine's cores: other load interfered. */
          disturbedRounds: rounds.filter((x) => x.cp.cpuCores < DISTURBED_BELOW_CORES).length,
        });
      }
      results.throughput = rows;
    }

    if (SECTIONS.has('connect')) {
      log('connection setup');
      const key = KEYS[0]!;
      const byHosts: Record<string, unknown> = {};
      for (const hosts of [1, CFG.hostProcesses]) {
        const total: number[] = [];
        const lastConnect: number[] = [];
        for (let i = 0; i < CFG.connectSamples; i++) {
          const t = performance.now();
          const k2 = await Pkcs11KeyManager.open(tok.member({ hostProcesses: hosts }));
          try {
            await k2.sign(key.request);
            total.push(performance.now() - t);
            lastConnect.push(k2.member.lastConnectMs);
          } finally {
            await k2.close();
          }
        }
        byHosts[`hosts${hosts}`] = {
          hostProcesses: hosts,
          samplesMs: total.map((x) => round(x, 1)),
          p50ms: round(median(total), 1),
          p99ms: round(pct(total, 0.99), 1),
          lastConnectMsP50: round(median(lastConnect), 1),
          lastConnectMsP99: round(pct(lastConnect, 0.99), 1),
        };
      }
      // The C figure: dlopen + C_Initialize + slot lookup + C_OpenSession + C_Login + key lookup,
      // from every C run of this benchmark (at least a few).
      while (c.setupUs.length < 3) await c.sign(key, { threads: 1, seconds: 0.05, warmupMs: 0 });
      results.connect = {
        ...byHosts,
        c: {
          samples: c.setupUs.length,
          setupMsP50: round(median(c.setupUs) / 1000, 2),
          setupMsP99: round(pct(c.setupUs, 0.99) / 1000, 2),
        },
      };
    }

    if (SECTIONS.has('keygen')) {
      const h: number[] = [];
      const cs: number[] = [];
      for (let i = 0; i < CFG.keygenSamples; i++) {
        log(`RSA-4096 keygen ${i + 1}/${CFG.keygenSamples}`);
        cs.push(await c.keygenRsa(4096));
        const t = performance.now();
        const info = await km.createKey({ label: `bench-keygen-${i}`, type: 'rsa-4096' });
        h.push((performance.now() - t) / 1000);
        await km.deleteKey(info.uri);
      }
      const stats = (x: number[]) => ({
        samplesSeconds: x.map((v) => round(v, 3)),
        median: round(median(x), 3),
        p90: round(pct(x, 0.9), 3),
        max: round(Math.max(...x), 3),
        min: round(Math.min(...x), 3),
      });
      results.keygen = {
        keyType: 'rsa-4096',
        hsmkit: stats(h),
        c: stats(cs),
        medianRatio: round(median(h) / median(cs), 2),
      };
    }
  } finally {
    await km?.close();
    tok.cleanup();
    rmSync(workdir, { recursive: true, force: true });
  }

  const report = {
    benchmark: 'foundation',
    date: new Date().toISOString(),
    quick: QUICK,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      node: process.version,
      loadAverage1m: { start: round(loadAtStart), end: round(loadavg()[0]!) },
    },
    module: 'SoftHSM2 /usr/lib/softhsm/libsofthsm2.so',
    config: CFG,
    durationSeconds: round((performance.now() - began) / 1000, 1),
    disturbed: ((results.throughput as Array<{ disturbedRounds: number }> | undefined) ?? []).some(
      (x) => x.disturbedRounds > 0,
    ),
    ...results,
  };
  const outDir = join(here, 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'foundation.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(markdown(report));
}

// ---- report -------------------------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: the report is built above; this only formats it.
function markdown(r: any): string {
  const out: string[] = [];
  out.push(`# hsmkit foundation benchmark${r.quick ? ' (--quick)' : ''}`, '');
  out.push(
    `${r.date} · ${r.machine.cpus} × ${r.machine.cpuModel} · Node ${r.machine.node} · ${r.module} · ${r.durationSeconds} s · load average (1 min) ${r.machine.loadAverage1m.start} at start, ${r.machine.loadAverage1m.end} at end`,
    '',
    'Every ratio is hsmkit ÷ the raw C PKCS#11 loop (bench/baseline/p11-sign.c) on the same token and key, measured in this run.',
    '',
  );
  if (r.disturbed) {
    const n = r.throughput.reduce((a: number, x: { disturbedRounds: number }) => a + x.disturbedRounds, 0);
    out.push(
      `> **Disturbed run:** in ${n} throughput round(s) C with 2 processes got under ${DISTURBED_BELOW_CORES} cores, so other work was using the machine. Treat every figure of this run as noise and run again on a quiet machine.`,
      '',
    );
  }
  if (r.keygen) {
    const k = r.keygen;
    out.push('## RSA-4096 key generation (seconds)', '');
    out.push('| | samples | median | p90 | max | min |', '|---|--:|--:|--:|--:|--:|');
    for (const [name, s] of [
      ['hsmkit createKey', k.hsmkit],
      ['C C_GenerateKeyPair', k.c],
    ] as const)
      out.push(
        `| ${name} | ${s.samplesSeconds.length} | ${fmt(s.median, 2)} | ${fmt(s.p90, 2)} | ${fmt(s.max, 2)} | ${fmt(s.min, 2)} |`,
      );
    out.push(
      '',
      `Ratio of medians hsmkit/C: **${fmt(k.medianRatio, 2)}** (RSA prime search varies a lot from key to key; samples alternate C and hsmkit).`,
      '',
    );
  }
  if (r.connect) {
    const c = r.connect;
    out.push('## Connection setup: `Pkcs11KeyManager.open()` until the first signature (ms)', '');
    out.push(
      '| | samples | p50 | p99 | `member.lastConnectMs` p50 | p99 | ratio p50 to C |',
      '|---|--:|--:|--:|--:|--:|--:|',
    );
    for (const key of Object.keys(c).filter((x) => x.startsWith('hosts'))) {
      const s = c[key];
      out.push(
        `| hsmkit, ${s.hostProcesses} host process${s.hostProcesses > 1 ? 'es' : ''} | ${s.samplesMs.length} | ${fmt(s.p50ms, 1)} | ${fmt(s.p99ms, 1)} | ${fmt(s.lastConnectMsP50, 1)} | ${fmt(s.lastConnectMsP99, 1)} | ${fmt(s.p50ms / c.c.setupMsP50, 0)} × |`,
      );
    }
    out.push(
      `| C: dlopen + C_Initialize + login + key lookup | ${c.c.samples} | ${fmt(c.c.setupMsP50, 2)} | ${fmt(c.c.setupMsP99, 2)} | | | 1 |`,
      '',
      `With ${c.hosts1.samplesMs.length} samples, p99 is the maximum. Hosts start one after another. hsmkit runs from source here: each host is \`node --import tsx\`.`,
      '',
    );
  }
  if (r.latency) {
    out.push('## Single-signature latency: one caller, sequential (µs)', '');
    out.push(
      '| Key | hsmkit p50 | hsmkit p99 | C 1 thread p50 | C p99 | p50 ratio | p99 ratio | hsmkit sig/s | C 1 thread sig/s |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const x of r.latency)
      out.push(
        `| ${x.key} | ${fmt(x.hsmkit.p50us, 0)} | ${fmt(x.hsmkit.p99us, 0)} | ${fmt(x.c.p50us, 0)} | ${fmt(x.c.p99us, 0)} | ${fmt(x.p50Ratio, 2)} | ${fmt(x.p99Ratio, 2)} | ${fmt(x.hsmkit.opsPerSec)} | ${fmt(x.c.opsPerSec)} |`,
      );
    out.push(
      '',
      `hsmkit: ${r.config.latencySignatures} signatures after ${r.config.latencyWarmup} warm-up ones; C: every signature of a ${r.config.cLatencySeconds} s loop.`,
      '',
    );
  }
  if (r.throughput) {
    out.push(
      `## Throughput: hsmkit with ${r.config.hostProcesses} host processes and ${r.config.inFlight} callers in flight, ${r.config.throughputSeconds} s (signatures/s)`,
      '',
    );
    out.push(
      '| Key | C 2 threads | C 2 processes | hsmkit | **ratio to best C** | per round | hsmkit p50 / p99 ms | C best p50 / p99 µs | event loop p99 ms | cores used: C thr / C proc / hsmkit (parent + hosts) | errors |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const x of r.throughput) {
      const best = x.c.best === '2 processes' ? x.c.processes2 : x.c.threads2;
      const hc = x.hsmkit.cpu;
      out.push(
        `| ${x.key} | ${fmt(x.c.threads2.opsPerSec)} | ${fmt(x.c.processes2.opsPerSec)} | ${fmt(x.hsmkit.opsPerSec)} | **${fmt(x.ratio, 2)}** (vs ${x.c.best}) | ${x.perRound.map((p: { ratio: number }) => fmt(p.ratio, 2)).join(', ')} | ${fmt(x.hsmkit.p50ms, 1)} / ${fmt(x.hsmkit.p99ms, 1)} | ${fmt(best.p50us)} / ${fmt(best.p99us)} | ${fmt(x.hsmkit.eventLoopP99ms, 1)} | ${fmt(x.c.threads2.cpuCores, 2)} / ${fmt(x.c.processes2.cpuCores, 2)} / ${fmt(x.hsmkit.cpuCores, 2)} (${fmt(hc.parent, 2)} + ${hc.hosts.map((h: number) => fmt(h, 2)).join(' + ')}) | ${x.hsmkit.errors} |`,
      );
    }
    out.push(
      '',
      `${r.config.throughputRounds} round(s) per key of C 2 threads, C 2 processes, then hsmkit, each ${fmt(r.config.throughputSeconds / r.config.throughputRounds, 1)} s after ${r.config.throughputWarmupSeconds} s warm-up; ops/s are medians over rounds, the ratio is the median of the per-round ratios. ` +
        `"Cores used" is CPU time ÷ window (the machine has ${r.machine.cpus}); a C figure well under 2 means other load took the machine.`,
      '',
    );
  }
  return `${out.join('\n')}\n`;
}

await main();
