/**
 * Fuzz: the member-host IPC framing (`FrameDecoder`) and batch decoder (`decodeBatch`), both
 * directions of the socket between hsmkit and its member hosts. Whatever bytes arrive, the decoder
 * yields entries or throws HSM_ERR_INTERNAL (the caller then kills the connection); it never
 * allocates what a corrupted length claims, and chunking never changes what is decoded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from '../../src/adapters/pkcs11/ipc/framing.js';
import { decodeBatch, type Entry, encodeBatch } from '../../src/adapters/pkcs11/ipc/messages.js';
import { HsmError, type HsmErrorJson } from '../../src/errors/index.js';
import { mutationsOf } from './support/der-arbitraries.js';
import {
  assertPrototypeClean,
  Bounds,
  checkCorpus,
  describeInput,
  fuzzParams,
  PROTOTYPE_KEYS,
  typedOutcome,
} from './support/harness.js';

const CODES = ['HSM_ERR_INTERNAL'] as const;

const hostileKey = fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 8 }));
const header = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(hostileKey, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
);
const entry: fc.Arbitrary<Entry> = fc
  .record({
    id: fc.nat({ max: 0xffffffff }),
    tag: fc.nat({ max: 255 }),
    header,
    body: fc.option(fc.uint8Array({ minLength: 1, maxLength: 256 }), { nil: undefined }),
  })
  .map((e) => (e.body === undefined ? { id: e.id, tag: e.tag, header: e.header } : e));

/** Decodes one batch payload: entries, or HSM_ERR_INTERNAL. */
function decode(bytes: Uint8Array) {
  return typedOutcome(
    () => decodeBatch(Buffer.from(bytes)),
    CODES,
    () => describeInput(bytes),
  );
}

/** Feeds a byte stream to a fresh FrameDecoder in the given chunk sizes. */
function feed(stream: Uint8Array, cuts: number[]) {
  const dec = new FrameDecoder();
  const frames: Buffer[] = [];
  let off = 0;
  for (const cut of [...cuts, stream.length]) {
    const end = Math.min(stream.length, off + Math.max(1, cut));
    frames.push(...dec.push(Buffer.from(stream.subarray(off, end))));
    off = end;
    if (off >= stream.length) break;
  }
  return frames;
}

describe('fuzz: member-host IPC decoder', () => {
  it('committed corpus: valid seeds decode, every malformed file is HSM_ERR_INTERNAL', async () => {
    await checkCorpus('ipc', (file) =>
      file.name.includes('.frame')
        ? typedOutcome(
            () => feed(file.bytes, [3, 5, 1000]).map((f) => decodeBatch(f)),
            CODES,
            () => file.name,
          ).ok
        : decode(file.bytes).ok,
    );
    assertPrototypeClean();
  });

  it('random bytes: entries or HSM_ERR_INTERNAL, bounded time and memory', () => {
    const bounds = new Bounds('decodeBatch(random)');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        bounds.run(() => decode(bytes));
      }),
      fuzzParams(),
    );
    bounds.finish();
  });

  it('mutations of valid batches: entries or HSM_ERR_INTERNAL; a decoded batch re-encodes to the same bytes', () => {
    const bounds = new Bounds('decodeBatch(mutated)');
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 4 }).chain((es) => mutationsOf(encodeBatch(es))),
        (bytes) => {
          const out = bounds.run(() => decode(bytes));
          if (out.ok) {
            // Whatever decodes is a real batch: encoding it again gives back the same semantics.
            const again = decodeBatch(encodeBatch(out.value));
            assert.deepEqual(again, out.value);
          }
        },
      ),
      fuzzParams(),
    );
    bounds.finish();
    assertPrototypeClean();
  });

  it('round trip: hostile headers (prototype keys, nesting, unicode) survive encode → frame → any chunking → decode', () => {
    const bounds = new Bounds('frame round trip');
    fc.assert(
      fc.property(
        fc.array(fc.array(entry, { maxLength: 4 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { maxLength: 40 }),
        (batches, cuts) => {
          bounds.run(() => {
            const stream = Buffer.concat(batches.map((b) => encodeFrame(encodeBatch(b))));
            const frames = feed(stream, cuts);
            assert.equal(frames.length, batches.length);
            frames.forEach((f, i) => {
              const want = JSON.parse(JSON.stringify(batches[i]!.map(({ body, ...rest }) => rest)));
              const got = decodeBatch(f);
              assert.deepEqual(JSON.parse(JSON.stringify(got.map(({ body, ...rest }) => rest))), want);
              got.forEach((e, j) => {
                assert.deepEqual(
                  e.body ? Buffer.from(e.body) : undefined,
                  batches[i]![j]!.body ? Buffer.from(batches[i]![j]!.body!) : undefined,
                );
              });
            });
          });
        },
      ),
      fuzzParams(),
    );
    bounds.finish();
    assertPrototypeClean();
  });

  it('a stream with a lying length prefix: HSM_ERR_INTERNAL at once for > MAX_FRAME_BYTES, nothing allocated for the claim', () => {
    const bounds = new Bounds('FrameDecoder(lying length)');
    fc.assert(
      fc.property(
        fc.integer({ min: MAX_FRAME_BYTES + 1, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 64 }),
        (length, rest) => {
          bounds.run(() => {
            const head = Buffer.alloc(4);
            head.writeUInt32BE(length);
            const out = typedOutcome(
              () => new FrameDecoder().push(Buffer.concat([head, rest])),
              CODES,
              () => `length ${length}`,
            );
            assert.equal(out.ok, false);
          });
        },
      ),
      fuzzParams(),
    );
    // A claim just under the limit, fed a little at a time, only buffers what arrived.
    const dec = new FrameDecoder();
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_FRAME_BYTES);
    assert.deepEqual(dec.push(head), []);
    for (let i = 0; i < 1000; i++) assert.deepEqual(dec.push(Buffer.alloc(1024)), []);
    bounds.finish();
  });

  it('an error entry from a host, whatever its JSON header, rebuilds as an HsmError (the parent must not throw in its socket handler)', () => {
    // member-host-process.ts onData: `call.reject(HsmError.fromJSON(e.header as HsmErrorJson))`.
    const bounds = new Bounds('HsmError.fromJSON(error entry)');
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(null)), (h) => {
        bounds.run(() => {
          const [e] = decodeBatch(encodeBatch([{ id: 1, tag: 0, header: h }]));
          let rebuilt: unknown;
          try {
            rebuilt = HsmError.fromJSON(e!.header as HsmErrorJson);
          } catch (err) {
            assert.fail(
              `HsmError.fromJSON threw ${(err as Error).name} for header ${JSON.stringify(h)?.slice(0, 200)}`,
            );
          }
          assert.ok(rebuilt instanceof HsmError);
        });
      }),
      fuzzParams(),
    );
    bounds.finish();
  });
});
