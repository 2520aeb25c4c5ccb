/**
 * Shared pieces of the quick chaos set (issue 11): a `p11-kit server` this test starts and can
 * stop (SIGSTOP), continue and kill — only its own process group, by pid — plus a governed key
 * manager over a store, and the checks every fault must pass: every call answered exactly once,
 * one audit record per governed call, and an audit chain that verifies with the HSM audit key.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditRecord } from '../../src/audit/audit-record.js';
import { verifyChain } from '../../src/audit/verify-chain.js';
import { HsmError } from '../../src/errors/index.js';
import { type Governance, openGovernance } from '../../src/governance/open-governance.js';
import type { KeyManager } from '../../src/kms/key-manager.js';
import type { Store } from '../../src/store/store.js';
import { SOFTHSM_MODULE, type SoftHsmToken } from '../support/softhsm.js';

/** A `p11-kit server` over one SoftHSM token, in its own process group. */
export class ChaosP11KitServer {
  readonly socket: string;
  #child: ChildProcess | undefined;

  constructor(private readonly token: SoftHsmToken) {
    this.socket = join(token.dir, 'chaos-p11kit.sock');
  }

  /** Member environment that reaches this server. */
  get env(): Record<string, string> {
    return { P11_KIT_SERVER_ADDRESS: `unix:path=${this.socket}` };
  }

  /** Starts the server and waits for its socket. */
  async start(): Promise<void> {
    rmSync(this.socket, { force: true });
    this.#child = spawn(
      'p11-kit',
      [
        'server',
        '--foreground',
        '--provider',
        SOFTHSM_MODULE,
        '-n',
        this.socket,
        `pkcs11:token=${this.token.label}`,
      ],
      { env: { ...process.env, ...this.token.env }, stdio: 'ignore', detached: true },
    );
    const until = Date.now() + 10_000;
    while (!existsSync(this.socket)) {
      if (Date.now() > until) throw new Error('p11-kit server did not create its socket');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #signal(sig: NodeJS.Signals): void {
    const pid = this.#child?.pid;
    if (pid !== undefined && this.#child?.exitCode === null) process.kill(-pid, sig);
  }

  /** SIGSTOP to the server and its connection handlers: the network HSM hangs. */
  stop(): void {
    this.#signal('SIGSTOP');
  }

  /** SIGCONT: the hung network HSM answers again. */
  cont(): void {
    this.#signal('SIGCONT');
  }

  /** SIGKILL (after SIGCONT, so a stopped group dies at once). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    this.#signal('SIGCONT');
    this.#signal('SIGKILL');
    await exited;
  }
}

/** The bootstrap security policy of the chaos sessions. */
export const SECURITY = {
  minimumKeySize: {},
  keyAttributes: { extractable: false, persistent: true, sensitive: true },
};

/** A governed session over `inner` and `store`, as the CLI builds one. */
export function governed(inner: KeyManager, store: Store): Promise<Governance> {
  return openGovernance({ inner, db: store.db, security: SECURITY });
}

/** Outcome counts of a load run. */
export interface Tally {
  ok: number;
  /** Failures by code. */
  failed: Map<string, number>;
  /** Failures that were not an HsmError, or not retryable when they should be. */
  untyped: string[];
  /** Slowest single call (ms). */
  slowestMs: number;
}

/** Runs `call` and records its outcome in `t`. */
export async function tallied<T>(t: Tally, call: () => Promise<T>): Promise<T | undefined> {
  const started = performance.now();
  try {
    const v = await call();
    t.ok++;
    return v;
  } catch (err) {
    if (err instanceof HsmError) t.failed.set(err.code, (t.failed.get(err.code) ?? 0) + 1);
    else t.untyped.push(String(err));
    return undefined;
  } finally {
    t.slowestMs = Math.max(t.slowestMs, performance.now() - started);
  }
}

/** A fresh tally. */
export function tally(): Tally {
  return { ok: 0, failed: new Map(), untyped: [], slowestMs: 0 };
}

/** Total failures of a tally. */
export function failures(t: Tally): number {
  return [...t.failed.values()].reduce((a, b) => a + b, 0);
}

/**
 * Checks the audit log after a fault: one record per governed call (`ok` for each success,
 * `error` for each failure, per operation), and a chain that verifies, its checkpoints signed by
 * the HSM audit key. Returns the records.
 */
export async function assertAuditAccounts(
  g: Governance,
  expected: Record<string, { ok: number; error: number }>,
): Promise<AuditRecord[]> {
  const cp = await g.governor.checkpoint();
  assert.equal(cp, undefined, `the closing checkpoint failed: ${cp?.code}`);
  const records = await g.auditStore.list();
  const auditKey = await g.auditKey(false);
  const report = verifyChain(records, auditKey.publicKeyPem);
  assert.equal(report.ok, true, `audit chain: ${JSON.stringify(report.firstBreak)}`);
  assert.ok(report.checkpoints >= 1);
  for (const [operation, want] of Object.entries(expected)) {
    // The audit key's own creation (recorded by the first checkpoint) is not one of the caller's calls.
    const mine = records.filter((r) => r.operation === operation && r.keyUri !== auditKey.keyUri);
    const ok = mine.filter((r) => r.result === 'ok' && r.checkpoint === undefined).length;
    const error = mine.filter((r) => r.result === 'error').length;
    assert.deepEqual({ ok, error }, want, `audit records of ${operation}`);
  }
  return records;
}

/** Waits until `cond()` holds, polling every 20 ms, or fails after `ms`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
