/**
 * Length-prefixed frames over a stream socket: [u32 BE length][payload]. The member host and its
 * parent exchange one frame per batch, so the per-message cost (about 20 µs, DESIGN.md) is paid
 * once for many operations.
 */
import { HsmError } from '../../../errors/index.js';

/** Frames larger than this are refused: a corrupted length must not make us allocate gigabytes. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

/** Prefixes a payload with its length. */
export function encodeFrame(payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(payload.length, 0);
  return Buffer.concat([header, payload]);
}

/** Accumulates stream chunks and yields whole frames. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Adds a chunk and returns every frame it completed, in order. Throws HSM_ERR_INTERNAL on an oversized frame. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES)
        throw new HsmError(
          'HSM_ERR_INTERNAL',
          `malformed member-host IPC frame: ${length} bytes exceeds ${MAX_FRAME_BYTES}`,
        );
      if (this.buffered < 4 + length) break;
      const all = this.take(4 + length);
      frames.push(all.subarray(4));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, n);
  }

  private take(n: number): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered -= n;
    return out;
  }
}
