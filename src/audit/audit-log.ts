import { HsmError } from '../errors/index.js';
import type { AuditEntry, AuditRecord } from './audit-record.js';
import { recordHash } from './audit-record.js';
import type { AuditStore } from './audit-store.js';
import { type CheckpointSigner, makeCheckpoint } from './checkpoint.js';

/** Options of an audit log. */
export interface AuditLogOptions {
  /** Fields that must be non-empty in every record (the audit policy's `required_fields`). */
  requiredFields?: readonly string[];
  /** Records between automatic checkpoints; default 1000. */
  checkpointEvery?: number;
}

/**
 * The tamper-evident log: appends records to a hash chain, one at a time, and signs checkpoints.
 * Every failure is HSM_ERR_AUDIT, so callers can fail closed on one code.
 */
/** An append waiting for the next group commit. */
interface PendingAppend {
  entry: AuditEntry;
  resolve(rec: AuditRecord): void;
  reject(err: unknown): void;
}

/** What a checkpoint record takes from its caller (actor, role, correlation, policy version, member). */
type CheckpointBase = Omit<
  AuditEntry,
  'checkpoint' | 'timestamp' | 'operation' | 'paramsDigest' | 'result' | 'latencyMs'
>;

/**
 * Most records written in one group commit. SQLite writes block the event loop (about 40 µs of CPU
 * per record here), so a group stays near 5 ms; the flush yields to I/O between groups.
 */
const GROUP_MAX = 128;

export class AuditLog {
  #queue: Promise<unknown> = Promise.resolve();
  #sinceCheckpoint = 0;
  #pending: PendingAppend[] = [];
  #flushing = false;
  #probing: Promise<void> | undefined;
  #checkpointing: Promise<AuditRecord | undefined> | undefined;

  constructor(
    readonly store: AuditStore,
    private readonly options: AuditLogOptions = {},
  ) {}

  /**
   * Appends one record. Appends from this process are serialised, so the chain never forks here;
   * appends that arrive while a write is under way are written together in the next one (a group
   * commit: one transaction for many records, in arrival order). A failed write fails every append
   * in it with HSM_ERR_AUDIT, so each caller fails closed.
   */
  append(entry: AuditEntry): Promise<AuditRecord> {
    for (const field of this.options.requiredFields ?? []) {
      const v = (entry as unknown as Record<string, unknown>)[field];
      if (v === undefined || v === null || v === '') {
        return Promise.reject(
          new HsmError('HSM_ERR_AUDIT', `the audit policy requires field ${field}; the record lacks it`),
        );
      }
    }
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#pending.push({ entry, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#pending.length > 0) {
        const group = this.#pending.splice(0, GROUP_MAX);
        try {
          const recs = await this.#serial(() => this.#write(group.map((p) => p.entry)));
          this.#sinceCheckpoint += recs.length;
          for (const [i, p] of group.entries()) p.resolve(recs[i]!);
        } catch (err) {
          for (const p of group) p.reject(err);
        }
        // SQLite writes are synchronous: let the event loop take I/O between two group commits.
        if (this.#pending.length > 0) await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.#flushing = false;
    }
  }

  #write(entries: AuditEntry[]): Promise<AuditRecord[]> {
    const seals = entries.map((entry) => (seq: number, prevHash: string) => {
      const unsealed = { ...entry, seq, prevHash };
      return { ...unsealed, hash: recordHash(unsealed) };
    });
    if (this.store.appendMany && seals.length > 1) return this.store.appendMany(seals);
    return (async () => {
      const out: AuditRecord[] = [];
      for (const seal of seals) out.push(await this.store.append(seal));
      return out;
    })();
  }

  /**
   * Fails with HSM_ERR_AUDIT unless a record could be written now. Called before an operation
   * runs; callers that ask while a probe is under way share its answer.
   */
  probe(): Promise<void> {
    this.#probing ??= this.#serial(() => this.store.probe()).finally(() => {
      this.#probing = undefined;
    });
    return this.#probing;
  }

  /** Whether enough records were written since the last checkpoint to write another. */
  get checkpointDue(): boolean {
    return this.#sinceCheckpoint >= (this.options.checkpointEvery ?? 1000);
  }

  /**
   * Signs the current tip with the audit key and appends the checkpoint record. Does nothing when
   * the tip is already a checkpoint. The signing happens outside the append lock; the payload
   * names the record it covers, so records appended meanwhile do not invalidate it.
   */
  checkpoint(signer: CheckpointSigner, base: CheckpointBase): Promise<AuditRecord | undefined> {
    // One checkpoint at a time: the operations that finish while one is due all ask for it, and
    // each would otherwise sign the same tip and append its own checkpoint record.
    if (this.#checkpointing) return this.#checkpointing;
    const run = this.#checkpoint(signer, base).finally(() => {
      this.#checkpointing = undefined;
    });
    this.#checkpointing = run;
    return run;
  }

  async #checkpoint(signer: CheckpointSigner, base: CheckpointBase): Promise<AuditRecord | undefined> {
    const tip = await this.#wrap(() => this.store.tip());
    if (tip === undefined || tip.checkpoint !== undefined) return undefined;
    const started = performance.now();
    const checkpoint = await makeCheckpoint(signer, tip);
    this.#sinceCheckpoint = 0;
    return this.append({
      ...base,
      timestamp: new Date().toISOString(),
      operation: 'audit.checkpoint',
      keyUri: signer.keyUri,
      paramsDigest: checkpoint.payloadDigest,
      result: 'ok',
      latencyMs: Math.round(performance.now() - started),
      checkpoint: checkpoint.record,
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => this.#wrap(fn));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #wrap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (HsmError.is(err, 'HSM_ERR_AUDIT')) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      throw new HsmError(
        'HSM_ERR_AUDIT',
        `the audit record could not be written; the operation was refused (${msg})`,
        {
          cause: err,
        },
      );
    }
  }
}
