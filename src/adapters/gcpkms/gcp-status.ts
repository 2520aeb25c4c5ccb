/**
 * Cloud KMS failures mapped to hsmkit codes by their gRPC status number, in one table. The REST
 * transport turns the HTTP answer into the same number (google-gax reads `error.status`, or maps
 * the HTTP status), so both transports land here. Messages are never inspected.
 */
import { type ErrorCode, HsmError } from '../../errors/index.js';

/** gRPC status codes (google.rpc.Code) with the hsmkit code each becomes. */
export const GRPC_STATUS: Readonly<Record<number, { name: string; code: ErrorCode }>> = {
  1: { name: 'CANCELLED', code: 'HSM_ERR_INTERNAL' },
  2: { name: 'UNKNOWN', code: 'HSM_ERR_INTERNAL' },
  3: { name: 'INVALID_ARGUMENT', code: 'HSM_ERR_INVALID_INPUT' },
  4: { name: 'DEADLINE_EXCEEDED', code: 'HSM_ERR_TIMEOUT' },
  5: { name: 'NOT_FOUND', code: 'HSM_ERR_KEY_NOT_FOUND' },
  6: { name: 'ALREADY_EXISTS', code: 'HSM_ERR_KEY_EXISTS' },
  // IAM refused the caller: a policy decision, not a credential problem.
  7: { name: 'PERMISSION_DENIED', code: 'HSM_ERR_POLICY' },
  // Quota. Retried with backoff first (retry-policy.ts); what is left after the bound is a
  // retryable "not now", which is what HSM_ERR_UNAVAILABLE says.
  8: { name: 'RESOURCE_EXHAUSTED', code: 'HSM_ERR_UNAVAILABLE' },
  // Cloud KMS answers this for a version that is not ENABLED (disabled, destroyed, pending).
  9: { name: 'FAILED_PRECONDITION', code: 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED' },
  10: { name: 'ABORTED', code: 'HSM_ERR_UNAVAILABLE' },
  11: { name: 'OUT_OF_RANGE', code: 'HSM_ERR_INVALID_INPUT' },
  12: { name: 'UNIMPLEMENTED', code: 'HSM_ERR_NOT_SUPPORTED' },
  13: { name: 'INTERNAL', code: 'HSM_ERR_INTERNAL' },
  14: { name: 'UNAVAILABLE', code: 'HSM_ERR_UNAVAILABLE' },
  // Cloud KMS reports a checksum it could not verify on our request as DATA_LOSS.
  15: { name: 'DATA_LOSS', code: 'HSM_ERR_INTEGRITY' },
  // Missing or expired credentials. Not retried: the same token fails the same way.
  16: { name: 'UNAUTHENTICATED', code: 'HSM_ERR_AUTH' },
};

/** gRPC status numbers the retry policy uses by name. */
export const STATUS = { RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

/**
 * Transport failures (the request may never have reached Cloud KMS), by Node/gaxios error code.
 * They are retryable: the service itself did not refuse anything.
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The gRPC status number an error from the client carries, if any. */
export function grpcStatusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 16 ? code : undefined;
}

/** True when the error is a transport failure rather than an answer from the service. */
export function isNetworkError(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Turns anything the Cloud KMS client throws into an HsmError; HsmErrors pass through. */
export function toGcpHsmError(err: unknown, what: string, member?: string): HsmError {
  if (err instanceof HsmError) return err;
  const status = grpcStatusOf(err);
  const ctx = { cause: err, ...(member === undefined ? {} : { member }) };
  if (status !== undefined && status !== 0) {
    const entry = GRPC_STATUS[status]!;
    const detail = err instanceof Error ? `: ${err.message}` : '';
    return new HsmError(entry.code, `Cloud KMS refused ${what} (${entry.name})${detail}`, {
      ...ctx,
      details: { grpcStatus: status, grpcStatusName: entry.name },
    });
  }
  if (isNetworkError(err)) {
    return new HsmError('HSM_ERR_UNAVAILABLE', `Cloud KMS could not be reached for ${what}`, ctx);
  }
  const detail = err instanceof Error ? `: ${err.message}` : '';
  return new HsmError('HSM_ERR_INTERNAL', `${what} failed${detail}`, ctx);
}
