import { EventEmitter } from 'node:events';
import type { Secret } from '../../config/secret.js';
import { HsmError } from '../../errors/index.js';
import type { Op } from './ipc/messages.js';
import type { InitHeader } from './ipc/protocol.js';
import { type SymbolBinding, type SymbolPlan, symbolPlan } from './isolating-loader.js';
import { describeExit, type HostExit, MemberHostProcess, type PendingCall } from './member-host-process.js';

/** Everything needed to run one member: a PKCS#11 module plus a token. */
export interface MemberOptions {
  /** Member name, used in errors, logs and metrics. */
  name: string;
  /** Path of the PKCS#11 library. */
  module: string;
  /** Slot id; or use tokenLabel. */
  slot?: number;
  /** Token label; the usual way to pick the token. */
  tokenLabel?: string;
  /** User PIN. Absent for tokens that need no login. */
  pin?: Secret;
  /** Login role. Default user. */
  userType?: 'user' | 'so' | 'crypto_officer';
  /** Environment of the host process (SOFTHSM2_CONF, P11_KIT_SERVER_ADDRESS, …). */
  env?: Record<string, string>;
  /** NSS-style C_Initialize parameters. */
  initArgs?: string;
  /** Vendor profile id (config `provider:`); absent: detected from the module's own information. */
  provider?: string;
  /** Host processes on this token; one per core is the most useful. Default 1. */
  hostProcesses?: number;
  /** Operation sessions per host. Default 4. */
  poolSize?: number;
  /** Budget for one operation. Default 5000 ms. */
  operationTimeoutMs?: number;
  /** Budget for key generation (RSA-8192 takes 20 s on SoftHSM). Default 120000 ms. */
  keygenTimeoutMs?: number;
  /** Most calls in one IPC batch. Default 64. */
  batchSize?: number;
  /** Use async PKCS#11 calls across the session pool (network HSMs). Default false. */
  asyncOperations?: boolean;
  /**
   * How the module's symbols bind in the host (isolating-loader.ts). Default `isolated`, falling
   * back to `global` (reported in the description) when the shim cannot be built; an explicit
   * `isolated` without a shim is HSM_ERR_CONFIG.
   */
  symbols?: SymbolBinding;
  /** Budget for a host to start and log in. Default 15000 ms. */
  startTimeoutMs?: number;
  /**
   * Fail fast instead of waiting for this member's own respawn: calls in a dead host and calls
   * made while no host runs are rejected at once (retryable), so a cluster can fail over to
   * another member. Default false (a lone member waits for its respawn).
   */
  failFast?: boolean;
}

/** Member state as the rest of hsmkit sees it. */
export type MemberState = 'starting' | 'up' | 'degraded' | 'down' | 'auth_failed' | 'closed';

/** Per-call options. */
export interface CallOptions {
  idempotent?: boolean;
  timeoutMs?: number;
}

const MAX_BATCHES_PER_HOST = 2;
const MAX_BACKOFF_MS = 5000;

/**
 * A PKCS#11 member: several host processes on one token, a batching dispatcher in front of them,
 * crash detection with respawn, and per-call deadlines. Calls made in the same tick are sent as
 * one batch; a host holds at most two batches so the next one is ready when it finishes.
 *
 * When a host dies, idempotent calls in it (sign, reads) are retried once on a fresh host; the
 * rest fail with HSM_ERR_MEMBER_CRASHED, which is retryable. A refused PIN stops the member
 * (state auth_failed): no further login is attempted, so the token is never locked by hsmkit.
 */
export class Pkcs11Member extends EventEmitter {
  readonly name: string;
  private readonly hosts: Array<MemberHostProcess | undefined>;
  private readonly queue: PendingCall[] = [];
  private readonly backoff: number[];
  private nextId = 1;
  private flushScheduled = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  private authError: HsmError | undefined;
  private closing = false;
  private _state: MemberState = 'starting';
  /** Host restarts since start. */
  restarts = 0;
  /** Milliseconds the last host took from spawn to logged in. */
  lastConnectMs = 0;
  /** Start of the second and later hosts, in the background after start(). */
  private laterHosts: Promise<void> = Promise.resolve();
  private laterHostsStarted = false;
  /** How hosts load the module, decided at the first host start. */
  private plan: SymbolPlan | undefined;

