import type { ServiceAlert, WebhookPayload } from './alert.js';

/** Delivery settings: attempts and the bounds of the exponential backoff between them. */
export interface RetryPolicy {
  attempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Per attempt. */
  timeoutMs: number;
}

/** Outcome of delivering one alert to one webhook. */
export type Delivery = { ok: true; attempts: number } | { ok: false; attempts: number; error: string };

/** Backoff before attempt `n + 1` (n ≥ 1): initial × 2^(n−1), capped. */
export function backoffMs(policy: RetryPolicy, n: number): number {
  return Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (n - 1));
}

/**
 * POSTs the alert as JSON (`{source: "hsmkit", alert}`) until a 2xx answer or the attempts run out.
 * Network errors, timeouts, 408, 429 and 5xx are retried; other 4xx are final (the receiver refused
 * the payload, so resending it cannot help). `stopped()` ends the retries early (service shutdown).
 */
export async function deliverWebhook(
  url: string,
  alert: ServiceAlert,
  policy: RetryPolicy,
  stopped: () => boolean = () => false,
): Promise<Delivery> {
  const body = JSON.stringify({ source: 'hsmkit', alert } satisfies WebhookPayload);
  let error = 'not attempted';
  for (let n = 1; n <= policy.attempts; n++) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'hsmkit-alerting' },
        body,
        signal: AbortSignal.timeout(policy.timeoutMs),
        redirect: 'error',
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return { ok: true, attempts: n };
      error = `HTTP ${res.status}`;
      const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
      if (!retryable) return { ok: false, attempts: n, error };
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    if (n < policy.attempts) {
      if (stopped()) return { ok: false, attempts: n, error: `${error} (service stopping)` };
      await new Promise((r) => setTimeout(r, backoffMs(policy, n)).unref());
    }
  }
  return { ok: false, attempts: policy.attempts, error };
}
