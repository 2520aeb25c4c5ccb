/**
 * Bounded exponential backoff with full jitter for Cloud KMS calls. Google asks clients to back off
 * on RESOURCE_EXHAUSTED (quota) and UNAVAILABLE; this is the one place hsmkit does it, so attempts
 * are counted and bounded here and google-gax's own retries are switched off (kms-client.ts).
 */
import { HsmError } from '../../errors/index.js';
import { GRPC_STATUS, grpcStatusOf, isNetworkError, STATUS, toGcpHsmError } from './gcp-status.js';

/** How hard to retry. Defaults are in DEFAULT_RETRY_POLICY. */
export interface RetryPolicy {
  /** Attempts in all, the first one included. Default 7. */
  maxAttempts: number;
  /** Ceiling of the first backoff, in ms. Default 500. */
  initialDelayMs: number;
  /** Largest ceiling of any backoff, in ms. Default 16_000. */
  maxDelayMs: number;
  /** Growth of the ceiling per attempt. Default 2. */
  multiplier: number;
}

/**
 * The defaults: at most 31.5 s of waiting (0.5 + 1 + 2 + 4 + 8 + 16 s ceilings) before giving up,
 * long enough to ride out Cloud KMS's per-minute quota windows in part, short enough for a caller.
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  maxAttempts: 7,
  initialDelayMs: 500,
  maxDelayMs: 16_000,
  multiplier: 2,
};

/** What a retried call needs besides the call itself. */
export interface RetryContext {
  policy: RetryPolicy;
  /** What is being done, for messages ("asymmetricSign of …"). */
  what: string;
  /**
   * Whether the call may be repeated after an answer that leaves it unknown whether it ran
   * (UNAVAILABLE, a broken connection). Quota refusals are retried either way: Cloud KMS refuses
   * them before doing anything.
   */
  idempotent: boolean;
  /** Waits `ms`; injected so tests need not sleep. */
  sleep: (ms: number) => Promise<void>;
  /** A number in [0, 1); injected so tests can pin the jitter. */
  random: () => number;
  /** The member named in errors. */
  member?: string;
}

/** The backoff before retry number `retry` (0-based): uniform in [0, min(max, initial·multiplier^retry)]. */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** retry);
  return Math.floor(random() * ceiling);
}

function retryable(err: unknown, idempotent: boolean): boolean {
  const status = grpcStatusOf(err);
  if (status === STATUS.RESOURCE_EXHAUSTED) return true;
  if (!idempotent) return false;
  return status === STATUS.UNAVAILABLE || (status === undefined && isNetworkError(err));
}

/** Runs `call`, retrying quota and transient failures within the policy; maps the final failure. */
export async function withRetry<T>(call: () => Promise<T>, ctx: RetryContext): Promise<T> {
  const attempts = Math.max(1, Math.floor(ctx.policy.maxAttempts));
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (err instanceof HsmError || !retryable(err, ctx.idempotent)) {
        throw toGcpHsmError(err, ctx.what, ctx.member);
      }
      if (attempt >= attempts) throw exhausted(err, ctx, attempts);
      await ctx.sleep(backoffDelay(ctx.policy, attempt - 1, ctx.random));
    }
  }
}

function exhausted(err: unknown, ctx: RetryContext, attempts: number): HsmError {
  const status = grpcStatusOf(err);
  const name = status === undefined ? 'connection failure' : GRPC_STATUS[status]!.name;
  const why =
    status === STATUS.RESOURCE_EXHAUSTED ? 'Cloud KMS quota is exhausted' : 'Cloud KMS is unavailable';
  return new HsmError(
    'HSM_ERR_UNAVAILABLE',
    `${why} (${name}) for ${ctx.what}; gave up after ${attempts} attempts with backoff, retry later`,
    {
      cause: err,
      ...(ctx.member === undefined ? {} : { member: ctx.member }),
      details: { attempts, ...(status === undefined ? {} : { grpcStatus: status, grpcStatusName: name }) },
    },
  );
}
