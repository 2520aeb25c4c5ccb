import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { HsmError, type HsmErrorJson } from '../../errors/index.js';
import { hostEntry } from './host-entry.js';
import { encodeFrame, FrameDecoder } from './ipc/framing.js';
import { decodeBatch, type Entry, encodeBatch, type Op, opCode } from './ipc/messages.js';
import type { InitHeader, ReadyHeader } from './ipc/protocol.js';

/** An operation waiting for, or in, a member host. */
export interface PendingCall {
  id: number;
  op: Op;
  header: unknown;
  body?: Uint8Array;
  /** Safe to run again after a crash (sign, read): retried once on a fresh host. */
  idempotent: boolean;
  retried: boolean;
  /** Absolute deadline (Date.now() ms). */
  deadline: number;
  /** Timeout budget of one attempt, in ms. */
  timeoutMs: number;
  resolve(result: { header: unknown; body?: Uint8Array }): void;
  reject(err: HsmError): void;
}

/** How a host process ended. */
export interface HostExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Calls that were in the host when it died. */
  inflight: PendingCall[];
  /** True when hsmkit killed it for not answering in time. */
  timedOut: boolean;
}

/**
 * One member-host child process seen from the parent: spawns it with the member's own
 * environment, sends the init message, then carries batches of calls over a socketpair.
 * Emits 'exit' (HostExit) once, however it ends.
 */
export class MemberHostProcess extends EventEmitter {
  readonly inflight = new Map<number, PendingCall>();
  /** Batches written and not yet answered, each with its timer. */
  private readonly batches: Array<{ ids: number[]; timer: NodeJS.Timeout; long: boolean }> = [];
  private readonly decoder = new FrameDecoder();
  private readonly sock: Socket;
  private exited = false;
  private timedOut = false;
  ready!: ReadyHeader;

  private constructor(
    readonly member: string,
    readonly child: ChildProcess,
  ) {
    super();
    this.sock = child.stdio[3] as Socket;
    this.sock.on('data', (chunk: Buffer) => this.onData(chunk));
    this.sock.on('error', () => this.child.kill('SIGKILL'));
    child.on('exit', (code, signal) => this.onExit(code, signal));
  }

  /** Spawns a host and waits until it has logged in (or failed to), within `timeoutMs`. */
  static start(init: InitHeader, env: Record<string, string>, timeoutMs: number): Promise<MemberHostProcess> {
    const entry = hostEntry();
    const child = spawn(process.execPath, [...entry.execArgv, entry.script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
    });
    const host = new MemberHostProcess(init.member, child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new HsmError('HSM_ERR_TIMEOUT', `member host did not start within ${timeoutMs} ms`, {
            member: init.member,
          }),
        );
      }, timeoutMs);
      const onEarlyExit = (exit: HostExit) => {
        clearTimeout(timer);
        reject(
          new HsmError(
            'HSM_ERR_MEMBER_CRASHED',
            `member host exited during start-up (${describeExit(exit)})`,
            { member: init.member },
          ),
        );
      };
      host.once('exit', onEarlyExit);
      host.send([
        {
          id: 0,
          op: 'init',
          header: init,
          idempotent: false,
          retried: false,
          deadline: Date.now() + timeoutMs,
          timeoutMs,
          resolve: (r) => {
            clearTimeout(timer);
            host.off('exit', onEarlyExit);
            host.ready = r.header as ReadyHeader;
            resolve(host);
          },
          reject: (e) => {
            clearTimeout(timer);
            host.off('exit', onEarlyExit);
            child.kill('SIGKILL');
            reject(e);
          },
        },
      ]);
    });
  }

  /** Process id of the host. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Whether the host is still running. */
  get alive(): boolean {
    return !this.exited;
  }

  /** Batches sent and not yet answered. */
  get pendingBatches(): number {
    return this.batches.length;
  }

  /** True while a long operation (key generation) occupies the host. */
  get busyWithLongOp(): boolean {
    return this.batches.some((b) => b.long);
  }

  /** Writes one batch; its calls are answered together. A batch unanswered past its budget kills the host. */
  send(calls: PendingCall[]): void {
    const entries: Entry[] = calls.map((c) => {
      this.inflight.set(c.id, c);
      return c.body === undefined
        ? { id: c.id, tag: opCode(c.op), header: c.header }
        : { id: c.id, tag: opCode(c.op), header: c.header, body: c.body };
    });
    const budget = Math.max(...calls.map((c) => c.timeoutMs));
    const timer = setTimeout(() => this.onBatchTimeout(), budget);
    timer.unref();
    this.batches.push({
      ids: calls.map((c) => c.id),
      timer,
      long: calls.some((c) => c.op === 'generateKeyPair'),
    });
    this.sock.write(encodeFrame(encodeBatch(entries)));
  }

  /** Kills the host (SIGKILL unless another signal is given). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** Asks the host to exit after finishing its work: closes the socket and waits. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.once('exit', () => resolve()));
    this.sock.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await done;
    clearTimeout(timer);
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch {
      this.kill();
      return;
    }
    for (const frame of frames) {
      const batch = this.batches.shift();
      if (batch) clearTimeout(batch.timer);
      let entries: Entry[];
      try {
        entries = decodeBatch(frame);
      } catch {
        this.kill();
        return;
      }
      for (const e of entries) {
        const call = this.inflight.get(e.id);
        if (!call) continue;
        this.inflight.delete(e.id);
        if (e.tag === 1)
          call.resolve(e.body === undefined ? { header: e.header } : { header: e.header, body: e.body });
        else call.reject(HsmError.fromJSON(e.header as HsmErrorJson));
      }
    }
    this.emit('drain');
  }

  private onBatchTimeout(): void {
    // The token stopped answering (hung HSM, SIGSTOPped host): a PKCS#11 call cannot be cancelled,
    // so the only way to free the member is a fresh host.
    this.timedOut = true;
    this.kill();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    for (const b of this.batches) clearTimeout(b.timer);
    this.batches.length = 0;
    const inflight = [...this.inflight.values()];
    this.inflight.clear();
    this.emit('exit', { code, signal, inflight, timedOut: this.timedOut } satisfies HostExit);
  }
}

/** "signal SIGKILL" or "code 3", for messages. */
export function describeExit(exit: Pick<HostExit, 'code' | 'signal'>): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
