import type { FastifyReply } from 'fastify';
import { ERROR_CODES, type ErrorCode } from '../errors/codes.js';
import { HsmError } from '../errors/index.js';

/** Media type of every error response (RFC 9457). */
export const PROBLEM_TYPE = 'application/problem+json';

/** An RFC 9457 problem document, extended with hsmkit's stable error code. */
export interface ProblemDocument {
  /** `urn:hsmkit:error:<code>`: one URI per code, documented in docs/errors.md. */
  type: string;
  /** The code's summary from the code table. */
  title: string;
  /** The HTTP status from the code table. */
  status: number;
  /** What went wrong in this request, for people. */
  detail: string;
  /** The request id (`urn:uuid:…`), also the audit log's correlation id. */
  instance?: string;
  /** Stable `HSM_ERR_*` code; clients match on this. */
  code: ErrorCode;
  retryable: boolean;
  /** Non-secret details (validation paths, the refusing policy rule). */
  details?: Record<string, unknown>;
}

/** Fastify framework error codes, mapped to hsmkit codes (`FST_ERR_*` → `HSM_ERR_*`). */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'HSM_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'HSM_ERR_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'HSM_ERR_INVALID_INPUT',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'HSM_ERR_INVALID_INPUT',
  FST_ERR_CTP_INVALID_JSON_BODY: 'HSM_ERR_INVALID_INPUT',
  FST_ERR_VALIDATION: 'HSM_ERR_INVALID_INPUT',
  FST_ERR_BAD_URL: 'HSM_ERR_INVALID_INPUT',
  FST_ERR_ASYNC_CONSTRAINT: 'HSM_ERR_INVALID_INPUT',
  FST_ERR_NOT_FOUND: 'HSM_ERR_NOT_FOUND',
};

/**
 * Turns anything thrown into an HsmError fit for a client: HsmErrors pass through, fastify's
 * framework errors map by their code (never their message text), JSON-schema failures name the
 * failing paths, and anything else becomes HSM_ERR_INTERNAL without the original message.
 */
export function toClientError(err: unknown): HsmError {
  if (err instanceof HsmError) return err;
  const e = err as {
    code?: string;
    validation?: Array<{ instancePath?: string; message?: string }>;
    statusCode?: number;
    message?: string;
  };
  if (Array.isArray(e.validation)) {
    const issues = e.validation.map((v) => ({
      path: v.instancePath || '(root)',
      message: v.message ?? 'invalid',
    }));
    return new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `invalid request: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`,
      {
        details: { issues },
      },
    );
  }
  const mapped = e.code === undefined ? undefined : FASTIFY_CODES[e.code];
  if (mapped) return new HsmError(mapped, e.message ?? mapped);
  // Other 4xx from fastify or a plugin: a client error whose code we do not know.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new HsmError('HSM_ERR_INVALID_INPUT', e.message ?? 'bad request');
  }
  return new HsmError('HSM_ERR_INTERNAL', 'internal error; see the service log', { cause: err });
}

/** The problem document of an error. */
export function problemOf(err: HsmError, instance?: string): ProblemDocument {
  const entry = ERROR_CODES[err.code];
  const doc: ProblemDocument = {
    type: `urn:hsmkit:error:${err.code}`,
    title: entry.summary,
    status: entry.status,
    detail: err.message,
    code: err.code,
    retryable: entry.retryable,
  };
  if (instance !== undefined) doc.instance = instance;
  if (err.details !== undefined) doc.details = err.details;
  return doc;
}

/** Sends `err` as a problem document with the status its code carries. */
export function sendProblem(reply: FastifyReply, err: unknown): FastifyReply {
  const e = toClientError(err);
  const doc = problemOf(e, `urn:uuid:${reply.request.id}`);
  if (e.code === 'HSM_ERR_UNAUTHENTICATED' || e.code === 'HSM_ERR_MFA_REQUIRED') {
    // RFC 9110 asks 401 to name a scheme: the certificate plus the TOTP header.
    reply.header('www-authenticate', 'X-Hsmkit-Otp realm="hsmkit"');
  }
  return reply.code(doc.status).type(PROBLEM_TYPE).send(doc);
}
