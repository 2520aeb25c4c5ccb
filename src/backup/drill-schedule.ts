/**
 * Scheduled recovery drills. `runDrillOnce` is the duty (load the backup, restore it into the
 * staging drill member, sign with every key against the recorded public keys, delete what it
 * restored, measure against the RTO); `DrillScheduler` runs it every interval through a timer seam
 * and hands each result to the caller (metrics and alerts live in the service, not here). The duty
 * is a plain function so a cluster-wide lock can wrap it later when several instances run.
 *
 * Why a drill member and not a scratch token with custodian shares: an unattended schedule must
 * not hold M custodians' keys. The drill member is a staging token that received the backup KEK
 * once, in a `backup kek import` ceremony; `hsmkit backup drill` (attended) still uses a scratch token.
 */
import { toHsmError } from '../errors/index.js';
import type { BackupKeyManager } from '../kms/key-transfer.js';
import { type DrillResult, runDrill } from './backup.js';
import { parseBackup } from './format.js';

/** What one scheduled drill needs. */
export interface DrillDuty {
  /** Recovery time objective, ms. */
  rtoMs: number;
  /** Reads the backup (a file, or storage with its SHA-256 checked). */
  load: () => Promise<Uint8Array>;
  /** Opens the drill member's key manager (it must hold the backup KEK). */
  openTarget: () => Promise<BackupKeyManager>;
  /** Expected SHA-256 fingerprint of the backup's signing key. */
  expectedSigner?: string;
}

/**
 * Runs one drill: a backup that cannot be read or parsed is a failed drill (never an exception),
 * as is any key that does not restore or sign. The restored keys are deleted from the drill member
 * before it is closed, whether the drill met the RTO or not.
 */
export async function runDrillOnce(duty: DrillDuty): Promise<DrillResult> {
  const started = performance.now();
  let file: ReturnType<typeof parseBackup>;
  try {
    file = parseBackup(Buffer.from(await duty.load()).toString('utf8'));
  } catch (err) {
    const e = toHsmError(err);
    return {
      ok: false,
      rtoMs: duty.rtoMs,
      measuredMs: Math.round((performance.now() - started) * 100) / 100,
      withinRto: false,
      restored: 0,
      verified: 0,
      notBackedUp: 0,
      scratch: '',
      error: { code: e.code, message: e.message },
    };
  }
  return runDrill({
    file,
    rtoMs: duty.rtoMs,
    ...(duty.expectedSigner === undefined ? {} : { expectedSigner: duty.expectedSigner }),
    prepare: async () => {
      const km = await duty.openTarget();
      return {
        km,
        name: km.member.name,
        cleanup: async (restored) => {
          for (const k of restored) await km.deleteKey(k.label);
        },
      };
    },
    destroy: async () => undefined,
  });
}

/** The timer seam: calls `fn` every `ms` until the returned function is called. */
export interface DrillTimer {
  every(ms: number, fn: () => void): () => void;
}

/** Node's timers (unref'd: a pending drill never keeps the process alive). */
export const nodeDrillTimer: DrillTimer = {
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};

/**
 * Runs a drill every `intervalMs` (the first one interval after `start`). Runs never overlap: a
 * tick while a drill is running is skipped. Each result goes to `onResult`; a throwing `run` is
 * reported as a failed drill with its code.
 */
export class DrillScheduler {
  #cancel: (() => void) | undefined;
  #running: Promise<DrillResult> | undefined;
  #last: DrillResult | undefined;

  constructor(
    private readonly o: {
      intervalMs: number;
      rtoMs: number;
      run: () => Promise<DrillResult>;
      onResult: (r: DrillResult) => void;
      timer?: DrillTimer;
    },
  ) {}

  /** The last result, if a drill has run. */
  get last(): DrillResult | undefined {
    return this.#last;
  }

  start(): void {
    if (this.#cancel) return;
    this.#cancel = (this.o.timer ?? nodeDrillTimer).every(this.o.intervalMs, () => void this.tick());
  }

  /** Stops the schedule and waits for a running drill to finish. */
  async stop(): Promise<void> {
    this.#cancel?.();
    this.#cancel = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** Runs a drill now unless one is running; resolves with its result (undefined when skipped). */
  async tick(): Promise<DrillResult | undefined> {
    if (this.#running) return undefined;
    this.#running = this.o.run().catch((err) => {
      const e = toHsmError(err);
      return {
        ok: false,
        rtoMs: this.o.rtoMs,
        measuredMs: 0,
        withinRto: false,
        restored: 0,
        verified: 0,
        notBackedUp: 0,
        scratch: '',
        error: { code: e.code, message: e.message },
      } satisfies DrillResult;
    });
    try {
      const r = await this.#running;
      this.#last = r;
      this.o.onResult(r);
      return r;
    } finally {
      this.#running = undefined;
    }
  }
}
