/**
 * Test fixture: a fresh SoftHSM2 token in its own directory, with random PINs, as a real
 * deployment would have. Nothing is shared between tests; the directory is removed afterwards.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchToken, createBenchToken } from '../../src/bench/bench-token.js';
import { testPin } from './test-pins.js';

export { SOFTHSM_MODULE } from '../../src/bench/bench-token.js';

/** A SoftHSM token made for one test: the benchmark's token maker, with test PINs. */
export type SoftHsmToken = BenchToken;

/**
 * Creates a SoftHSM token directory and initialises one token in it, with random PINs in the
 * scheme the full-run secrets scan looks for (test-pins.ts).
 */
export function createSoftHsmToken(label = `t-${randomBytes(4).toString('hex')}`): SoftHsmToken {
  return createBenchToken(label, { pin: testPin, dirPrefix: 'hsmkit-softhsm-', source: 'test' });
}

/** One `members` entry of a configuration file, for a token whose PIN file sits beside it. */
export interface MemberEntry {
  name: string;
  token_label: string;
  pin_file: string;
  env: Record<string, string>;
}

/**
 * Writes each token's user and SO PIN files (`user-pin-<i>`, `so-pin-<i>`, mode 0600) into `dir`
 * and returns the `connection.members` entries of a configuration in `dir` that use them.
 */
export function memberEntries(
  dir: string,
  tokens: readonly SoftHsmToken[],
  name: (i: number) => string = (i) => `m${i}`,
): MemberEntry[] {
  return tokens.map((t, i) => {
    writeFileSync(join(dir, `user-pin-${i}`), t.userPin, { mode: 0o600 });
    writeFileSync(join(dir, `so-pin-${i}`), t.soPin, { mode: 0o600 });
    return { name: name(i), token_label: t.label, pin_file: `user-pin-${i}`, env: t.env };
  });
}
