import { HsmError, toHsmError } from '../errors/index.js';
import type { Operation } from '../policy/vocabulary.js';
import type { JobRecord, ServiceJobRepository } from '../store/service-job-repository.js';
import { type KeyGenerationBody, toCreateKeyRequest } from './key-generation-request.js';
import { keyView } from './key-view.js';
import type { ServiceRuntime } from './service-deps.js';
import type { ServiceMetrics } from './service-metrics.js';

/** Job kinds and the policy operation each performs. */
export const JOB_KINDS: Record<string, Operation> = { 'key.create': 'key.create' };

/**
 * Runs queued jobs one at a time, each as the actor that submitted it (governed and audited like
 * a request). Jobs live in the store: a job queued before a restart runs after it. A job that was
 * running when the service stopped is marked failed with HSM_ERR_INTERRUPTED and never re-run
 * blindly: a key generation may have finished on the token.
 */
export class JobRunner {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly jobs: ServiceJobRepository,
    private readonly runtime: ServiceRuntime,
    private readonly providers: readonly string[],
    private readonly metrics?: ServiceMetrics,
  ) {}

  /** Fails jobs interrupted by the last stop, then drains the queue and polls every `pollMs`. */
  async start(pollMs = 500): Promise<void> {
    for (const j of await this.jobs.withStatus('running')) {
      const e = new HsmError(
        'HSM_ERR_INTERRUPTED',
        'the service stopped while this job ran; check the key before resubmitting',
      );
      if (
        await this.jobs.transition(j.id, 'running', 'failed', { error: { code: e.code, message: e.message } })
      ) {
        this.metrics?.jobs.inc({ kind: j.kind, status: 'failed' });
      }
    }
    this.#timer = setInterval(() => this.kick(), pollMs);
    this.#timer.unref();
    this.kick();
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
    await this.#running;
  }

  async #drain(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      const next = (await this.jobs.withStatus('queued'))[0];
      if (!next) return;
      // The transition is the claim: another runner that took the job first wins.
      if (await this.jobs.transition(next.id, 'queued', 'running')) await this.#run(next);
    }
  }

  async #run(job: JobRecord): Promise<void> {
    const km = this.runtime.governFor({ name: job.actor, role: job.role, authMethod: 'job' }, job.id);
    try {
      const info = await km.createKey(toCreateKeyRequest(job.request as KeyGenerationBody, this.providers));
      await this.jobs.transition(job.id, 'running', 'succeeded', { result: keyView(info) });
      this.metrics?.jobs.inc({ kind: job.kind, status: 'succeeded' });
    } catch (err) {
      const e = toHsmError(err);
      await this.jobs.transition(job.id, 'running', 'failed', {
        error: { code: e.code, message: e.message },
      });
      this.metrics?.jobs.inc({ kind: job.kind, status: 'failed' });
      this.metrics?.errors.inc({ code: e.code });
    }
  }
}