  constructor(readonly options: MemberOptions) {
    super();
    this.name = options.name;
    const n = options.hostProcesses ?? 1;
    this.hosts = new Array(n).fill(undefined);
    this.backoff = new Array(n).fill(0);
  }

  /** Current state. */
  get state(): MemberState {
    return this._state;
  }

  /** Pids of the running host processes (tests kill them; operators look them up). */
  get hostPids(): number[] {
    return this.hosts.filter((h): h is MemberHostProcess => h?.alive === true).map((h) => h.pid);
  }

  /** The capability-probe fingerprint a running host reported at start (for the probe cache). */
  get probeFingerprint(): string | undefined {
    return this.hosts.find((h) => h?.alive === true && h.ready?.probeFingerprint !== undefined)?.ready
      .probeFingerprint;
  }

  /** Indexes of the running host processes. */
  get hostIndexes(): number[] {
    return this.hosts.flatMap((h, i) => (h?.alive ? [i] : []));
  }

  /** Calls waiting for a host plus calls inside hosts. */
  get load(): number {
    return this.queue.length + this.hosts.reduce((n, h) => n + (h?.inflight.size ?? 0), 0);
  }

  /**
   * Starts the first host and returns once it is logged in: the member is usable from then on.
   * The other hosts start after it in the background, one after another (two processes
   * initialising one SoftHSM file token at the same moment can fail, DESIGN.md); one that fails
   * retries with backoff. Fails if the first cannot start. {@link allHostsStarted} waits for the rest.
   * `deferLaterHosts`: the caller starts them with {@link startLaterHosts} (Pkcs11KeyManager does,
   * after the connect-time capability probe, so their start-up does not compete with it for CPU).
   */
  async start(opts: { deferLaterHosts?: boolean } = {}): Promise<void> {
    try {
      await this.spawnHost(0);
    } catch (err) {
      await this.close();
      throw err;
    }
    this.setState('up');
    if (!opts.deferLaterHosts) this.startLaterHosts();
  }

  /** Starts the second and later hosts in the background (once; start() does it unless deferred). */
  startLaterHosts(): void {
    if (this.laterHostsStarted) return;
    this.laterHostsStarted = true;
    this.laterHosts = this.spawnLaterHosts();
  }

  /** Resolves when every host has had its first start attempt (those that failed retry with backoff). */
  allHostsStarted(): Promise<void> {
    return this.laterHosts;
  }

  private async spawnLaterHosts(): Promise<void> {
    for (let i = 1; i < this.hosts.length && !this.closing && !this.authError; i++) {
      try {
        await this.spawnHost(i);
      } catch (err) {
        // A refused PIN or a bad configuration is final (failAuth already stopped the member).
        if (HsmError.is(err, 'HSM_ERR_AUTH', 'HSM_ERR_PIN_LOCKED', 'HSM_ERR_CONFIG')) return;
        this.scheduleRespawn(i);
      }
    }
  }

