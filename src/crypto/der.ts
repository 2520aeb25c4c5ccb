/**
 * Minimal, strict DER: just enough to build and read the few structures hsmkit wraps around raw HSM
 * values (SubjectPublicKeyInfo, ECDSA-Sig-Value, DigestInfo, CKA_EC_PARAMS, CKA_EC_POINT).
 * Only low-tag-number form and definite, minimal lengths are supported, as DER requires.
 */
import { HsmError } from '../errors/index.js';

/** DER tags used across src/crypto. */
export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  PRINTABLE_STRING: 0x13,
  SEQUENCE: 0x30,
} as const;

// A single OID arc longer than this is never legitimate (UUID arcs under 2.25 need 19 bytes); the cap
// keeps BigInt work linear on hostile input.
const MAX_ARC_BYTES = 32;
// Lengths are read into a JS number; 4 bytes already exceed any buffer hsmkit handles.
const MAX_LENGTH_BYTES = 4;

/** Throws HSM_ERR_INVALID_INPUT unless `value` is a Uint8Array (Buffer included). */
export function assertBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${what} must be a Uint8Array`);
  }
}

/** Encodes a DER length (short form below 128, otherwise minimal long form). */
export function derLength(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', `DER length must be a non-negative integer, got ${n}`);
  }
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  // Division instead of >>> so lengths above 2^32 (never used, but safe integers) stay correct.
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one TLV with a single-byte (low-tag-number) tag. */
export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', `DER tag must be a single low-tag-number byte, got ${tag}`);
  }
  assertBytes(content, 'DER content');
  const len = derLength(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

/** Concatenates byte arrays (helper for building constructed values). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Encodes a dotted OID (e.g. `1.2.840.10045.3.1.7`) as a full DER OBJECT IDENTIFIER TLV. */
export function derOid(dotted: string): Uint8Array {
  if (typeof dotted !== 'string' || !/^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$/.test(dotted)) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', `not a dotted OID: ${String(dotted)}`);
  }
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [first, second, ...rest] = arcs as [bigint, bigint, ...bigint[]];
  // X.660: the first arc is 0, 1 or 2, and below 2 the second arc is at most 39.
  if (first > 2n || (first < 2n && second > 39n)) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', `invalid OID arcs: ${dotted}`);
  }
  const content: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    content.push(...chunk);
  }
  return derTlv(TAG.OID, Uint8Array.from(content));
}

/** Decodes the content bytes of an OBJECT IDENTIFIER (no tag/length) to dotted form, strictly. */
export function oidToString(contentBytes: Uint8Array): string {
  assertBytes(contentBytes, 'OID content');
  if (contentBytes.length === 0) throw new HsmError('HSM_ERR_DATA_INVALID', 'empty OBJECT IDENTIFIER');
  const arcs: bigint[] = [];
  let value = 0n;
  let arcLength = 0;
  for (const byte of contentBytes) {
    // A subidentifier starting with 0x80 has a redundant leading zero group: not DER.
    if (arcLength === 0 && byte === 0x80) {
      throw new HsmError('HSM_ERR_DATA_INVALID', 'OBJECT IDENTIFIER has a non-minimal subidentifier');
    }
    if (++arcLength > MAX_ARC_BYTES) {
      throw new HsmError('HSM_ERR_DATA_INVALID', 'OBJECT IDENTIFIER subidentifier is too long');
    }
    value = (value << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
      arcLength = 0;
    }
  }
  if (arcLength !== 0) throw new HsmError('HSM_ERR_DATA_INVALID', 'OBJECT IDENTIFIER is truncated');
  const [head, ...rest] = arcs as [bigint, ...bigint[]];
  const first = head < 40n ? 0n : head < 80n ? 1n : 2n;
  return [first, head - first * 40n, ...rest].join('.');
}

/** One decoded TLV; `content` is a view into the input and `end` the offset just past it. */
export interface Tlv {
  tag: number;
  length: number;
  headerLength: number;
  content: Uint8Array;
  end: number;
}

/** Reads one DER TLV at `offset`; rejects high tags, indefinite or non-minimal lengths and overruns. */
export function readTlv(buf: Uint8Array, offset: number): Tlv {
  assertBytes(buf, 'DER input');
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', `DER offset must be a non-negative integer, got ${offset}`);
  }
  const tag = buf[offset];
  if (tag === undefined)
    throw new HsmError('HSM_ERR_DATA_INVALID', `DER truncated: no tag at offset ${offset}`);
  if ((tag & 0x1f) === 0x1f) {
    throw new HsmError(
      'HSM_ERR_DATA_INVALID',
      `DER high-tag-number form is not supported (offset ${offset})`,
    );
  }
  const first = buf[offset + 1];
  if (first === undefined)
    throw new HsmError('HSM_ERR_DATA_INVALID', `DER truncated: no length at offset ${offset}`);
  let length: number;
  let headerLength: number;
  if (first < 0x80) {
    length = first;
    headerLength = 2;
  } else {
    const count = first & 0x7f;
    if (count === 0) throw new HsmError('HSM_ERR_DATA_INVALID', 'DER indefinite length is not allowed');
    if (count > MAX_LENGTH_BYTES)
      throw new HsmError('HSM_ERR_DATA_INVALID', `DER length uses ${count} bytes`);
    if (offset + 2 + count > buf.length)
      throw new HsmError('HSM_ERR_DATA_INVALID', 'DER truncated in length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[offset + 2 + i] ?? 0);
    // Minimal: no leading zero length byte, and long form only when short form cannot express it.
    if (buf[offset + 2] === 0 || length < 0x80) {
      throw new HsmError('HSM_ERR_DATA_INVALID', 'DER length is not minimally encoded');
    }
    headerLength = 2 + count;
  }
  const start = offset + headerLength;
  const end = start + length;
  if (end > buf.length) {
    throw new HsmError('HSM_ERR_DATA_INVALID', `DER length ${length} runs past the end of the input`);
  }
  return { tag, length, headerLength, content: buf.subarray(start, end), end };
}

/** Reads a TLV that must have `tag` and fill `buf` exactly (no trailing bytes). */
export function readWhole(buf: Uint8Array, tag: number, what: string): Tlv {
  const tlv = readTlv(buf, 0);
  if (tlv.tag !== tag) {
    throw new HsmError(
      'HSM_ERR_DATA_INVALID',
      `${what}: expected tag 0x${hex2(tag)}, got 0x${hex2(tlv.tag)}`,
    );
  }
  if (tlv.end !== buf.length) {
    throw new HsmError('HSM_ERR_DATA_INVALID', `${what}: ${buf.length - tlv.end} trailing bytes`);
  }
  return tlv;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
