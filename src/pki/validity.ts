import { invalidInput, printable } from './pki-errors.js';

const DAY_MS = 86_400_000;
const UNITS: Record<string, number> = { h: DAY_MS / 24, d: DAY_MS, w: 7 * DAY_MS, y: 365 * DAY_MS };

/**
 * Parses a validity such as `90d`, `10y`, `12h` or `2w` into milliseconds. A year is 365 days, so
 * caps written in days and in years compare the same way on every date.
 */
export function parseValidity(text: string): number {
  const m = /^(\d{1,6})([hdwy])$/.exec(String(text).trim().toLowerCase());
  if (!m || Number(m[1]) === 0) {
    throw invalidInput(`validity "${printable(text)}" is not a duration like 90d, 10y, 12h or 2w`);
  }
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** Days, for messages. */
export function days(ms: number): number {
  return Math.round((ms / DAY_MS) * 100) / 100;
}
