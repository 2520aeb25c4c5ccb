import { ERROR_CODES, type ErrorCode, isErrorCode } from './codes.js';

/** Extra context an error may carry. Never put secrets (PINs, key material) in here. */
export interface HsmErrorContext {
  /** The PKCS#11 return value (CKR_*) that caused the error, when there was one. */
  ckr?: number;
  /** The member (module + token) the error came from. */
  member?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Small, non-secret, JSON-safe details (e.g. the YAML path of a config error). */
  details?: Record<string, unknown>;
}

/** The one error type of hsmkit. `code` is stable; `message` is for people. */
export class HsmError extends Error {
  override readonly name = 'HsmError';
  readonly code: ErrorCode;
  readonly ckr: number | undefined;
  readonly member: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, context: HsmErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.ckr = context.ckr;
    this.member = context.member;
    this.details = context.details;
  }

  /** HTTP status for this code. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  /** Whether the same request may succeed if sent again. */
  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }

  /** The JSON shape used by the CLI's --json output, the HTTP API and the IPC protocol. */
  toJSON(): HsmErrorJson {
    const out: HsmErrorJson = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.ckr !== undefined) out.ckr = this.ckr;
    if (this.member !== undefined) out.member = this.member;
    if (this.details !== undefined) out.details = this.details;
    return out;
  }

  /** Rebuilds an error from its JSON shape (e.g. received from a member host). */
  static fromJSON(json: HsmErrorJson): HsmError {
    // Whatever arrived (a peer may be broken): anything but an object is an internal error.
    if (typeof json !== 'object' || json === null)
      return new HsmError('HSM_ERR_INTERNAL', 'malformed error report');
    const code = isErrorCode(json.code) ? json.code : 'HSM_ERR_INTERNAL';
    const ctx: HsmErrorContext = {};
    if (typeof json.ckr === 'number') ctx.ckr = json.ckr;
    if (typeof json.member === 'string') ctx.member = json.member;
    if (typeof json.details === 'object' && json.details !== null) ctx.details = json.details;
    return new HsmError(
      code,
      typeof json.message === 'string' ? json.message : 'malformed error report',
      ctx,
    );
  }

  /** True when `err` is an HsmError, optionally with one of the given codes. */
  static is(err: unknown, ...codes: ErrorCode[]): err is HsmError {
    return err instanceof HsmError && (codes.length === 0 || codes.includes(err.code));
  }
}

/** Serialised form of an HsmError. */
export interface HsmErrorJson {
  code: string;
  message: string;
  retryable?: boolean;
  ckr?: number;
  member?: string;
  details?: Record<string, unknown>;
}

/** Wraps anything thrown into an HsmError; HsmErrors pass through unchanged. */
export function toHsmError(err: unknown, fallback: ErrorCode = 'HSM_ERR_INTERNAL'): HsmError {
  if (err instanceof HsmError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new HsmError(fallback, message, { cause: err });
}
