import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCapabilityCache } from '../adapters/pkcs11/file-capability-cache.js';
import type { MemberOptions } from '../adapters/pkcs11/member.js';
import { Pkcs11KeyManager, type Pkcs11KeyManagerOptions } from '../adapters/pkcs11/pkcs11-key-manager.js';
import type { CBaseline } from './c-baseline.js';
import type { BenchKey } from './keys.js';
import { median, pct, ratio, round } from './stats.js';

/** Cold starts of a member, `Pkcs11KeyManager.open()` until the first signature returns (ms). */
export interface ConnectStats {
  hostProcesses: number;
  samplesMs: number[];
  p50ms: number;
  p99ms: number;
  /** p50 of the parts: host spawn until logged in; the rest of open() (capability probe); the first signature. */
  partsP50ms: { spawnToLogin: number; capabilities: number; firstSign: number };
}

/** Connection setup: hsmkit's cold start next to the C baseline's dlopen-to-key-found. */
export interface ConnectFigure {
  /** One host process, as a deployment with `host_processes: 1` starts; the host probes the token. */
  hosts1: ConnectStats;
  /** One host process with a warm capability cache: the host reuses the cached probe (as the CLI does). */
  hosts1CachedProbe?: ConnectStats;
  /** Two host processes: usable after the first (the second starts in the background). */
  hosts2: ConnectStats;
  /** From source only: the host run under tsx instead of the esbuild bundle (before the change). */
  tsxHost: ConnectStats | null;
  c: { samples: number; p50ms: number; p99ms: number };
  p50Ratio: number;
}

async function coldStarts(
  member: MemberOptions,
  key: BenchKey,
  samples: number,
  opts: Pkcs11KeyManagerOptions = {},
): Promise<ConnectStats> {
  const total: number[] = [];
  const login: number[] = [];
  const caps: number[] = [];
  const first: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    const km = await Pkcs11KeyManager.open(member, opts);
    try {
      const opened = performance.now();
      await km.sign(key.request);
      const end = performance.now();
      total.push(end - t);
      // lastConnectMs is the first host while the second is still starting (it is started after open()).
      login.push(km.member.lastConnectMs);
      caps.push(opened - t - km.member.lastConnectMs);
      first.push(end - opened);
    } finally {
      await km.close();
    }
  }
  return {
    hostProcesses: member.hostProcesses ?? 1,
    samplesMs: total.map((x) => round(x, 1)),
    p50ms: round(median(total), 1),
    p99ms: round(pct(total, 0.99), 1),
    partsP50ms: {
      spawnToLogin: round(median(login), 1),
      capabilities: round(median(caps), 1),
      firstSign: round(median(first), 1),
    },
  };
}

/** Cold starts with a capability cache in a fresh directory, warmed by one open that is not counted. */
async function cachedProbeStarts(
  member: MemberOptions,
  key: BenchKey,
  samples: number,
): Promise<ConnectStats> {
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-bench-capcache-'));
  try {
    const capabilityCache = new FileCapabilityCache({ dir });
    await (await Pkcs11KeyManager.open(member, { capabilityCache })).close();
    return await coldStarts(member, key, samples, { capabilityCache });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `samples` cold starts with 1 and with 2 host processes (and under tsx when `compareTsx`). */
export async function connectFigure(
  member: (extra: Partial<MemberOptions>) => MemberOptions,
  c: CBaseline,
  key: BenchKey,
  samples: number,
  compareTsx: boolean,
): Promise<ConnectFigure> {
  const hosts1 = await coldStarts(member({ hostProcesses: 1 }), key, samples);
  const hosts2 = await coldStarts(member({ hostProcesses: 2 }), key, samples);
  const hosts1CachedProbe = await cachedProbeStarts(member({ hostProcesses: 1 }), key, samples);
  let tsxHost: ConnectStats | null = null;
  if (compareTsx) {
    process.env.HSMKIT_MEMBER_HOST_TSX = '1';
    try {
      tsxHost = await coldStarts(member({ hostProcesses: 1 }), key, Math.min(samples, 5));
    } finally {
      delete process.env.HSMKIT_MEMBER_HOST_TSX;
    }
  }
  while (c.setupUs.length < 3) await c.sign(key, { threads: 1, seconds: 0.05, warmupMs: 0 });
  const cMs = c.setupUs.map((u) => u / 1000);
  return {
    hosts1,
    hosts1CachedProbe,
    hosts2,
    tsxHost,
    c: { samples: cMs.length, p50ms: round(median(cMs), 2), p99ms: round(pct(cMs, 0.99), 2) },
    p50Ratio: ratio(hosts1.p50ms, median(cMs)),
  };
}
