/**
 * The member-host protocol: a frame holds a batch of entries. Each entry is an operation (or a
 * result) with a small JSON header and an optional binary body, so hot-path payloads (data to
 * sign, signatures) travel as bytes, not base64.
 *
 * Request entry:  [u32 id][u8 op][u32 headerLen][header JSON][u32 bodyLen][body]
 * Response entry: [u32 id][u8 ok(1)/error(0)][u32 headerLen][header JSON][u32 bodyLen][body]
 */
import { HsmError } from '../../../errors/index.js';

/** Operations a member host serves. */
export const OPS = [
  'init',
  'sign',
  'generateKeyPair',
  'findKeys',
  'publicKey',
  'deleteKey',
  'random',
  'capabilities',
  'attributes',
  'ping',
  'tokenInfo',
  'wrapPrivate',
  'unwrapPrivate',
  'createReplicationKey',
  'transportKey',
  'wrapReplicationKeyFor',
  'unwrapReplicationKey',
  'sealReplicationKey',
  'wrapSecretKeyUnderValue',
  'unwrapSecretKeyUnderValue',
  'sealPrivate',
  // Appended (wire codes are positions): pool and object counts for metrics (host/host-stats.ts).
  'stats',
] as const;

/** An operation name. */
export type Op = (typeof OPS)[number];

/** One operation or result in a batch. */
export interface Entry {
  id: number;
  /** For requests: the op code index. For responses: 1 = ok, 0 = error. */
  tag: number;
  header: unknown;
  body?: Uint8Array;
}

const EMPTY = Buffer.alloc(0);

/** Op name → wire code. */
export function opCode(op: Op): number {
  return OPS.indexOf(op);
}

/** Wire code → op name; undefined when out of range. */
export function opName(code: number): Op | undefined {
  return OPS[code];
}

/** Serialises a batch of entries into one frame payload. */
export function encodeBatch(entries: readonly Entry[]): Buffer {
  const headers = entries.map((e) =>
    e.header === undefined ? EMPTY : Buffer.from(JSON.stringify(e.header)),
  );
  let size = 4;
  for (let i = 0; i < entries.length; i++) size += 13 + headers[i]!.length + (entries[i]!.body?.length ?? 0);
  const out = Buffer.allocUnsafe(size);
  let off = out.writeUInt32BE(entries.length, 0);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const h = headers[i]!;
    const body = e.body ?? EMPTY;
    off = out.writeUInt32BE(e.id, off);
    off = out.writeUInt8(e.tag, off);
    off = out.writeUInt32BE(h.length, off);
    off += h.copy(out, off);
    off = out.writeUInt32BE(body.length, off);
    out.set(body, off);
    off += body.length;
  }
  return out;
}

/** A malformed batch: the peer is broken (or not a member host); callers kill the connection. */
function malformed(why: string): HsmError {
  return new HsmError('HSM_ERR_INTERNAL', `malformed member-host IPC batch: ${why}`);
}

/** Parses a frame payload into entries. Throws HSM_ERR_INTERNAL on truncated or inconsistent input. */
export function decodeBatch(buf: Buffer): Entry[] {
  if (buf.length < 4) throw malformed('too short');
  const count = buf.readUInt32BE(0);
  const entries: Entry[] = [];
  let off = 4;
  for (let i = 0; i < count; i++) {
    if (off + 9 > buf.length) throw malformed('truncated');
    const id = buf.readUInt32BE(off);
    const tag = buf.readUInt8(off + 4);
    const hlen = buf.readUInt32BE(off + 5);
    off += 9;
    if (off + hlen + 4 > buf.length) throw malformed('truncated');
    const header = hlen === 0 ? undefined : parseHeader(buf.toString('utf8', off, off + hlen));
    off += hlen;
    const blen = buf.readUInt32BE(off);
    off += 4;
    if (off + blen > buf.length) throw malformed('truncated');
    // Copy: the frame buffer is reused by the decoder's next chunk, and bodies outlive it.
    const body = blen === 0 ? undefined : Buffer.from(buf.subarray(off, off + blen));
    off += blen;
    entries.push(body === undefined ? { id, tag, header } : { id, tag, header, body });
  }
  if (off !== buf.length) throw malformed('trailing bytes');
  return entries;
}

function parseHeader(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // SyntaxError (not JSON) or RangeError (nesting too deep for the parser).
    throw malformed(`header is not JSON (${(err as Error).name})`);
  }
}
