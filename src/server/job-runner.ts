import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { HsmError, toHsmError } from '../errors/index.js';
import type { KeyManager } from '../kms/key-manager.js';
import type { JobRecord, ServiceJobRepository } from '../store/service-job-repository.js';
import type { AdminDeps } from './admin-deps.js';
import { type JobEnv, runJob } from './job-handlers.js';
import type { ServiceRuntime } from './service-deps.js';
import type { ServiceMetrics } from './service-metrics.js';

export { JOB_KINDS } from './job-handlers.js';

/** Refusals that mean "the store or audit log is unreachable now", not "this job is wrong". */
const OUTAGE_CODES = new Set(['HSM_ERR_AUDIT', 'HSM_ERR_STORE_UNAVAILABLE']);

/** Job kinds that touch the HSM only through the governed key manager (so "untouched" is knowable). */
const REQUEUE_SAFE_KINDS = new Set(['key.create']);

/** Key-manager methods that only read: calling them changes nothing on the HSM. */
const READS = new Set<PropertyKey>(['getKey', 'getPublicKey', 'listKeys', 'capabilities', 'healthCheck']);

/** `inner`, calling `seen` before any of its methods that may change the HSM runs. */
function onEveryCall(inner: KeyManager, seen: () => void): KeyManager {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (!READS.has(prop)) seen();
        return v.apply(target, args);
      };
    },
  });
}

/** How long a claimed job stays this instance's without a heartbeat (ms); default of {@link JobRunnerOptions}. */
export const JOB_LEASE_MS = 30_000;

/** Options of a {@link JobRunner}. */
export interface JobRunnerOptions {
  /** This instance's id in the job table; default `<hostname>:<pid>:<random>`. */
  instanceId?: string;
  /** Lease of a claimed job (ms), renewed every third of it; default {@link JOB_LEASE_MS}. */
  leaseMs?: number;
  /** PKI and governance, for the job kinds beyond key.create (job-handlers.ts). */
  admin?: AdminDeps;
}

/**
 * Runs queued jobs one at a time, each as the actor that submitted it (governed and audited like
 * a request). Jobs live in the store: a job queued before a restart runs after it. Several
 * service instances may share the store: each job is claimed atomically by one of them, which
 * holds a lease on it while it runs. A running job whose owner's lease ran out (the instance
 * stopped or died) is marked failed with HSM_ERR_INTERRUPTED and never re-run blindly: a key
 * generation may have finished on the token. Jobs of live instances are left alone.
 */
export class JobRunner {
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** This instance's id, recorded as the owner of the jobs it claims. */
  readonly instanceId: string;
  readonly #leaseMs: number;
  readonly #env: JobEnv;

  constructor(
    private readonly jobs: ServiceJobRepository,
    private readonly runtime: ServiceRuntime,
    private readonly providers: readonly string[],
    private readonly metrics?: ServiceMetrics,
    options: JobRunnerOptions = {},
  ) {
    this.instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#leaseMs = options.leaseMs ?? JOB_LEASE_MS;
    this.#env = { providers: this.providers, ...(options.admin ? { admin: options.admin } : {}) };
  }

  /**
   * Fails jobs whose owner's lease ran out, then drains the queue and polls every `pollMs`;
   * heartbeats this instance's running jobs and re-checks for expired leases every third of the lease.
   */
  async start(pollMs = 500): Promise<void> {
    await this.recoverExpired();
    this.#timer = setInterval(() => this.kick(), pollMs);
    this.#timer.unref();
    this.#heartbeat = setInterval(() => {
      void this.jobs
        .heartbeat(this.instanceId, this.#leaseMs)
        .then(() => this.recoverExpired())
        .catch(() => undefined); // the store is down: the next beat tries again
    }, this.#leaseMs / 3);
    this.#heartbeat.unref();
    this.kick();
  }

  /** Marks running jobs whose owner's lease expired as failed (HSM_ERR_INTERRUPTED); returns how many. */
  async recoverExpired(): Promise<number> {
    const e = new HsmError(
      'HSM_ERR_INTERRUPTED',
      'the service instance running this job stopped; check the key before resubmitting',
    );
    const failed = await this.jobs.failExpired({ code: e.code, message: e.message });
    for (const j of failed) this.metrics?.jobs.inc({ kind: j.kind, status: 'failed' });
    return failed.length;
  }

  /** Runs queued jobs now (called after a submit). */
  kick(): void {
    if (this.#stopped || this.#running) return;
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
    });
  }

  /** Stops polling and waits for the job in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    await this.#running;
  }

  async #drain(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      // The claim is one conditional update: of several instances, exactly one gets each job.
      const next = await this.jobs.claimNext(this.instanceId, this.#leaseMs).catch(() => undefined);
      if (!next) return;
      // #run throws only when the outcome could not be recorded for a whole lease; the job is
      // then failed as interrupted by whichever instance sees its lease expire.
      const ran = await this.#run(next).catch(() => true);
      // Given back to the queue (the store or audit log is down): try again at the next poll.
      if (!ran) return;
    }
  }

  /** Runs a claimed job; false when it was given back to the queue without running. */
  async #run(job: JobRecord): Promise<boolean> {
    let reachedHsm = false;
    const km = this.runtime.governFor(
      { name: job.actor, role: job.role, authMethod: 'job' },
      job.id,
      (inner) => onEveryCall(inner, () => (reachedHsm = true)),
    );
    try {
      const result = await runJob(job.kind, job.request, km, this.#env, job.id);
      await this.#finish(job.id, 'succeeded', { result });
      this.metrics?.jobs.inc({ kind: job.kind, status: 'succeeded' });
    } catch (err) {
      const e = toHsmError(err);
      // Refused before anything reached the HSM because the audit log or the store could not be
      // written (e.g. PostgreSQL restarting): nothing happened, so the job is queued again
      // instead of failing. Only for kinds whose every HSM effect goes through `km`.
      if (!reachedHsm && OUTAGE_CODES.has(e.code) && REQUEUE_SAFE_KINDS.has(job.kind)) {
        const released = await this.#untilStored(() => this.jobs.release(job.id, this.instanceId)).catch(
          () => false,
        );
        if (released) return false;
      }
      await this.#finish(job.id, 'failed', { error: { code: e.code, message: e.message } });
      this.metrics?.jobs.inc({ kind: job.kind, status: 'failed' });
      this.metrics?.errors.inc({ code: e.code });
    }
    return true;
  }

  /**
   * Records the outcome; retried while the store is unreachable (up to about a lease), so an
   * outcome is not lost to a database restart. False when the job is no longer ours.
   */
  async #finish(
    id: string,
    to: 'succeeded' | 'failed',
    outcome: { result?: unknown; error?: { code: string; message: string } },
  ): Promise<boolean> {
    return this.#untilStored(() => this.jobs.transition(id, 'running', to, outcome, this.instanceId));
  }

  /** Runs a job-table write, retrying every 500 ms while it fails, for at most about a lease. */
  async #untilStored(write: () => Promise<boolean>): Promise<boolean> {
    const deadline = Date.now() + this.#leaseMs;
    for (;;) {
      try {
        return await write();
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}
