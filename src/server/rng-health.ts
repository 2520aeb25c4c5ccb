/**
 * Basic health tests on samples of an HSM's RNG (bytes from C_GenerateRandom), after NIST
 * SP 800-90B §4.4 and SP 800-22 §2.1. They catch a stuck or badly biased generator; they do not
 * prove entropy. The sample is treated as 8-bit symbols with an assumed min-entropy of
 * {@link ASSUMED_MIN_ENTROPY} bits per byte (conservative: hsmkit does not know the vendor's
 * claim), which sets the cut-offs below at a false-alarm rate of about 2^-20 per test.
 */

/** Assumed min-entropy per byte (H) for the cut-offs. */
export const ASSUMED_MIN_ENTROPY = 4;
/** SP 800-90B 4.4.1 repetition count cut-off: 1 + ceil(20 / H). */
export const RCT_CUTOFF = 1 + Math.ceil(20 / ASSUMED_MIN_ENTROPY);
/** SP 800-90B 4.4.2 adaptive proportion window for non-binary samples. */
export const APT_WINDOW = 512;
/** SP 800-90B 4.4.2 cut-off for W = 512, H = 4, alpha = 2^-20 (Table 2). */
export const APT_CUTOFF = 62;
/** Monobit: largest |#ones − #zeros| / sqrt(n) accepted (p ≈ 1e-9 for a fair source). */
export const MONOBIT_MAX_Z = 6;
/** Bytes sampled per check by default (4 KiB). */
export const DEFAULT_SAMPLE_BYTES = 4096;

/** Names of the tests, as the failures counter labels them. */
export type RngTest = 'repetition_count' | 'adaptive_proportion' | 'monobit';

/** Outcome of one sample. */
export interface RngHealthResult {
  ok: boolean;
  /** The tests that failed (empty when ok). */
  failed: RngTest[];
  /** Longest run of one byte value. */
  longestRun: number;
  /** Highest count of a window's first value within the window. */
  maxProportion: number;
  /** |#ones − #zeros| / sqrt(bits). */
  monobitZ: number;
}

/** Runs the repetition count, adaptive proportion and monobit tests on `sample`. */
export function checkRngSample(sample: Uint8Array): RngHealthResult {
  if (sample.length < APT_WINDOW) throw new RangeError(`an RNG sample needs at least ${APT_WINDOW} bytes`);
  let longestRun = 1;
  let run = 1;
  for (let i = 1; i < sample.length; i++) {
    run = sample[i] === sample[i - 1] ? run + 1 : 1;
    if (run > longestRun) longestRun = run;
  }
  let maxProportion = 0;
  for (let start = 0; start + APT_WINDOW <= sample.length; start += APT_WINDOW) {
    const first = sample[start];
    let count = 0;
    for (let i = start; i < start + APT_WINDOW; i++) if (sample[i] === first) count++;
    if (count > maxProportion) maxProportion = count;
  }
  let ones = 0;
  for (const b of sample) ones += POPCOUNT[b]!;
  const bits = sample.length * 8;
  const monobitZ = Math.abs(2 * ones - bits) / Math.sqrt(bits);
  const failed: RngTest[] = [];
  if (longestRun >= RCT_CUTOFF) failed.push('repetition_count');
  if (maxProportion >= APT_CUTOFF) failed.push('adaptive_proportion');
  if (monobitZ > MONOBIT_MAX_Z) failed.push('monobit');
  return { ok: failed.length === 0, failed, longestRun, maxProportion, monobitZ };
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let x = b; x > 0; x >>= 1) n += x & 1;
  return n;
});
