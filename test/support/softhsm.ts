/**
 * Test fixture: a fresh SoftHSM2 token in its own directory, with random PINs, as a real
 * deployment would have. Nothing is shared between tests; the directory is removed afterwards.
 */
import { randomBytes } from 'node:crypto';
import { createBenchToken } from '../../src/bench/bench-token.js';
import type { Secret } from '../../src/config/secret.js';
import { testPin } from './test-pins.js';

export { SOFTHSM_MODULE } from '../../src/bench/bench-token.js';

/** A SoftHSM token made for one test. */
export interface SoftHsmToken {
  dir: string;
  conf: string;
  label: string;
  userPin: string;
  soPin: string;
  env: Record<string, string>;
  /** Member options for this token. */
  member(extra?: Record<string, unknown>): {
    name: string;
    module: string;
    tokenLabel: string;
    pin: Secret;
    env: Record<string, string>;
  };
  cleanup(): void;
}

/**
 * Creates a SoftHSM token directory and initialises one token in it, with random PINs in the
 * scheme the full-run secrets scan looks for (test-pins.ts).
 */
export function createSoftHsmToken(label = `t-${randomBytes(4).toString('hex')}`): SoftHsmToken {
  return createBenchToken(label, { pin: testPin, dirPrefix: 'hsmkit-softhsm-', source: 'test' });
}
