import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MemberOptions } from '../adapters/pkcs11/member.js';
import { Pkcs11KeyManager } from '../adapters/pkcs11/pkcs11-key-manager.js';
import type { KeyType } from '../kms/key-spec.js';
import { type BenchConfig, benchConfig } from './bench-config.js';
import { createBenchToken } from './bench-token.js';
import { CBaseline } from './c-baseline.js';
import { BenchCluster } from './cluster-bench.js';
import { connectFigure } from './connect-bench.js';
import { httpFigure, memoryFigure } from './http-bench.js';
import { type KeygenFigure, keygenFigure } from './keygen-bench.js';
import { BENCH_KEYS, benchKey } from './keys.js';
import { batchThroughput, libraryThroughput, singleCallerLatency } from './library-bench.js';
import { runningFromSource } from './node-script.js';
import { benchMarkdown } from './report-markdown.js';
import { ServiceUnderTest } from './service-under-test.js';
import { round } from './stats.js';
import { type BenchReport, evaluateTargets } from './targets.js';

/** Options of one benchmark run. */
export interface BenchRunOptions {
  quick: boolean;
  /** Directory for latest.json and latest.md; default bench/results of the checkout. */
  outDir?: string;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
  /** Signatures of the memory figure instead of the default (1 M full, 5 k quick). */
  memorySignatures?: number;
}

const EC_AND_EDDSA: KeyType[] = ['ec-p256', 'ec-p384', 'ec-p521', 'ed25519', 'ed448'];

/**
 * Runs every figure of issue 10, each next to the raw C baseline measured in the same run, on
 * SoftHSM tokens it makes and removes itself. A section that fails is recorded in `failures` and
 * the others still run. Writes `latest.json` and `latest.md` to `outDir`.
 */
export async function runBenchSuite(o: BenchRunOptions): Promise<BenchReport> {
  const cfg = benchConfig(o.quick);
  if (o.memorySignatures !== undefined) cfg.memorySignatures = o.memorySignatures;
  const log = o.log ?? (() => undefined);
  const began = performance.now();
  const loadStart = loadavg();
  const work = mkdtempSync(join(tmpdir(), 'hsmkit-bench-'));
  const figures: Partial<BenchReport['figures']> = {};
  const failures: Record<string, string> = {};
  const section = async (name: string, fn: () => Promise<void>) => {
    const t = performance.now();
    log(`${name}…`);
    try {
      await fn();
    } catch (err) {
      failures[name] = (err as Error).message;
      log(`${name} FAILED: ${(err as Error).message}`);
    }
    log(`${name} done in ${round((performance.now() - t) / 1000, 1)} s`);
  };
  try {
    await librarySections(cfg, work, figures, section, log);
    const http = () =>
      section('http', async () => {
        await httpSections(cfg, work, figures, section);
      });
    const cluster = () =>
      section('cluster', async () => {
        const p256 = benchKey('P-256');
        const bc = await BenchCluster.create(3, p256);
        try {
          const c = new CBaseline(bc.tokens[0]!, mkdtempSync(join(work, 'c-cluster-')));
          await section('scaling', async () => {
            figures.scaling = await bc.scaling(cfg, c);
          });
          await section('failover', async () => {
            figures.failover = await bc.failover(cfg.failoverKills);
          });
        } finally {
          bc.cleanup();
        }
      });
    await http();
    await cluster();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const report: BenchReport = {
    benchmark: 'hsmkit issue 10 suite',
    date: new Date().toISOString(),
    quick: cfg.quick,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      softhsm: softhsmVersion(),
      loadAverage: { start: loadStart.map((x) => round(x)), end: loadavg().map((x) => round(x)) },
      fromSource: runningFromSource,
    },
    config: cfg,
    durationSeconds: round((performance.now() - began) / 1000, 1),
    disturbed: (figures.throughput ?? []).some((t) =>
      t.perRound.some((p) => p.cMode.endsWith('processes') && p.cCores < 1.6),
    ),
    figures: figures as BenchReport['figures'],
    failures,
    targets: [],
  };
  report.targets = evaluateTargets(report);
  const outDir = o.outDir ?? defaultResultsDir();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.md'), benchMarkdown(report));
  return report;
}

type Section = (name: string, fn: () => Promise<void>) => Promise<void>;

