import { Pkcs11KeyManager } from '../adapters/pkcs11/pkcs11-key-manager.js';
import { Pkcs11ReplicationCeremonyMember } from '../adapters/pkcs11/replication-ceremony.js';
import { ClusterKeyManager } from '../cluster/cluster-key-manager.js';
import { establishReplicationKey, REPLICATION_KEY_LABEL } from '../cluster/replication-ceremony.js';
import { Secret } from '../config/secret.js';
import type { BenchConfig } from './bench-config.js';
import { type BenchToken, createBenchToken } from './bench-token.js';
import type { CBaseline } from './c-baseline.js';
import { closedLoop } from './closed-loop.js';
import type { BenchKey } from './keys.js';
import { median, pct, ratio, round } from './stats.js';

/** Throughput with 1, 2 and 3 members of one module (one host process each). */
export interface ScalingFigure {
  key: string;
  rows: Array<{
    members: number;
    opsPerSec: number;
    /** ops/s ÷ (members × ops/s of one member). */
    efficiency: number;
    /** Cores each member's host used during the window (the machine has `cpus`). */
    coresPerMember: number[];
    parentCores: number;
    /** C with as many processes as members, on one token, just before. */
    cOpsPerSec: number;
    ratio: number;
  }>;
}

/** Member kill → every call in flight at the kill has returned a signature from the other member. */
export interface FailoverFigure {
  kills: number;
  samplesMs: number[];
  p50ms: number;
  p99ms: number;
  /** Calls that failed during the kills (0 is expected: each call fails over). */
  errors: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Up to three SoftHSM tokens (nodes) with a replication key, and the benchmark key on every one. */
export class BenchCluster {
  private constructor(
    readonly tokens: BenchToken[],
    private readonly key: BenchKey,
  ) {}

  static async create(n: number, key: BenchKey): Promise<BenchCluster> {
    const tokens = Array.from({ length: n }, (_, i) => createBenchToken(`bench-node${i}`));
    const so = await Promise.all(
      tokens.map((t, i) =>
        Pkcs11ReplicationCeremonyMember.open({
          ...t.member(),
          name: `node${i}`,
          pin: new Secret(t.soPin, 'bench'),
        }),
      ),
    );
    try {
      await establishReplicationKey(so);
    } finally {
      await Promise.all(so.map((m) => m.close()));
    }
    const bc = new BenchCluster(tokens, key);
    const cl = await bc.open(n);
    try {
      await cl.cluster.createKey({ label: key.label, type: key.type });
    } finally {
      await cl.close();
    }
    return bc;
  }

  /** A cluster of the first `n` nodes, each a failFast member with one host process. */
  async open(
    n: number,
  ): Promise<{ cluster: ClusterKeyManager; kms: Pkcs11KeyManager[]; close(): Promise<void> }> {
    const kms = await Promise.all(
      this.tokens.slice(0, n).map((t, i) =>
        Pkcs11KeyManager.open({
          ...t.member(),
          name: `node${i}`,
          failFast: true,
          operationTimeoutMs: 2000,
        }),
      ),
    );
    const cluster = new ClusterKeyManager(
      kms.map((km, i) => ({ name: `node${i}`, km })),
      { healthIntervalMs: 200, failoverTimeoutMs: 3000, replicationKeyLabel: REPLICATION_KEY_LABEL },
    );
    await cluster.start();
    return { cluster, kms, close: () => cluster.close() };
  }

  /** Throughput with 1..3 members, each next to C with as many processes. */
  async scaling(cfg: BenchConfig, c: CBaseline): Promise<ScalingFigure> {
    const rows: ScalingFigure['rows'] = [];
    let one = 0;
    for (let n = 1; n <= this.tokens.length; n++) {
      const cr = await c.sign(this.key, { processes: n, seconds: cfg.scalingSeconds });
      const cl = await this.open(n);
      try {
        const pidsOf = () => cl.kms.flatMap((k) => k.member.hostPids);
        const r = await closedLoop({
          call: async () => {
            await cl.cluster.sign(this.key.request);
            return 1;
          },
          callers: cfg.inFlight,
          warmupMs: cfg.warmupMs,
          windowMs: cfg.scalingSeconds * 1000,
          pids: pidsOf,
        });
        if (n === 1) one = r.opsPerSec;
        rows.push({
          members: n,
          opsPerSec: round(r.opsPerSec, 0),
          efficiency: ratio(r.opsPerSec, n * one),
          coresPerMember: r.cpu.others.map((x) => round(x, 2)),
          parentCores: round(r.cpu.parent, 2),
          cOpsPerSec: round(cr.opsPerSec, 0),
          ratio: ratio(r.opsPerSec, cr.opsPerSec),
        });
      } finally {
        await cl.close();
      }
    }
    return { key: this.key.name, rows };
  }

  /**
   * `kills` times: SIGKILL node0's host while 8 callers sign through a 2-member cluster, and take
   * the time until every call that was in flight at the kill has returned a signature (served by
   * node1, or by node0's fresh host). Waits for node0 to be back between kills.
   */
  async failover(kills: number): Promise<FailoverFigure> {
    const cl = await this.open(2);
    const samples: number[] = [];
    let errors = 0;
    let stop = false;
    let callers: Promise<void>[] = [];
    try {
      const inflight = new Map<number, number>();
      const waiting: Array<{ at: number; ids: Set<number>; done: () => void }> = [];
      let nextId = 0;
      const caller = async () => {
        while (!stop) {
          const id = nextId++;
          inflight.set(id, performance.now());
          try {
            await cl.cluster.sign(this.key.request);
          } catch {
            errors++;
          }
          inflight.delete(id);
          for (const w of waiting) {
            if (w.ids.delete(id) && w.ids.size === 0) w.done();
          }
        }
      };
      callers = Array.from({ length: 8 }, caller);
      for (let k = 0; k < kills; k++) {
        await waitFor(
          () => cl.kms[0]!.member.hostPids.length === 1 && cl.cluster.members[0]!.available,
          30_000,
        );
        await sleep(150);
        const pid = cl.kms[0]!.member.hostPids[0]!;
        const ids = new Set(inflight.keys());
        const at = performance.now();
        const recovered = new Promise<void>((done) =>
          ids.size === 0 ? done() : waiting.push({ at, ids, done }),
        );
        process.kill(pid, 'SIGKILL');
        await Promise.race([recovered, sleep(10_000)]);
        samples.push(performance.now() - at);
        waiting.length = 0;
        // The calls can fail over before the member has seen its host exit; the next round must
        // not take the dead host for a live one.
        await waitFor(
          () => !cl.kms[0]!.member.hostPids.includes(pid),
          10_000,
          'the member did not see its host exit',
        );
      }
    } finally {
      // Also when a kill went wrong: the callers must stop before the cluster closes, or they
      // would spin on its immediate rejections.
      stop = true;
      await Promise.all(callers);
      await cl.close();
    }
    return {
      kills,
      samplesMs: samples.map((x) => round(x, 1)),
      p50ms: round(median(samples), 1),
      p99ms: round(pct(samples, 0.99), 1),
      errors,
    };
  }

  cleanup(): void {
    for (const t of this.tokens) t.cleanup();
  }
}

async function waitFor(
  cond: () => boolean,
  ms: number,
  what = 'cluster member did not come back',
): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(what);
    await sleep(20);
  }
}
