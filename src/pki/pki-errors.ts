import { HsmError } from '../errors/index.js';

/** Bad input (a malformed CSR, an unknown profile): HSM_ERR_INVALID_INPUT. */
export function invalidInput(message: string, cause?: unknown): HsmError {
  return new HsmError('HSM_ERR_INVALID_INPUT', message, cause === undefined ? {} : { cause });
}

/** A request the PKI policy refuses (weak key, validity above the cap): HSM_ERR_POLICY. */
export function policyRefusal(message: string): HsmError {
  return new HsmError('HSM_ERR_POLICY', message);
}

/** Shortens untrusted text for an error message and drops control characters. */
export function printable(text: string, max = 80): string {
  return String(text)
    .slice(0, max)
    .replace(/[^\x20-\x7e]/g, '?');
}
