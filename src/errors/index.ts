export { CKR, CKR_VALUES, CKR_VENDOR_DEFINED, ckrName, codeForCkr } from './ckr.js';
export { ALL_ERROR_CODES, ERROR_CODES, type ErrorCode, isErrorCode } from './codes.js';
export { HsmError, type HsmErrorContext, type HsmErrorJson, toHsmError } from './hsm-error.js';
