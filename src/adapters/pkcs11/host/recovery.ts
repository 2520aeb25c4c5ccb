import { CKR_VALUES } from '../../../errors/index.js';

/** What a member host does after a PKCS#11 call fails (DESIGN.md, decision 2). */
export type Recovery = 'evict-session' | 'relogin' | 'reload-module' | 'fail-auth' | 'none';

const EVICT = new Set<number>([
  CKR_VALUES.SESSION_HANDLE_INVALID,
  CKR_VALUES.SESSION_CLOSED,
  // A session left with an operation active (a previous caller died between Init and Final) is
  // unusable until that operation ends; a fresh session is the simplest cure.
  0x90, // CKR_OPERATION_ACTIVE
  0x91, // CKR_OPERATION_NOT_INITIALIZED: the session's operation state is not what we expect
]);

const RELOAD = new Set<number>([
  CKR_VALUES.DEVICE_ERROR,
  CKR_VALUES.DEVICE_REMOVED,
  CKR_VALUES.CRYPTOKI_NOT_INITIALIZED,
  CKR_VALUES.TOKEN_NOT_PRESENT,
  0x03, // CKR_SLOT_ID_INVALID: the slot list changed under us (a re-plugged or re-initialised token)
  0xe1, // CKR_TOKEN_NOT_RECOGNIZED
  0x1b6, // CKR_FIPS_SELF_TEST_FAILED: re-initialising the module runs the self-tests again
]);

const AUTH = new Set<number>([
  CKR_VALUES.PIN_INCORRECT,
  CKR_VALUES.PIN_LOCKED,
  0xa1, // CKR_PIN_INVALID
  0xa2, // CKR_PIN_LEN_RANGE
  0xa3, // CKR_PIN_EXPIRED
  0x102, // CKR_USER_PIN_NOT_INITIALIZED
]);

/** The recovery for a failed call's CKR value. Wrong PINs are never retried: retries lock tokens. */
export function recoveryFor(ckr: number | undefined): Recovery {
  if (ckr === undefined) return 'none';
  if (EVICT.has(ckr)) return 'evict-session';
  if (ckr === CKR_VALUES.USER_NOT_LOGGED_IN) return 'relogin';
  if (RELOAD.has(ckr)) return 'reload-module';
  if (AUTH.has(ckr)) return 'fail-auth';
  return 'none';
}

/**
 * Whether the failed operation may be run again after the recovery. A session or login problem
 * means the token did not perform it; a device error may have happened after the token acted
 * (a key may exist), so only idempotent operations are repeated then.
 */
export function mayRetry(recovery: Recovery, idempotent: boolean): boolean {
  if (recovery === 'evict-session' || recovery === 'relogin') return true;
  if (recovery === 'reload-module') return idempotent;
  return false;
}
