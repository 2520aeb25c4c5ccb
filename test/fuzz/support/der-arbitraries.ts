/**
 * fast-check arbitraries for hostile DER/BER: random TLV trees with wrong tags, lying and huge
 * lengths, indefinite lengths and deep nesting, plus mutations (bit flips, truncation, splices,
 * length rewrites) of a valid seed. Shared by the CSR and OCSP properties.
 */
import fc from 'fast-check';

/** DER length octets for `n`. */
export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with a correct length. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

/** `depth` nested SEQUENCEs around `inner` (definite lengths). */
export function nestedSequences(depth: number, inner: Uint8Array = Buffer.alloc(0)): Buffer {
  let out: Buffer = Buffer.from(inner);
  for (let i = 0; i < depth; i++) out = tlv(0x30, out);
  return out;
}

/** `depth` nested indefinite-length SEQUENCEs (BER), each closed by end-of-contents. */
export function nestedIndefinite(depth: number): Buffer {
  return Buffer.concat([Buffer.alloc(depth * 2, Buffer.from([0x30, 0x80])), Buffer.alloc(depth * 2, 0)]);
}

const TAGS = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, 0x17, 0x18, 0x30, 0x31, 0xa0, 0xa1, 0xa3];

/** A length field that may lie: correct, too long, too short, huge, indefinite, or non-minimal. */
const lengthField = (actual: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(derLength(actual)) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((d) => derLength(actual + d)) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 64 }).map((d) => derLength(Math.max(0, actual - d))),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]),
        Buffer.from([0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        Buffer.from([0x8f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
        Buffer.from([0x80]),
        Buffer.from([0xff]),
        Buffer.from([0x82, 0x00, actual & 0x7f]),
      ),
    },
  );

/** Random TLV trees (mostly well-formed, sometimes lying) up to a few levels deep. */
export const derTree: fc.Arbitrary<Uint8Array> = fc.letrec<{ node: Uint8Array }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(
        fc.oneof(fc.constantFrom(...TAGS), fc.integer({ min: 0, max: 255 })),
        fc.uint8Array({ maxLength: 40 }),
      )
      .chain(([tag, content]) =>
        lengthField(content.length).map((len) => Buffer.concat([Buffer.from([tag]), len, content])),
      ),
    fc
      .tuple(
        fc.constantFrom(0x30, 0x31, 0xa0, 0xa1, 0xa2, 0xa3, 0x30),
        fc.array(tie('node'), { maxLength: 5 }),
      )
      .chain(([tag, children]) => {
        const content = Buffer.concat(children);
        return lengthField(content.length).map((len) => Buffer.concat([Buffer.from([tag]), len, content]));
      }),
  ),
})).node;

/** One mutation of a seed: flip, set, truncate, insert, delete, splice, duplicate or a length rewrite. */
export function mutationOf(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  const n = seed.length;
  const at = fc.integer({ min: 0, max: Math.max(0, n - 1) });
  const copy = () => Buffer.from(seed);
  return fc.oneof(
    fc.tuple(at, fc.integer({ min: 0, max: 7 })).map(([i, bit]) => {
      const b = copy();
      b[i] = b[i]! ^ (1 << bit);
      return b;
    }),
    fc.tuple(at, fc.integer({ min: 0, max: 255 })).map(([i, v]) => {
      const b = copy();
      b[i] = v;
      return b;
    }),
    at.map((i) => Buffer.from(seed.subarray(0, i))),
    fc
      .tuple(at, fc.uint8Array({ minLength: 1, maxLength: 64 }))
      .map(([i, ins]) => Buffer.concat([seed.subarray(0, i), ins, seed.subarray(i)])),
    fc
      .tuple(at, fc.integer({ min: 1, max: 32 }))
      .map(([i, k]) => Buffer.concat([seed.subarray(0, i), seed.subarray(Math.min(n, i + k))])),
    fc.tuple(at, derTree).map(([i, tree]) => Buffer.concat([seed.subarray(0, i), tree, seed.subarray(i)])),
    fc.tuple(at, at).map(([i, j]) => Buffer.concat([seed.subarray(0, i), seed.subarray(j)])),
    // Rewrite a length octet to the long form with a huge value.
    fc.tuple(at, fc.constantFrom(0x81, 0x82, 0x84, 0x88, 0x80, 0xff)).map(([i, v]) => {
      const b = copy();
      b[Math.min(i + 1, n - 1)] = v;
      return b;
    }),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((tail) => Buffer.concat([seed, tail])),
  );
}

/** Several mutations in a row (1..4). */
export function mutationsOf(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.integer({ min: 1, max: 4 }).chain((k) => {
    let arb: fc.Arbitrary<Uint8Array> = mutationOf(seed);
    for (let i = 1; i < k; i++) arb = arb.chain((m) => (m.length === 0 ? fc.constant(m) : mutationOf(m)));
    return arb;
  });
}
