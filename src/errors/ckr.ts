import type { ErrorCode } from './codes.js';

/**
 * PKCS#11 return values (CK_RV) mapped to hsmkit codes. This is the only place a CKR number
 * becomes an hsmkit code; nothing in hsmkit inspects a module's error *message*.
 * Values are from the PKCS#11 3.1 header (pkcs11t.h).
 *
 * Modules disagree on codes for the same failure (a stale key handle is
 * CKR_OBJECT_HANDLE_INVALID in SoftHSM and CKR_KEY_HANDLE_INVALID in others), so several
 * CKRs deliberately share one hsmkit code. CKR_ARGUMENTS_BAD means hsmkit passed bad arguments,
 * which a client cannot fix, so it is internal; the SESSION_*_EXISTS conflicts are state errors
 * that a retry would not cure, so they are not the retryable HSM_ERR_SESSION.
 */
export const CKR: Record<number, { name: string; code: ErrorCode }> = {
  0x00: { name: 'CKR_OK', code: 'HSM_ERR_INTERNAL' },
  0x01: { name: 'CKR_CANCEL', code: 'HSM_ERR_INTERNAL' },
  0x02: { name: 'CKR_HOST_MEMORY', code: 'HSM_ERR_CAPACITY' },
  0x03: { name: 'CKR_SLOT_ID_INVALID', code: 'HSM_ERR_TOKEN_NOT_PRESENT' },
  0x05: { name: 'CKR_GENERAL_ERROR', code: 'HSM_ERR_INTERNAL' },
  0x06: { name: 'CKR_FUNCTION_FAILED', code: 'HSM_ERR_INTERNAL' },
  0x07: { name: 'CKR_ARGUMENTS_BAD', code: 'HSM_ERR_INTERNAL' },
  0x08: { name: 'CKR_NO_EVENT', code: 'HSM_ERR_INTERNAL' },
  0x09: { name: 'CKR_NEED_TO_CREATE_THREADS', code: 'HSM_ERR_INTERNAL' },
  0x0a: { name: 'CKR_CANT_LOCK', code: 'HSM_ERR_INTERNAL' },
  0x10: { name: 'CKR_ATTRIBUTE_READ_ONLY', code: 'HSM_ERR_TEMPLATE' },
  0x11: { name: 'CKR_ATTRIBUTE_SENSITIVE', code: 'HSM_ERR_ATTRIBUTE_SENSITIVE' },
  0x12: { name: 'CKR_ATTRIBUTE_TYPE_INVALID', code: 'HSM_ERR_TEMPLATE' },
  0x13: { name: 'CKR_ATTRIBUTE_VALUE_INVALID', code: 'HSM_ERR_TEMPLATE' },
  0x1b: { name: 'CKR_ACTION_PROHIBITED', code: 'HSM_ERR_POLICY' },
  0x20: { name: 'CKR_DATA_INVALID', code: 'HSM_ERR_DATA_INVALID' },
  0x21: { name: 'CKR_DATA_LEN_RANGE', code: 'HSM_ERR_DATA_INVALID' },
  0x30: { name: 'CKR_DEVICE_ERROR', code: 'HSM_ERR_DEVICE' },
  0x31: { name: 'CKR_DEVICE_MEMORY', code: 'HSM_ERR_CAPACITY' },
  0x32: { name: 'CKR_DEVICE_REMOVED', code: 'HSM_ERR_DEVICE' },
  0x40: { name: 'CKR_ENCRYPTED_DATA_INVALID', code: 'HSM_ERR_DATA_INVALID' },
  0x41: { name: 'CKR_ENCRYPTED_DATA_LEN_RANGE', code: 'HSM_ERR_DATA_INVALID' },
  0x42: { name: 'CKR_AEAD_DECRYPT_FAILED', code: 'HSM_ERR_DATA_INVALID' },
  0x50: { name: 'CKR_FUNCTION_CANCELED', code: 'HSM_ERR_INTERNAL' },
  0x51: { name: 'CKR_FUNCTION_NOT_PARALLEL', code: 'HSM_ERR_NOT_SUPPORTED' },
  0x54: { name: 'CKR_FUNCTION_NOT_SUPPORTED', code: 'HSM_ERR_NOT_SUPPORTED' },
  0x60: { name: 'CKR_KEY_HANDLE_INVALID', code: 'HSM_ERR_KEY_NOT_FOUND' },
  0x62: { name: 'CKR_KEY_SIZE_RANGE', code: 'HSM_ERR_KEY_SIZE' },
  0x63: { name: 'CKR_KEY_TYPE_INCONSISTENT', code: 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED' },
  0x64: { name: 'CKR_KEY_NOT_NEEDED', code: 'HSM_ERR_INVALID_INPUT' },
  0x65: { name: 'CKR_KEY_CHANGED', code: 'HSM_ERR_SESSION' },
  0x66: { name: 'CKR_KEY_NEEDED', code: 'HSM_ERR_INVALID_INPUT' },
  0x67: { name: 'CKR_KEY_INDIGESTIBLE', code: 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED' },
  0x68: { name: 'CKR_KEY_FUNCTION_NOT_PERMITTED', code: 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED' },
  0x69: { name: 'CKR_KEY_NOT_WRAPPABLE', code: 'HSM_ERR_KEY_NOT_EXTRACTABLE' },
  0x6a: { name: 'CKR_KEY_UNEXTRACTABLE', code: 'HSM_ERR_KEY_NOT_EXTRACTABLE' },
  0x70: { name: 'CKR_MECHANISM_INVALID', code: 'HSM_ERR_MECHANISM_UNSUPPORTED' },
  0x71: { name: 'CKR_MECHANISM_PARAM_INVALID', code: 'HSM_ERR_MECHANISM_UNSUPPORTED' },
  0x82: { name: 'CKR_OBJECT_HANDLE_INVALID', code: 'HSM_ERR_KEY_NOT_FOUND' },
  0x90: { name: 'CKR_OPERATION_ACTIVE', code: 'HSM_ERR_SESSION' },
  0x91: { name: 'CKR_OPERATION_NOT_INITIALIZED', code: 'HSM_ERR_SESSION' },
  0xa0: { name: 'CKR_PIN_INCORRECT', code: 'HSM_ERR_AUTH' },
  0xa1: { name: 'CKR_PIN_INVALID', code: 'HSM_ERR_AUTH' },
  0xa2: { name: 'CKR_PIN_LEN_RANGE', code: 'HSM_ERR_AUTH' },
  0xa3: { name: 'CKR_PIN_EXPIRED', code: 'HSM_ERR_PIN_LOCKED' },
  0xa4: { name: 'CKR_PIN_LOCKED', code: 'HSM_ERR_PIN_LOCKED' },
  0xb0: { name: 'CKR_SESSION_CLOSED', code: 'HSM_ERR_SESSION' },
  0xb1: { name: 'CKR_SESSION_COUNT', code: 'HSM_ERR_SESSION_LIMIT' },
  0xb3: { name: 'CKR_SESSION_HANDLE_INVALID', code: 'HSM_ERR_SESSION' },
  0xb4: { name: 'CKR_SESSION_PARALLEL_NOT_SUPPORTED', code: 'HSM_ERR_NOT_SUPPORTED' },
  0xb5: { name: 'CKR_SESSION_READ_ONLY', code: 'HSM_ERR_TOKEN_READ_ONLY' },
  0xb6: { name: 'CKR_SESSION_EXISTS', code: 'HSM_ERR_INTERNAL' },
  0xb7: { name: 'CKR_SESSION_READ_ONLY_EXISTS', code: 'HSM_ERR_INTERNAL' },
  0xb8: { name: 'CKR_SESSION_READ_WRITE_SO_EXISTS', code: 'HSM_ERR_INTERNAL' },
  0xc0: { name: 'CKR_SIGNATURE_INVALID', code: 'HSM_ERR_DATA_INVALID' },
  0xc1: { name: 'CKR_SIGNATURE_LEN_RANGE', code: 'HSM_ERR_DATA_INVALID' },
  0xd0: { name: 'CKR_TEMPLATE_INCOMPLETE', code: 'HSM_ERR_TEMPLATE' },
  0xd1: { name: 'CKR_TEMPLATE_INCONSISTENT', code: 'HSM_ERR_TEMPLATE' },
  0xe0: { name: 'CKR_TOKEN_NOT_PRESENT', code: 'HSM_ERR_TOKEN_NOT_PRESENT' },
  0xe1: { name: 'CKR_TOKEN_NOT_RECOGNIZED', code: 'HSM_ERR_TOKEN_NOT_PRESENT' },
  0xe2: { name: 'CKR_TOKEN_WRITE_PROTECTED', code: 'HSM_ERR_TOKEN_READ_ONLY' },
  0xf0: { name: 'CKR_UNWRAPPING_KEY_HANDLE_INVALID', code: 'HSM_ERR_KEY_NOT_FOUND' },
  0xf1: { name: 'CKR_UNWRAPPING_KEY_SIZE_RANGE', code: 'HSM_ERR_KEY_SIZE' },
  0xf2: { name: 'CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT', code: 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED' },
  0x100: { name: 'CKR_USER_ALREADY_LOGGED_IN', code: 'HSM_ERR_INTERNAL' },
  0x101: { name: 'CKR_USER_NOT_LOGGED_IN', code: 'HSM_ERR_NOT_LOGGED_IN' },
  0x102: { name: 'CKR_USER_PIN_NOT_INITIALIZED', code: 'HSM_ERR_AUTH' },
  0x103: { name: 'CKR_USER_TYPE_INVALID', code: 'HSM_ERR_AUTH' },
  0x104: { name: 'CKR_USER_ANOTHER_ALREADY_LOGGED_IN', code: 'HSM_ERR_AUTH' },
  0x105: { name: 'CKR_USER_TOO_MANY_TYPES', code: 'HSM_ERR_AUTH' },
  0x110: { name: 'CKR_WRAPPED_KEY_INVALID', code: 'HSM_ERR_DATA_INVALID' },
  0x112: { name: 'CKR_WRAPPED_KEY_LEN_RANGE', code: 'HSM_ERR_DATA_INVALID' },
  0x113: { name: 'CKR_WRAPPING_KEY_HANDLE_INVALID', code: 'HSM_ERR_KEY_NOT_FOUND' },
  0x114: { name: 'CKR_WRAPPING_KEY_SIZE_RANGE', code: 'HSM_ERR_KEY_SIZE' },
  0x115: { name: 'CKR_WRAPPING_KEY_TYPE_INCONSISTENT', code: 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED' },
  0x120: { name: 'CKR_RANDOM_SEED_NOT_SUPPORTED', code: 'HSM_ERR_NOT_SUPPORTED' },
  0x121: { name: 'CKR_RANDOM_NO_RNG', code: 'HSM_ERR_NOT_SUPPORTED' },
  0x130: { name: 'CKR_DOMAIN_PARAMS_INVALID', code: 'HSM_ERR_TEMPLATE' },
  0x140: { name: 'CKR_CURVE_NOT_SUPPORTED', code: 'HSM_ERR_MECHANISM_UNSUPPORTED' },
  0x150: { name: 'CKR_BUFFER_TOO_SMALL', code: 'HSM_ERR_INTERNAL' },
  0x160: { name: 'CKR_SAVED_STATE_INVALID', code: 'HSM_ERR_SESSION' },
  0x170: { name: 'CKR_INFORMATION_SENSITIVE', code: 'HSM_ERR_ATTRIBUTE_SENSITIVE' },
  0x180: { name: 'CKR_STATE_UNSAVEABLE', code: 'HSM_ERR_NOT_SUPPORTED' },
  0x190: { name: 'CKR_CRYPTOKI_NOT_INITIALIZED', code: 'HSM_ERR_DEVICE' },
  0x191: { name: 'CKR_CRYPTOKI_ALREADY_INITIALIZED', code: 'HSM_ERR_INTERNAL' },
  0x1a0: { name: 'CKR_MUTEX_BAD', code: 'HSM_ERR_INTERNAL' },
  0x1a1: { name: 'CKR_MUTEX_NOT_LOCKED', code: 'HSM_ERR_INTERNAL' },
  0x1b0: { name: 'CKR_NEW_PIN_MODE', code: 'HSM_ERR_AUTH' },
  0x1b1: { name: 'CKR_NEXT_OTP', code: 'HSM_ERR_AUTH' },
  0x1b5: { name: 'CKR_EXCEEDED_MAX_ITERATIONS', code: 'HSM_ERR_INTERNAL' },
  0x1b6: { name: 'CKR_FIPS_SELF_TEST_FAILED', code: 'HSM_ERR_DEVICE' },
  0x1b7: { name: 'CKR_LIBRARY_LOAD_FAILED', code: 'HSM_ERR_CONFIG' },
  0x1b8: { name: 'CKR_PIN_TOO_WEAK', code: 'HSM_ERR_AUTH' },
  0x1b9: { name: 'CKR_PUBLIC_KEY_INVALID', code: 'HSM_ERR_DATA_INVALID' },
  0x200: { name: 'CKR_FUNCTION_REJECTED', code: 'HSM_ERR_POLICY' },
  0x201: { name: 'CKR_TOKEN_RESOURCE_EXCEEDED', code: 'HSM_ERR_CAPACITY' },
  0x202: { name: 'CKR_OPERATION_CANCEL_FAILED', code: 'HSM_ERR_INTERNAL' },
  0x203: { name: 'CKR_KEY_EXHAUSTED', code: 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED' },
};

/** CKR values at or above this are vendor-defined (CKR_VENDOR_DEFINED). */
export const CKR_VENDOR_DEFINED = 0x80000000;

/** The symbolic name of a CKR value, e.g. `CKR_PIN_INCORRECT`, or `CKR_0x…` when unknown. */
export function ckrName(rv: number): string {
  const entry = CKR[rv];
  if (entry) return entry.name;
  const hex = `0x${rv.toString(16).toUpperCase().padStart(8, '0')}`;
  return rv >= CKR_VENDOR_DEFINED ? `CKR_VENDOR_DEFINED(${hex})` : `CKR_${hex}`;
}

/**
 * The hsmkit code for a CKR value. Vendor-defined and unknown values map to HSM_ERR_INTERNAL
 * unless a vendor profile supplies its own normalisation first.
 */
export function codeForCkr(rv: number): ErrorCode {
  return CKR[rv]?.code ?? 'HSM_ERR_INTERNAL';
}

/** Named CKR values that hsmkit's recovery logic branches on. */
export const CKR_VALUES = {
  OK: 0x00,
  GENERAL_ERROR: 0x05,
  DEVICE_ERROR: 0x30,
  DEVICE_REMOVED: 0x32,
  KEY_HANDLE_INVALID: 0x60,
  MECHANISM_INVALID: 0x70,
  OBJECT_HANDLE_INVALID: 0x82,
  PIN_INCORRECT: 0xa0,
  PIN_LOCKED: 0xa4,
  SESSION_CLOSED: 0xb0,
  SESSION_HANDLE_INVALID: 0xb3,
  TOKEN_NOT_PRESENT: 0xe0,
  USER_ALREADY_LOGGED_IN: 0x100,
  USER_NOT_LOGGED_IN: 0x101,
  CRYPTOKI_NOT_INITIALIZED: 0x190,
  CRYPTOKI_ALREADY_INITIALIZED: 0x191,
  BUFFER_TOO_SMALL: 0x150,
} as const;
