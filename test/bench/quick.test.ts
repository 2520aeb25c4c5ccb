/**
 * Smoke run of the benchmark: `hsmkit bench --quick --json` from source, as its own process, on
 * SoftHSM tokens it makes itself. Asserts only that every figure of issue 10 was produced
 * (numeric, with its C baseline and ratio where the issue asks for one) and that the report files
 * were written; never a time or a verdict, since the machine is shared and noisy.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: the report is JSON read back from the CLI.
type Json = any;

/** A finite number (NaN and null are what a figure that was not measured looks like). */
function num(x: unknown, what: string): void {
  assert.equal(typeof x, 'number', `${what} is not a number: ${JSON.stringify(x)}`);
  assert.ok(Number.isFinite(x as number), `${what} is not finite: ${x}`);
}

describe('hsmkit bench --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'hsmkit-bench-test-'));
  let report: Json;
  let stderr = '';

  before(async () => {
    const { stdout, stderr: err } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'src/cli/run.ts'), '--json', 'bench', '--quick', '--out-dir', out],
        { cwd: ROOT, maxBuffer: 64 << 20, timeout: 900_000 },
        (e, so, se) =>
          e
            ? reject(new Error(`bench failed: ${e.message}\n${se}\n${so.slice(0, 4000)}`))
            : resolve({ stdout: so, stderr: se }),
      ),
    );
    stderr = err;
    report = JSON.parse(stdout);
  });

  after(() => rmSync(out, { recursive: true, force: true }));

  it('ran every section without failure and wrote latest.json and latest.md', () => {
    assert.deepEqual(report.failures, {}, stderr.slice(-2000));
    assert.equal(report.quick, true);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')).date, report.date);
    assert.ok(existsSync(join(out, 'latest.md')));
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    for (const heading of [
      '## Targets',
      '## Library throughput',
      '### Latency at full load',
      '## HTTP',
      '## Failover',
      '## Cluster scaling',
    ])
      assert.ok(md.includes(heading), `latest.md lacks ${heading}`);
    for (const x of report.machine.loadAverage.start.concat(report.machine.loadAverage.end))
      num(x, 'load average');
  });

  it('library throughput: every key type with its C baseline and ratio', () => {
    const keys = report.figures.throughput.map((t: Json) => t.key);
    assert.deepEqual(keys, [
      'RSA-2048',
      'RSA-3072',
      'RSA-4096',
      'P-256',
      'P-384',
      'P-521',
      'Ed25519',
      'Ed448',
    ]);
    for (const t of report.figures.throughput) {
      for (const [v, w] of [
        [t.hsmkit.opsPerSec, 'ops/s'],
        [t.hsmkit.p50ms, 'p50'],
        [t.hsmkit.p99ms, 'p99'],
        [t.c.opsPerSec, 'C ops/s'],
        [t.ratio, 'ratio'],
        [t.saturation?.opsPerSec, 'full-load ops/s'],
        [t.saturation?.p99ms, 'full-load p99'],
      ])
        num(v, `${t.key} ${w}`);
      assert.ok(t.hsmkit.opsPerSec > 0 && t.c.opsPerSec > 0, `${t.key}: a side signed nothing`);
      assert.equal(t.saturation.callers, 2 * report.config.hostProcesses);
    }
  });

  it('signBatch (100 per call) and single-caller latency, with baseline and ratio', () => {
    assert.deepEqual(
      report.figures.batch.map((b: Json) => b.key),
      ['P-256', 'RSA-2048'],
    );
    for (const b of report.figures.batch) {
      assert.equal(b.itemsPerCall, 100);
      for (const v of [b.hsmkit.opsPerSec, b.c.opsPerSec, b.ratio]) num(v, `batch ${b.key}`);
    }
    for (const l of report.figures.latency)
      for (const v of [l.hsmkit.p50us, l.hsmkit.p99us, l.c.p50us, l.p50Ratio]) num(v, `latency ${l.key}`);
  });

  it('HTTP through serve --tls: P-256, RSA-2048 and Ed25519 batches, single requests, event loop and memory', () => {
    const http = report.figures.http;
    assert.deepEqual(
      http.map((h: Json) => [h.key, h.route, h.itemsPerRequest]),
      [
        ['P-256', 'POST /v1/sign/batch', report.config.batchItems],
        ['RSA-2048', 'POST /v1/sign/batch', report.config.batchItems],
        ['Ed25519', 'POST /v1/sign/batch', report.config.batchItems],
        ['P-256', 'POST /v1/sign', 1],
        ['Ed25519', 'POST /v1/sign', 1],
      ],
    );
    for (const h of http) {
      for (const v of [h.hsmkit.signaturesPerSec, h.hsmkit.p50ms, h.hsmkit.p99ms, h.hsmkit.eventLoopP99ms])
        num(v, `http ${h.key}`);
      num(h.c.opsPerSec, `http ${h.key} C`);
      num(h.ratio, `http ${h.key} ratio`);
      assert.ok(h.hsmkit.signaturesPerSec > 0, `http ${h.key}: nothing signed`);
    }
    const m = report.figures.memory;
    for (const v of [m.rssBeforeMb, m.rssAfterMb, m.peakRssMb, m.growth]) num(v, 'memory');
    assert.ok(m.signatures >= report.config.memorySignatures, 'memory run signed fewer than asked');
  });

  it('key generation: RSA-4096, RSA-8192 (with C), EC and EdDSA', () => {
    const byType = new Map(report.figures.keygen.map((k: Json) => [k.type, k]));
    for (const t of ['rsa-4096', 'rsa-8192', 'ec-p256', 'ec-p384', 'ec-p521', 'ed25519', 'ed448']) {
      const k: Json = byType.get(t);
      assert.ok(k, `no keygen figure for ${t}`);
      for (const v of [k.hsmkit.p50, k.hsmkit.p90, k.hsmkit.max]) num(v, `keygen ${t}`);
      if (t.startsWith('rsa')) {
        num(k.c.p50, `keygen ${t} C`);
        num(k.p50Ratio, `keygen ${t} ratio`);
      }
    }
  });

  it('connection setup, failover and cluster scaling with 1, 2 and 3 members', () => {
    const c = report.figures.connect;
    for (const v of [c.hosts1.p50ms, c.hosts1.p99ms, c.hosts2.p50ms, c.c.p50ms, c.p50Ratio])
      num(v, 'connect');
    // The cached-probe row: opens with a warm capability cache (the figure itself is reported, not judged).
    assert.equal(c.hosts1CachedProbe?.samplesMs.length, report.config.connectSamples);
    num(c.hosts1CachedProbe?.p50ms, 'connect, cached probe');
    const f = report.figures.failover;
    assert.equal(f.samplesMs.length, report.config.failoverKills);
    for (const v of [f.p50ms, f.p99ms]) num(v, 'failover');
    const s = report.figures.scaling.rows;
    assert.deepEqual(
      s.map((r: Json) => r.members),
      [1, 2, 3],
    );
    for (const r of s) {
      for (const v of [r.opsPerSec, r.efficiency, r.cOpsPerSec, r.ratio, ...r.coresPerMember])
        num(v, `scaling ${r.members}`);
      assert.equal(r.coresPerMember.length, r.members);
    }
  });

  it('has a verdict for every target of the issue', () => {
    assert.ok(report.targets.length >= 20);
    for (const t of report.targets)
      assert.ok(['met', 'missed'].includes(t.verdict), `${t.figure}: ${t.verdict}`);
  });
});
