/**
 * Fuzz: PKCS#10 CSRs, DER and PEM (`parseCsr`, the PKI layer's only CSR entry point). Any bytes
 * give a verified CSR or HSM_ERR_INVALID_INPUT: truncated, over-long and huge lengths, wrong tags,
 * deep nesting, bad PEM, invalid UTF-8, 10 MB inputs. A mutated CSR that still parses must still
 * carry a signature that verifies (parseCsr checks it), so tampering is never accepted silently.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCsr } from '../../src/pki/csr.js';
import { toPem } from '../../src/pki/pem.js';
import { derTree, mutationsOf, nestedIndefinite, nestedSequences } from './support/der-arbitraries.js';
import {
  assertPrototypeClean,
  Bounds,
  checkCorpus,
  corpus,
  describeInput,
  fuzzParams,
  HUGE_INPUT_LIMITS,
  hugeString,
  typedOutcome,
} from './support/harness.js';

const CODES = ['HSM_ERR_INVALID_INPUT'] as const;

function parse(bytes: Uint8Array) {
  return typedOutcome(
    () => parseCsr(bytes),
    CODES,
    () => describeInput(bytes),
  );
}

/** DER of the valid seeds (PEM ones decoded). */
const SEEDS = corpus('csr')
  .filter((f) => f.valid)
  .map((f) => {
    const out = parse(f.bytes);
    assert.ok(out.ok, `${f.name} is a valid seed`);
    return out.value.der;
  });

describe('fuzz: CSR (DER and PEM)', () => {
  it('committed corpus: valid seeds parse and verify, every malformed file is HSM_ERR_INVALID_INPUT', async () => {
    await checkCorpus('csr', (file) => parse(file.bytes).ok);
  });

  it('mutated DER of valid CSRs: a verified CSR or HSM_ERR_INVALID_INPUT', () => {
    const bounds = new Bounds('parseCsr(mutated DER)');
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...SEEDS.keys()).chain((i) => mutationsOf(SEEDS[i]!).map((m) => ({ i, m }))),
        ({ i, m }) => {
          const out = bounds.run(() => parse(m));
          if (out.ok) {
            accepted++;
            // A mutation that still verifies may only have changed bytes outside the signed
            // content (e.g. the BIT STRING's unused-bits octet or a non-minimal length): the
            // public key and subject are the seed's.
            const seed = parseCsr(SEEDS[i]!);
            assert.deepEqual(
              Buffer.from(out.value.spki),
              Buffer.from(seed.spki),
              'a mutated CSR verified with another key',
            );
            assert.equal(out.value.subject.toString(), seed.subject.toString());
          }
        },
      ),
      fuzzParams(),
    );
    const stats = bounds.finish();
    console.log(
      `parseCsr(mutated DER): ${accepted} of ${stats.runs} mutations still verified`,
      JSON.stringify(stats),
    );
  });

  it('random TLV trees and PEM-wrapped garbage: HSM_ERR_INVALID_INPUT', () => {
    const bounds = new Bounds('parseCsr(random)');
    fc.assert(
      fc.property(
        fc.oneof(
          derTree,
          fc.uint8Array({ maxLength: 300 }),
          derTree.map((d) => Buffer.from(toPem(d, 'CERTIFICATE REQUEST'))),
          fc
            .string({ unit: 'binary', maxLength: 200 })
            .map((s) =>
              Buffer.from(`-----BEGIN CERTIFICATE REQUEST-----\n${s}\n-----END CERTIFICATE REQUEST-----\n`),
            ),
          fc.constantFrom(...SEEDS).chain((s) => mutationsOf(Buffer.from(toPem(s, 'CERTIFICATE REQUEST')))),
        ),
        (bytes) => {
          bounds.run(() => parse(bytes));
        },
      ),
      fuzzParams(),
    );
    bounds.finish();
    assertPrototypeClean();
  });

  it('10 MB inputs and deep nesting: refused in bounded time and memory', () => {
    const stats: unknown[] = [];
    for (const bytes of [
      Buffer.from(hugeString()),
      Buffer.from(
        `-----BEGIN CERTIFICATE REQUEST-----\n${hugeString()}\n-----END CERTIFICATE REQUEST-----\n`,
      ),
      Buffer.from(`-----BEGIN CERTIFICATE REQUEST-----\n${hugeString(10 * 1024 * 1024, ' ')}`),
      nestedSequences(30_000).subarray(0, 64 * 1024),
      nestedIndefinite(30_000),
      nestedIndefinite(16_000), // 64,000 bytes: under MAX_CSR_BYTES, so the DER reader sees it
      nestedSequences(12_000).subarray(0, 60_000),
      Buffer.from(`-----BEGIN ${hugeString(10 * 1024 * 1024, 'CERTIFICATE REQUEST')}`),
    ]) {
      const bounds = new Bounds('parseCsr(huge)', HUGE_INPUT_LIMITS);
      const out = bounds.run(() => parse(bytes));
      assert.equal(out.ok, false);
      stats.push(bounds.finish());
    }
    console.log('parseCsr(huge inputs)', JSON.stringify(stats));
  });
});
