/**
 * Test PINs: random, in one recognisable scheme (`tpin-` + 16 hex digits), and recorded for the
 * full-run secrets scan (scripts/test.sh → scripts/scan-test-run.mts): when HSMKIT_TEST_PIN_LOG
 * names a file, every PIN drawn is appended to it (mode 0600; the scan deletes it). The scheme lets
 * the scan find a PIN in any encoding even where the file was not written (a child process).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync } from 'node:fs';

/** The prefix of every test PIN. */
export const TEST_PIN_PREFIX = 'tpin-';
/** A test PIN, as a regular expression (global). */
export const TEST_PIN_PATTERN = /tpin-[0-9a-f]{16}/g;

/** Draws a fresh random test PIN and records it for the run's secrets scan. */
export function testPin(): string {
  return recordPin(`${TEST_PIN_PREFIX}${randomBytes(8).toString('hex')}`);
}

/**
 * A random PIN for a token whose PIN length cannot hold the scheme (opencryptoki: 4–8 characters):
 * `length` letters (52 symbols, so it does not turn up by chance in hex or decimal output), recorded
 * for the run's secrets scan, which then looks for it verbatim.
 */
export function shortTestPin(length = 8): string {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return recordPin([...randomBytes(length)].map((b) => letters[b % letters.length]).join(''));
}

/** Records a PIN drawn elsewhere for the run's secrets scan (when HSMKIT_TEST_PIN_LOG is set). */
export function recordPin(pin: string): string {
  const log = process.env.HSMKIT_TEST_PIN_LOG;
  if (log) {
    appendFileSync(log, `${pin}\n`, { mode: 0o600 });
    chmodSync(log, 0o600);
  }
  return pin;
}