async function librarySections(
  cfg: BenchConfig,
  work: string,
  figures: Partial<BenchReport['figures']>,
  section: Section,
  log: (line: string) => void,
): Promise<void> {
  const tok = createBenchToken(`bench-lib-${Date.now().toString(36)}`);
  let km: Pkcs11KeyManager | undefined;
  try {
    const c = new CBaseline(tok, mkdtempSync(join(work, 'c-lib-')));
    // RSA-8192 on a loaded machine can take minutes: well past the 120 s default keygen budget.
    const member = tok.member({ hostProcesses: cfg.hostProcesses, keygenTimeoutMs: 900_000 });
    km = await Pkcs11KeyManager.open(member);
    // Two processes initialising one SoftHSM file token at the same moment can fail (DESIGN.md):
    // let the second host finish before anything else opens the token.
    await km.member.allHostsStarted();
    // Quick run: RSA-8192 (one sample, hsmkit and C at once) runs beside everything else on a
    // member of its own, so its minute or more overlaps the rest; its figure is then only a smoke value.
    const rsa8192 = cfg.quick ? backgroundKeygen(member, c, 'rsa-8192', cfg.rsa8192Samples, log) : undefined;
    const lib0 = km;
    await Promise.all(
      BENCH_KEYS.map(async (k) => {
        await lib0.createKey({ label: k.label, type: k.type });
        const sig = await lib0.sign(k.request);
        const ok = await lib0.verify({
          key: k.label,
          data: k.message,
          signature: sig,
          algorithm: k.request.algorithm,
        });
        if (!ok) throw new Error(`${k.name}: hsmkit signature does not verify`);
      }),
    );
    log('library keys generated and checked');
    const lib = km;
    await section('latency', async () => {
      figures.latency = [];
      for (const name of ['P-256', 'RSA-2048'])
        figures.latency.push(await singleCallerLatency(cfg, c, lib, benchKey(name)));
    });
    await section('throughput', async () => {
      figures.throughput = [];
      for (const k of BENCH_KEYS) {
        log(`throughput ${k.name}`);
        figures.throughput.push(await libraryThroughput(cfg, c, lib, k));
      }
    });
    await section('batch', async () => {
      figures.batch = [];
      for (const name of ['P-256', 'RSA-2048'])
        figures.batch.push(await batchThroughput(cfg, c, lib, benchKey(name)));
    });
    await section('keygen', async () => {
      figures.keygen = [];
      figures.keygen.push(await keygenFigure(lib, c, 'rsa-4096', cfg.rsa4096Samples, log, cfg.quick));
      if (!rsa8192) figures.keygen.push(await keygenFigure(lib, c, 'rsa-8192', cfg.rsa8192Samples, log));
      for (const t of EC_AND_EDDSA)
        figures.keygen.push(await keygenFigure(lib, c, t, cfg.otherKeygenSamples, log));
    });
    await section('connect', async () => {
      figures.connect = await connectFigure(
        (extra) => tok.member(extra),
        c,
        benchKey('P-256'),
        cfg.connectSamples,
        runningFromSource && !cfg.quick,
      );
    });
    if (rsa8192)
      await section('keygen-rsa-8192', async () => {
        figures.keygen ??= [];
        figures.keygen.push(await rsa8192);
      });
  } finally {
    await km?.close();
    tok.cleanup();
  }
}

/** One key generation figure on a member of its own, started now and awaited later. */
function backgroundKeygen(
  member: MemberOptions,
  c: CBaseline,
  type: KeyType,
  samples: number,
  log: (line: string) => void,
): Promise<KeygenFigure> {
  const run = async () => {
    const km = await openWithRetry({ ...member, hostProcesses: 1 });
    try {
      return await keygenFigure(km, c, type, samples, log, true);
    } finally {
      await km.close();
    }
  };
  const p = run();
  p.catch(() => undefined); // awaited (and reported) by its section
  return p;
}

/** Opens a member, again up to twice when the token is briefly not found (another process initialising it). */
async function openWithRetry(member: MemberOptions): Promise<Pkcs11KeyManager> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await Pkcs11KeyManager.open(member);
    } catch (err) {
      if (attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function httpSections(
  cfg: BenchConfig,
  work: string,
  figures: Partial<BenchReport['figures']>,
  section: Section,
): Promise<void> {
  const tok = createBenchToken(`bench-http-${Date.now().toString(36)}`);
  const dir = mkdtempSync(join(work, 'service-'));
  const svc = new ServiceUnderTest(dir, tok, cfg.batchItems, cfg.hostProcesses);
  try {
    const keys = ['P-256', 'RSA-2048', 'Ed25519'].map(benchKey);
    await svc.prepare(keys);
    const c = new CBaseline(tok, mkdtempSync(join(work, 'c-http-')));
    await svc.start();
    await section('http-throughput', async () => {
      figures.http = [];
      for (const k of keys) figures.http.push(await httpFigure(cfg, c, svc, k, cfg.batchItems));
      // One signature per request: what a client that does not batch gets.
      for (const k of keys.filter((x) => x.name !== 'RSA-2048'))
        figures.http.push(await httpFigure(cfg, c, svc, k, cfg.batchItems, true));
    });
    await section('memory', async () => {
      figures.memory = await memoryFigure(cfg, svc, benchKey('P-256'));
    });
  } finally {
    await svc.stop();
    tok.cleanup();
  }
}

function softhsmVersion(): string {
  try {
    return execFileSync('softhsm2-util', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function defaultResultsDir(): string {
  return fileURLToPath(new URL('../../bench/results/', import.meta.url));
}
