/** `hsmkit job …`: durable jobs of the service (`POST /v1/jobs`, `GET /v1/jobs/:id`). */
import { HsmError, type HsmErrorJson } from '../../errors/index.js';
import type { RemoteClient } from './remote-client.js';
import { seg } from './remote-client.js';

/** A job as `/v1/jobs` returns it. */
export interface JobView {
  id: string;
  kind: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  result?: Record<string, unknown>;
  error?: HsmErrorJson;
  created_at: string;
  updated_at: string;
}

/** Submits a job: 202 and the job, queued. */
export function submitJob(client: RemoteClient, kind: string, params: unknown): Promise<JobView> {
  return client.post<JobView>('/v1/jobs', { kind, params });
}

/** One job's state now. */
export function showJob(client: RemoteClient, id: string): Promise<JobView> {
  return client.get<JobView>(`/v1/jobs/${seg(id)}`);
}

/**
 * Polls a job until it finishes (every `intervalMs`, growing to 5 s). A failed job is thrown as the
 * HsmError it failed with, so the CLI exits with that code; running past `timeoutMs` is HSM_ERR_TIMEOUT
 * (the job keeps running in the service: wait again, or `job show` it).
 */
export async function waitForJob(
  client: RemoteClient,
  id: string,
  timeoutMs: number,
  intervalMs = 500,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = intervalMs; ; wait = Math.min(wait * 2, 5000)) {
    const job = await showJob(client, id);
    if (job.status === 'succeeded') return job;
    if (job.status === 'failed') {
      throw HsmError.fromJSON(job.error ?? { code: 'HSM_ERR_INTERNAL', message: `job ${id} failed` });
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new HsmError(
        'HSM_ERR_TIMEOUT',
        `job ${id} is still ${job.status}; it keeps running in the service`,
        {
          details: { job: id, status: job.status },
        },
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(wait, left)));
  }
}
