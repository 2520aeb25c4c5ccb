/**
 * ECDSA signature formats: PKCS#11 CKM_ECDSA returns raw r||s (IEEE P1363), while X.509, CMS and TLS
 * want the DER ECDSA-Sig-Value SEQUENCE { r INTEGER, s INTEGER } (RFC 3279).
 */
import { HsmError } from '../errors/index.js';
import { assertBytes, concatBytes, derTlv, readTlv, readWhole, TAG } from './der.js';

/** Converts a raw r||s signature (even length, halves of equal size) to DER ECDSA-Sig-Value. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  assertBytes(raw, 'raw ECDSA signature');
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new HsmError(
      'HSM_ERR_DATA_INVALID',
      `raw ECDSA signature must have an even, non-zero length, got ${raw.length}`,
    );
  }
  const half = raw.length / 2;
  return derTlv(
    TAG.SEQUENCE,
    concatBytes(derUnsigned(raw.subarray(0, half), 'r'), derUnsigned(raw.subarray(half), 's')),
  );
}

/** Converts a DER ECDSA-Sig-Value to raw r||s, each left-padded to `fieldBytes`. Strict DER only. */
export function ecdsaDerToRaw(der: Uint8Array, fieldBytes: number): Uint8Array {
  assertBytes(der, 'DER ECDSA signature');
  if (!Number.isSafeInteger(fieldBytes) || fieldBytes <= 0) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', `fieldBytes must be a positive integer, got ${fieldBytes}`);
  }
  const seq = readWhole(der, TAG.SEQUENCE, 'ECDSA signature');
  const r = readTlv(seq.content, 0);
  const s = readTlv(seq.content, r.end);
  if (s.end !== seq.content.length) {
    throw new HsmError('HSM_ERR_DATA_INVALID', 'ECDSA signature SEQUENCE has extra elements');
  }
  const out = new Uint8Array(2 * fieldBytes);
  out.set(parseUnsigned(r.tag, r.content, 'r', fieldBytes), 0);
  out.set(parseUnsigned(s.tag, s.content, 's', fieldBytes), fieldBytes);
  return out;
}

// Minimal positive INTEGER: drop leading zeros, then add one 0x00 back if the high bit would read as a sign.
function derUnsigned(value: Uint8Array, name: string): Uint8Array {
  let i = 0;
  while (i < value.length && value[i] === 0) i++;
  // r and s lie in [1, n-1]; zero means the token returned garbage, not a signature.
  if (i === value.length) throw new HsmError('HSM_ERR_DATA_INVALID', `ECDSA ${name} is zero`);
  const magnitude = value.subarray(i);
  const needsPad = (magnitude[0] ?? 0) & 0x80;
  return derTlv(TAG.INTEGER, needsPad ? concatBytes(Uint8Array.of(0), magnitude) : magnitude);
}

// Returns the big-endian magnitude left-padded to fieldBytes, rejecting anything DER or ECDSA forbids.
function parseUnsigned(tag: number, content: Uint8Array, name: string, fieldBytes: number): Uint8Array {
  if (tag !== TAG.INTEGER) throw new HsmError('HSM_ERR_DATA_INVALID', `ECDSA ${name} is not an INTEGER`);
  const [b0, b1] = content;
  if (b0 === undefined) throw new HsmError('HSM_ERR_DATA_INVALID', `ECDSA ${name} is an empty INTEGER`);
  if (b0 & 0x80) throw new HsmError('HSM_ERR_DATA_INVALID', `ECDSA ${name} is negative`);
  if (b0 === 0 && b1 !== undefined && (b1 & 0x80) === 0) {
    throw new HsmError('HSM_ERR_DATA_INVALID', `ECDSA ${name} is not minimally encoded`);
  }
  const magnitude = b0 === 0 ? content.subarray(1) : content;
  if (magnitude.length === 0) throw new HsmError('HSM_ERR_DATA_INVALID', `ECDSA ${name} is zero`);
  if (magnitude.length > fieldBytes) {
    throw new HsmError(
      'HSM_ERR_DATA_INVALID',
      `ECDSA ${name} is ${magnitude.length} bytes, more than ${fieldBytes}`,
    );
  }
  const out = new Uint8Array(fieldBytes);
  out.set(magnitude, fieldBytes - magnitude.length);
  return out;
}
