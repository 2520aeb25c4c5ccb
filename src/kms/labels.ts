import { HsmError } from '../errors/index.js';

/** Longest label hsmkit accepts, in UTF-8 bytes. Tokens store CKA_LABEL as bytes; many cap it near here. */
export const MAX_LABEL_BYTES = 128;

/**
 * Checks a key label: non-empty, well-formed Unicode (no lone surrogates, no U+FFFD that would
 * hide bytes that were not UTF-8), no control characters, at most MAX_LABEL_BYTES of UTF-8.
 */
export function validateLabel(label: unknown): string {
  if (typeof label !== 'string' || label.length === 0) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'a key label is required');
  }
  if (!label.isWellFormed() || label.includes('\uFFFD')) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'the key label is not valid UTF-8');
  }
  if ([...label].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'the key label contains control characters');
  }
  const bytes = Buffer.byteLength(label, 'utf8');
  if (bytes > MAX_LABEL_BYTES) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `the key label is ${bytes} bytes; the limit is ${MAX_LABEL_BYTES}`,
    );
  }
  // Labels and URIs share one namespace wherever a key reference is accepted, so a label that
  // reads as a URI could stand in for another key.
  if (/^pkcs11:/i.test(label)) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'a key label cannot start with "pkcs11:" (that is a URI)');
  }
  if (label.trim() !== label) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'the key label starts or ends with white space');
  }
  return label;
}

/** Decodes label bytes that arrived as a Buffer (e.g. from a file), refusing invalid UTF-8. */
export function labelFromBytes(bytes: Uint8Array): string {
  try {
    return validateLabel(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    if (err instanceof HsmError) throw err;
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'the key label is not valid UTF-8');
  }
}
