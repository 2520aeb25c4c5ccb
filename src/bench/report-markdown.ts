import type { BenchReport } from './targets.js';

const f = (x: number | null | undefined, d = 0) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** The run as markdown: targets first, then every figure with its C baseline and ratio. */
export function benchMarkdown(r: BenchReport): string {
  const o: string[] = [];
  const m = r.machine;
  const fig = r.figures;
  o.push(`# hsmkit benchmark${r.quick ? ' (--quick: fewer samples, shorter windows)' : ''}`, '');
  o.push(
    `${r.date} · ${m.cpus} × ${m.cpuModel} · Node ${m.node} · SoftHSM ${m.softhsm} · ${r.durationSeconds} s · ` +
      `load average (1/5/15 min) ${m.loadAverage.start.join(' / ')} at start, ${m.loadAverage.end.join(' / ')} at end · ` +
      `${m.fromSource ? 'from source (tsx)' : 'from dist/'}`,
    '',
    'Every ratio is hsmkit ÷ the raw C PKCS#11 loop (bench/baseline/p11-sign.c) on the same token and key, measured in this run.',
    '',
  );
  if (r.disturbed)
    o.push(
      '> **Disturbed run:** in some library throughput round the C baseline with 2 processes got under 1.6 cores of the 2, so other work was using the machine. Absolute figures of this run are low; the ratios to the same-round baseline are what counts, and even they are noisy.',
      '',
    );
  const failed = Object.entries(r.failures);
  if (failed.length > 0) {
    o.push('**Sections that failed:**', '');
    for (const [k, v] of failed) o.push(`- ${k}: ${v}`);
    o.push('');
  }
  o.push(
    '## Targets',
    '',
    '| Figure | Target | Measured | Baseline | Ratio | Verdict |',
    '|---|---|---|---|--:|---|',
  );
  for (const t of r.targets)
    o.push(`| ${t.figure} | ${t.target} | ${t.measured} | ${t.baseline} | ${t.ratio} | **${t.verdict}** |`);
  o.push('');
  if (fig.throughput) {
    o.push(
      `## Library throughput (${r.config.hostProcesses} host processes, ${r.config.inFlight} callers, ${r.config.throughputRounds} × ${r.config.throughputSeconds} s)`,
      '',
      '| Key | hsmkit sig/s | p50 / p99 ms | C sig/s (mode) | C p50 / p99 ms | **ratio** | per round | cores hsmkit / C | errors |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const t of fig.throughput)
      o.push(
        `| ${t.key} | ${f(t.hsmkit.opsPerSec)} | ${f(t.hsmkit.p50ms, 2)} / ${f(t.hsmkit.p99ms, 2)} | ${f(t.c.opsPerSec)} (${t.c.mode}) | ${f(t.c.p50ms, 3)} / ${f(t.c.p99ms, 3)} | **${f(t.ratio, 2)}** | ${t.perRound.map((p) => f(p.ratio, 2)).join(', ')} | ${f(t.hsmkit.cpuCores, 2)} / ${f(t.c.cpuCores, 2)} | ${t.hsmkit.errors} |`,
      );
    o.push('');
    const sat = fig.throughput.filter((t) => t.saturation);
    if (sat.length) {
      o.push(
        `### Latency at full load (${sat[0]!.saturation!.callers} callers: 2 per host process, every session busy, no queue beyond one call)`,
        '',
        `With ${r.config.inFlight} callers the latency above is mostly queueing (callers ÷ rate). Here each session always has one call in the token and the next waiting.`,
        '',
        '| Key | sig/s | share of the rate above | p50 / p99 ms | C p50 / p99 ms (2 workers) |',
        '|---|--:|--:|--:|--:|',
      );
      for (const t of sat) {
        const s = t.saturation!;
        o.push(
          `| ${t.key} | ${f(s.opsPerSec)} | ${f((100 * s.opsPerSec) / t.hsmkit.opsPerSec)} % | ${f(s.p50ms, 2)} / ${f(s.p99ms, 2)} | ${f(t.c.p50ms, 3)} / ${f(t.c.p99ms, 3)} |`,
        );
      }
      o.push('');
    }
  }
  if (fig.batch) {
    o.push(
      `## signBatch (${r.config.batchItems} per call, ${r.config.batchCallers} calls in flight)`,
      '',
      '| Key | hsmkit sig/s | call p50 / p99 ms | C sig/s (mode) | **ratio** |',
      '|---|--:|--:|--:|--:|',
    );
    for (const t of fig.batch)
      o.push(
        `| ${t.key} | ${f(t.hsmkit.opsPerSec)} | ${f(t.hsmkit.p50ms, 1)} / ${f(t.hsmkit.p99ms, 1)} | ${f(t.c.opsPerSec)} (${t.c.mode}) | **${f(t.ratio, 2)}** |`,
      );
    o.push('');
  }
  if (fig.http) {
    o.push(
      `## HTTP through \`hsmkit serve --tls\` (mutual TLS, ${r.config.hostProcesses} host processes), load generator in its own process, ${r.config.httpSeconds} s per key`,
      '',
      '| Key | Route | items/request | connections | signatures/s | requests/s | request p50 / p99 ms | C sig/s (mode) | **ratio** | service event loop p99 ms | errors |',
      '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const h of fig.http)
      o.push(
        `| ${h.key} | ${h.route} | ${h.itemsPerRequest} | ${h.connections} | ${f(h.hsmkit.signaturesPerSec)} | ${f(h.hsmkit.requestsPerSec, 1)} | ${f(h.hsmkit.p50ms, 1)} / ${f(h.hsmkit.p99ms, 1)} | ${f(h.c.opsPerSec)} (${h.c.mode}) | **${f(h.ratio, 2)}** | ${f(h.hsmkit.eventLoopP99ms, 1)} | ${h.hsmkit.errors} |`,
      );
    o.push(
      '',
      'Batch items are digests (P-256, RSA-2048) or messages (Ed25519: EdDSA signs the message). `POST /v1/sign` rows: one signature per request, what a client that does not batch gets.',
      '',
    );
  }
  if (fig.memory) {
    const x = fig.memory;
    o.push(
      '## Memory of the service',
      '',
      `${f(x.signatures)} signatures (P-256, batches of ${r.config.batchItems}) in ${f(x.seconds)} s after the HTTP runs${x.signatures < 1_000_000 ? ' (fewer than the 1 M of the issue: a quick run or --memory-signatures)' : ''}: RSS ${f(x.rssBeforeMb, 1)} MB before, ${f(x.rssAfterMb, 1)} MB after (×${f(x.growth, 2)}); peak RSS (VmHWM) ${f(x.peakRssMb, 1)} MB.`,
      '',
    );
  }
  if (fig.latency) {
    o.push(
      '## Single-caller latency (one caller, sequential)',
      '',
      '| Key | hsmkit p50 / p99 µs | C 1 thread p50 / p99 µs | p50 ratio |',
      '|---|--:|--:|--:|',
    );
    for (const l of fig.latency)
      o.push(
        `| ${l.key} | ${f(l.hsmkit.p50us)} / ${f(l.hsmkit.p99us)} | ${f(l.c.p50us)} / ${f(l.c.p99us)} | ${f(l.p50Ratio, 2)} |`,
      );
    o.push('');
  }
  if (fig.keygen) {
    o.push(
      '## Key generation (seconds)',
      '',
      '| Type | samples | hsmkit p50 | p90 | max | C p50 | C p90 | C max | p50 ratio |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    );
    for (const k of fig.keygen)
      o.push(
        `| ${k.type} | ${k.hsmkit.samplesSeconds.length} | ${f(k.hsmkit.p50, 3)} | ${f(k.hsmkit.p90, 3)} | ${f(k.hsmkit.max, 3)} | ${f(k.c?.p50, 3)} | ${f(k.c?.p90, 3)} | ${f(k.c?.max, 3)} | ${f(k.p50Ratio, 2)} |`,
      );
    o.push('', 'The C baseline generates RSA only; EC and EdDSA have no C figure.', '');
  }
  if (fig.connect) {
    const c = fig.connect;
    o.push(
      '## Connection setup: `Pkcs11KeyManager.open()` until the first signature (ms)',
      '',
      '| | samples | p50 | p99 |',
      '|---|--:|--:|--:|',
    );
    o.push(
      `| hsmkit, 1 host process, probe | ${c.hosts1.samplesMs.length} | ${f(c.hosts1.p50ms)} | ${f(c.hosts1.p99ms)} |`,
    );
    if (c.hosts1CachedProbe)
      o.push(
        `| hsmkit, 1 host process, cached probe | ${c.hosts1CachedProbe.samplesMs.length} | ${f(c.hosts1CachedProbe.p50ms)} | ${f(c.hosts1CachedProbe.p99ms)} |`,
      );
    o.push(
      `| hsmkit, 2 host processes (second starts in the background) | ${c.hosts2.samplesMs.length} | ${f(c.hosts2.p50ms)} | ${f(c.hosts2.p99ms)} |`,
    );
    if (c.tsxHost)
      o.push(
        `| hsmkit, 1 host under tsx (before the change) | ${c.tsxHost.samplesMs.length} | ${f(c.tsxHost.p50ms)} | ${f(c.tsxHost.p99ms)} |`,
      );
    o.push(
      `| C: dlopen + C_Initialize + login + key lookup | ${c.c.samples} | ${f(c.c.p50ms, 1)} | ${f(c.c.p99ms, 1)} |`,
      '',
    );
  }
  if (fig.scaling) {
    o.push(
      `## Cluster scaling (${fig.scaling.key}, one host process per member, ${r.config.inFlight} callers, machine has ${m.cpus} cores)`,
      '',
      '| Members | sig/s | efficiency | cores per member | parent cores | C sig/s (as many processes) | ratio |',
      '|--:|--:|--:|---|--:|--:|--:|',
    );
    for (const s of fig.scaling.rows)
      o.push(
        `| ${s.members} | ${f(s.opsPerSec)} | ${f(s.efficiency, 2)} | ${s.coresPerMember.map((x) => f(x, 2)).join(', ')} | ${f(s.parentCores, 2)} | ${f(s.cOpsPerSec)} | ${f(s.ratio, 2)} |`,
      );
    o.push('', 'Efficiency = ops/s ÷ (members × ops/s of one member).', '');
  }
  if (fig.failover) {
    const x = fig.failover;
    o.push(
      '## Failover',
      '',
      `${x.kills} SIGKILLs of a member's host in a 2-member cluster under load (8 callers): time until every call in flight at the kill returned a signature. p50 ${f(x.p50ms)} ms, p99 ${f(x.p99ms)} ms; failed calls ${x.errors}. Samples: ${x.samplesMs.map((s) => f(s)).join(', ')}.`,
      '',
    );
  }
  return `${o.join('\n')}\n`;
}