  /** Sends one operation to a host and resolves with its answer. */
  call(
    op: Op,
    header: unknown,
    body?: Uint8Array,
    opts: CallOptions = {},
  ): Promise<{ header: unknown; body?: Uint8Array }> {
    if (this.closing)
      return Promise.reject(
        new HsmError('HSM_ERR_UNAVAILABLE', `member ${this.name} is closed`, { member: this.name }),
      );
    if (this.authError) return Promise.reject(this.authError);
    if (this.options.failFast && this._state === 'down') {
      return Promise.reject(
        new HsmError('HSM_ERR_UNAVAILABLE', `member ${this.name} has no running host`, { member: this.name }),
      );
    }
    const timeoutMs = opts.timeoutMs ?? this.options.operationTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const call: PendingCall = {
        id: this.nextId++ >>> 0,
        op,
        header,
        idempotent: opts.idempotent ?? false,
        retried: false,
        deadline: Date.now() + timeoutMs,
        timeoutMs,
        resolve,
        reject: (err) => {
          // A PIN refused mid-life (re-login after a token reset) stops the member for good, so a
          // respawned host does not try the same PIN again.
          if (HsmError.is(err, 'HSM_ERR_AUTH', 'HSM_ERR_PIN_LOCKED') && !this.authError) this.failAuth(err);
          reject(err);
        },
      };
      if (body !== undefined) call.body = body;
      this.queue.push(call);
      this.scheduleFlush();
    });
  }

  /**
   * Sends a read-only `op` (e.g. `stats`) to every running host, outside the batching queue, and
   * returns the answers by host index. Hosts generating a key are skipped rather than queued
   * behind: a late answer would trip the batch timer and kill the host mid-keygen.
   */
  async callEachHost(op: Op, header?: unknown): Promise<Map<number, unknown>> {
    const out = new Map<number, unknown>();
    if (this.closing || this.authError) return out;
    const timeoutMs = this.options.operationTimeoutMs ?? 5000;
    await Promise.all(
      this.hosts.map(async (host, index) => {
        if (!host?.alive || host.busyWithLongOp) return;
        const answer = await new Promise<{ header: unknown }>((resolve, reject) =>
          host.send([
            {
              id: this.nextId++ >>> 0,
              op,
              header,
              idempotent: true,
              retried: true,
              deadline: Date.now() + timeoutMs,
              timeoutMs,
              resolve,
              reject,
            },
          ]),
        ).catch(() => undefined);
        if (answer) out.set(index, answer.header);
      }),
    );
    return out;
  }

  /** Stops every host and fails what is still queued. */
  async close(): Promise<void> {
    this.closing = true;
    this.setState('closed');
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const t of this.respawnTimers) clearTimeout(t);
    this.respawnTimers.clear();
    for (const c of this.queue.splice(0))
      c.reject(new HsmError('HSM_ERR_UNAVAILABLE', `member ${this.name} closed`, { member: this.name }));
    // A host still starting in the background stops itself once started (spawnHost checks closing).
    await this.laterHosts;
    await Promise.all(this.hosts.map((h) => h?.stop()));
  }

  private async spawnHost(index: number): Promise<void> {
    const o = this.options;
    this.plan ??= symbolPlan(o.module, o.symbols, o.name);
    const init: InitHeader = {
      member: o.name,
      module: o.module,
      userType: o.userType ?? 'user',
      poolSize: o.poolSize ?? 4,
      asyncOperations: o.asyncOperations ?? false,
      reloadIntervalMs: 1000,
      symbols: this.plan.symbols,
    };
    if (this.plan.loadPath !== undefined) init.loadPath = this.plan.loadPath;
    if (this.plan.note !== undefined) init.symbolsNote = this.plan.note;
    if (o.slot !== undefined) init.slot = o.slot;
    if (o.tokenLabel !== undefined) init.tokenLabel = o.tokenLabel;
    if (o.pin !== undefined) init.pin = o.pin.reveal();
    if (o.initArgs !== undefined) init.initArgs = o.initArgs;
    if (o.provider !== undefined) init.provider = o.provider;
    const started = performance.now();
    let host: MemberHostProcess;
    try {
      // The shim's env goes to this member's hosts only; the configured env stays what is reported.
      host = await MemberHostProcess.start(init, { ...o.env, ...this.plan.env }, o.startTimeoutMs ?? 15000);
    } catch (err) {
      if (HsmError.is(err, 'HSM_ERR_AUTH', 'HSM_ERR_PIN_LOCKED')) this.failAuth(err as HsmError);
      throw err;
    }
    this.lastConnectMs = performance.now() - started;
    if (this.closing) {
      await host.stop();
      return;
    }
    this.hosts[index] = host;
    this.backoff[index] = 0;
    host.on('drain', () => this.scheduleFlush());
    host.once('exit', (exit: HostExit) => this.onHostExit(index, host, exit));
    this.emit('host-up', { index, pid: host.pid });
    this.scheduleFlush();
  }

  private onHostExit(index: number, host: MemberHostProcess, exit: HostExit): void {
    if (this.hosts[index] === host) this.hosts[index] = undefined;
    this.emit('host-exit', { index, pid: host.pid, ...exit, inflight: exit.inflight.length });
    const retry: PendingCall[] = [];
    for (const call of exit.inflight) {
      if (exit.timedOut) {
        call.reject(
          new HsmError(
            'HSM_ERR_TIMEOUT',
            `no answer from the HSM within ${call.timeoutMs} ms; member host restarted`,
            { member: this.name },
          ),
        );
      } else if (call.idempotent && !call.retried && !this.closing && !this.options.failFast) {
        call.retried = true;
        retry.push(call);
      } else {
        call.reject(
          new HsmError(
            'HSM_ERR_MEMBER_CRASHED',
            `member host died (${describeExit(exit)}) with the request in flight`,
            {
              member: this.name,
            },
          ),
        );
      }
    }
    // Retried calls go first: they were accepted before anything still queued.
    this.queue.unshift(...retry);
    if (this.closing) return;
    if (this.hostPids.length === 0) {
      this.setState('down');
      if (this.options.failFast) this.rejectQueued();
    }
    this.scheduleRespawn(index);
    this.scheduleFlush();
  }

  private scheduleRespawn(index: number): void {
    if (this.closing || this.authError) return;
    const delay = this.backoff[index]!;
    this.backoff[index] = Math.min(MAX_BACKOFF_MS, delay === 0 ? 100 : delay * 2);
    this.restarts++;
    // Not unref'd: callers waiting for the respawn must keep the process alive. close() clears it.
    const timer = setTimeout(() => {
      this.respawnTimers.delete(timer);
      if (this.closing || this.hosts[index]) return;
      this.spawnHost(index).then(
        () => this.setState(this.hostPids.length === this.hosts.length ? 'up' : 'degraded'),
        (err) => {
          this.emit('host-start-failed', { index, error: err });
          this.scheduleRespawn(index);
        },
      );
    }, delay);
    this.respawnTimers.add(timer);
    this.ensureSweep();
  }

  private rejectQueued(): void {
    for (const c of this.queue.splice(0)) {
      c.reject(
        new HsmError('HSM_ERR_UNAVAILABLE', `member ${this.name} has no running host`, { member: this.name }),
      );
    }
  }

  private failAuth(err: HsmError): void {
    this.authError = err;
    this.setState('auth_failed');
    for (const c of this.queue.splice(0)) c.reject(err);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Hands queued calls to the least busy hosts, in batches. */
  private flush(): void {
    const batchSize = this.options.batchSize ?? 64;
    while (this.queue.length > 0) {
      const host = this.pickHost();
      if (!host) break;
      // Share the queue among the hosts that are free now: one batch of everything would keep a
      // second host idle whenever the calls in flight fit in one batch (measured: 0.4-0.5 × C with
      // 2 hosts, one of them never used).
      const free = Math.max(1, this.hosts.filter((h) => h?.alive && h.pendingBatches === 0).length);
      const share = Math.min(batchSize, Math.ceil(this.queue.length / free));
      const batch: PendingCall[] = [];
      while (batch.length < share && this.queue.length > 0) {
        const next = this.queue[0]!;
        // Key generation goes alone, so it never holds a batch of signatures behind it.
        if (next.op === 'generateKeyPair' && batch.length > 0) break;
        batch.push(this.queue.shift()!);
        if (next.op === 'generateKeyPair') break;
      }
      host.send(batch);
    }
    if (this.queue.length > 0) this.ensureSweep();
  }

  private pickHost(): MemberHostProcess | undefined {
    let best: MemberHostProcess | undefined;
    for (const h of this.hosts) {
      if (!h?.alive || h.pendingBatches >= MAX_BATCHES_PER_HOST) continue;
      // Prefer a host not stuck in a key generation; fall back to one if it is all we have.
      if (
        !best ||
        (best.busyWithLongOp && !h.busyWithLongOp) ||
        (best.busyWithLongOp === h.busyWithLongOp && h.inflight.size < best.inflight.size)
      ) {
        best = h;
      }
    }
    if (best?.busyWithLongOp && this.queue[0]?.op !== 'generateKeyPair') {
      const free = this.hosts.some((h) => h?.alive && !h.busyWithLongOp);
      if (free) return undefined;
    }
    return best;
  }

  /** While calls wait, fail the ones whose deadline has passed. */
  private ensureSweep(): void {
    if (this.sweepTimer || this.closing) return;
    this.sweepTimer = setInterval(() => {
      const now = Date.now();
      for (let i = this.queue.length - 1; i >= 0; i--) {
        const c = this.queue[i]!;
        if (c.deadline <= now) {
          this.queue.splice(i, 1);
          c.reject(
            new HsmError(
              'HSM_ERR_UNAVAILABLE',
              `member ${this.name} could not serve the request within ${c.timeoutMs} ms`,
              { member: this.name },
            ),
          );
        }
      }
      if (this.queue.length === 0) {
        clearInterval(this.sweepTimer);
        this.sweepTimer = undefined;
      }
    }, 25);
  }

  private setState(state: MemberState): void {
    if (this._state === state) return;
    const from = this._state;
    this._state = state;
    this.emit('state', { from, to: state });
  }
}
