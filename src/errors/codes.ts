/**
 * The one table of hsmkit error codes. Every error hsmkit raises carries one of these codes.
 * A code is stable: clients (CLI scripts, HTTP callers, alert rules) may match on it.
 * `status` is the HTTP status the service answers with; `retryable` says whether the same
 * request may succeed if sent again unchanged (possibly to another member).
 * docs/errors.md is kept in step with this table by src/errors/codes.test.ts.
 */
export const ERROR_CODES = {
  HSM_ERR_INVALID_INPUT: {
    status: 400,
    retryable: false,
    summary: 'The request is malformed or a value is out of range.',
  },
  HSM_ERR_INVALID_URI: {
    status: 400,
    retryable: false,
    summary: 'A PKCS#11 URI (RFC 7512) could not be parsed or is not allowed here.',
  },
  HSM_ERR_CONFIG: {
    status: 500,
    retryable: false,
    summary: 'The configuration is invalid; the message names the YAML path.',
  },
  HSM_ERR_KEY_NOT_FOUND: {
    status: 404,
    retryable: false,
    summary: 'No key matches the given label, id or URI.',
  },
  HSM_ERR_KEY_AMBIGUOUS: {
    status: 409,
    retryable: false,
    summary: 'More than one object matches; hsmkit never picks one silently.',
  },
  HSM_ERR_KEY_EXISTS: {
    status: 409,
    retryable: false,
    summary: 'A key with this label already exists on the token.',
  },
  HSM_ERR_MECHANISM_UNSUPPORTED: {
    status: 422,
    retryable: false,
    summary: 'The token does not offer the mechanism or key type; nothing is done in software instead.',
  },
  HSM_ERR_KEY_SIZE: {
    status: 422,
    retryable: false,
    summary: 'The key size is outside what the token or policy allows.',
  },
  HSM_ERR_TEMPLATE: {
    status: 422,
    retryable: false,
    summary: 'The token rejected the object template (attribute missing, invalid or inconsistent).',
  },
  HSM_ERR_KEY_FUNCTION_NOT_PERMITTED: {
    status: 403,
    retryable: false,
    summary:
      'The key does not permit this use (e.g. CKA_SIGN is false) or the key type does not fit the mechanism.',
  },
  HSM_ERR_ATTRIBUTE_SENSITIVE: {
    status: 403,
    retryable: false,
    summary: 'The attribute is sensitive and cannot be revealed (e.g. CKA_VALUE of a private key).',
  },
  HSM_ERR_KEY_NOT_EXTRACTABLE: {
    status: 403,
    retryable: false,
    summary: 'The key cannot leave the HSM, not even wrapped.',
  },
  HSM_ERR_DATA_INVALID: {
    status: 400,
    retryable: false,
    summary: 'The data to sign is empty, too long or not valid for the mechanism.',
  },
  HSM_ERR_POLICY: { status: 403, retryable: false, summary: 'The security policy forbids the operation.' },
  HSM_ERR_POLICY_VIOLATION: {
    status: 403,
    retryable: false,
    summary:
      'The governance policy refused the operation before it reached the HSM; the message names the rule.',
  },
  HSM_ERR_AUDIT: {
    status: 503,
    retryable: false,
    summary: 'The audit record could not be written; the operation was refused.',
  },
  HSM_ERR_AUDIT_CHAIN: {
    status: 500,
    retryable: false,
    summary: 'The audit log failed verification: a record was altered, removed or reordered.',
  },
  HSM_ERR_NONCOMPLIANT: {
    status: 409,
    retryable: false,
    summary: 'The compliance scan found keys that break the policy; the report lists them.',
  },
  HSM_ERR_UNAUTHENTICATED: {
    status: 401,
    retryable: false,
    summary:
      'The service could not authenticate the caller: the client certificate maps to no identity, or the TOTP code is wrong.',
  },
  HSM_ERR_MFA_REQUIRED: {
    status: 401,
    retryable: false,
    summary: 'A human identity called the service without its second factor (the TOTP code).',
  },
  HSM_ERR_RATE_LIMITED: {
    status: 429,
    retryable: true,
    summary: 'The caller sent more requests than its rate limit allows; retry after the Retry-After delay.',
  },
  HSM_ERR_PAYLOAD_TOO_LARGE: {
    status: 413,
    retryable: false,
    summary: 'The request body is larger than the service accepts.',
  },
  HSM_ERR_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    summary: 'The request body has a content type the route does not accept.',
  },
  HSM_ERR_NOT_FOUND: {
    status: 404,
    retryable: false,
    summary: 'No such route or resource (job) in the service.',
  },
  HSM_ERR_INTERRUPTED: {
    status: 500,
    retryable: false,
    summary: 'The service stopped while the job ran; its effect is unknown, so check before resubmitting.',
  },
  HSM_ERR_IDEMPOTENCY_MISMATCH: {
    status: 422,
    retryable: false,
    summary: 'The Idempotency-Key was already used by this caller for a different request.',
  },
  HSM_ERR_IDEMPOTENCY_IN_PROGRESS: {
    status: 409,
    retryable: true,
    summary: 'A request with this Idempotency-Key is still being processed; retry later with the same key.',
  },
  HSM_ERR_AUTH: {
    status: 503,
    retryable: false,
    summary: 'The HSM refused the PIN. Never retried automatically, so the token is not locked.',
  },
  HSM_ERR_PIN_LOCKED: {
    status: 503,
    retryable: false,
    summary: 'The token PIN is locked or expired; an officer must reset it.',
  },
  HSM_ERR_NOT_LOGGED_IN: {
    status: 503,
    retryable: true,
    summary: 'The session lost its login; hsmkit logs in again and retries.',
  },
  HSM_ERR_SESSION: {
    status: 503,
    retryable: true,
    summary: 'The session was closed or invalidated; hsmkit opens a new one.',
  },
  HSM_ERR_SESSION_LIMIT: { status: 503, retryable: true, summary: 'The token has no free sessions.' },
  HSM_ERR_DEVICE: {
    status: 503,
    retryable: true,
    summary: 'The HSM or its connection failed (CKR_DEVICE_ERROR and kin); the module is reloaded.',
  },
  HSM_ERR_TOKEN_NOT_PRESENT: { status: 503, retryable: true, summary: 'The token or slot is not present.' },
  HSM_ERR_MEMBER_CRASHED: {
    status: 503,
    retryable: true,
    summary: 'The member host process died while the request was in flight; it is respawned.',
  },
  HSM_ERR_UNAVAILABLE: { status: 503, retryable: true, summary: 'No HSM member can serve the request now.' },
  HSM_ERR_TIMEOUT: {
    status: 504,
    retryable: true,
    summary: 'The HSM did not answer within operation_timeout_ms.',
  },
  HSM_ERR_CAPACITY: {
    status: 507,
    retryable: false,
    summary: 'The token or host is out of memory or object storage.',
  },
  HSM_ERR_TOKEN_READ_ONLY: { status: 403, retryable: false, summary: 'The token or session is read-only.' },
  HSM_ERR_NOT_SUPPORTED: {
    status: 501,
    retryable: false,
    summary: 'The module does not implement the PKCS#11 function.',
  },
  HSM_ERR_INTEGRITY: {
    status: 502,
    retryable: true,
    summary: 'A response failed an integrity check (checksum, signature self-test).',
  },
  HSM_ERR_CEREMONY_SCRIPT: {
    status: 400,
    retryable: false,
    summary: 'The ceremony script is invalid; the message names the YAML path.',
  },
  HSM_ERR_CEREMONY_STATE: {
    status: 409,
    retryable: false,
    summary:
      'The ceremony cannot go on in its recorded state (aborted, completed, or its script changed since it started).',
  },
  HSM_ERR_CEREMONY_WINDOW: {
    status: 403,
    retryable: false,
    summary: "The ceremony step is outside the script's time window (not_before / not_after).",
  },
  HSM_ERR_QUORUM: {
    status: 403,
    retryable: false,
    summary: 'Fewer valid custodian approvals than the step needs; the step did not run.',
  },
  HSM_ERR_APPROVAL_REFUSED: {
    status: 403,
    retryable: false,
    summary:
      'A custodian approval was refused (replay, other step, unknown key, bad signature, site); see details.reason.',
  },
  HSM_ERR_TRANSCRIPT_INVALID: {
    status: 422,
    retryable: false,
    summary: 'A ceremony transcript failed verification (signature, hashes or approvals).',
  },
  HSM_ERR_SHARE_INVALID: {
    status: 422,
    retryable: false,
    summary: 'A secret share failed to decrypt or verify, or too few shares were given to reconstruct.',
  },
  HSM_ERR_BACKUP_INVALID: {
    status: 422,
    retryable: false,
    summary:
      'A backup file failed verification (signature, entry digest, format); details.problems names the entries.',
  },
  HSM_ERR_STORE: { status: 500, retryable: false, summary: 'The metadata store failed.' },
  HSM_ERR_STORE_UNAVAILABLE: {
    status: 503,
    retryable: true,
    summary: 'The metadata store cannot be reached now (database down or restarting); retry.',
  },
  HSM_ERR_INTERNAL: {
    status: 500,
    retryable: false,
    summary: 'An unexpected failure inside hsmkit or the module (CKR_GENERAL_ERROR, CKR_FUNCTION_FAILED).',
  },
} as const satisfies Record<string, { status: number; retryable: boolean; summary: string }>;

/** A stable hsmkit error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Every code, in table order. */
export const ALL_ERROR_CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** True when `value` is one of the codes above. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}
