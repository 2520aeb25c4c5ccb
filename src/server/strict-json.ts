import { HsmError } from '../errors/index.js';

/** Deepest nesting of arrays and objects a request body may have. */
export const MAX_JSON_DEPTH = 32;

/** Keys refused anywhere in a body: they poison prototypes when merged into objects. */
const POISON_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Parses a JSON request body strictly: nesting deeper than {@link MAX_JSON_DEPTH} is refused before
 * parsing (a scan, so a 10 MB `[[[[…` cannot exhaust the stack), and any prototype-polluting key
 * is refused. Every failure is HSM_ERR_INVALID_INPUT.
 */
export function parseStrictJson(text: string): unknown {
  if (text.trim() === '') throw new HsmError('HSM_ERR_INVALID_INPUT', 'the request body is empty');
  checkDepth(text);
  try {
    return JSON.parse(text, (key, value) => {
      if (POISON_KEYS.has(key)) {
        throw new HsmError('HSM_ERR_INVALID_INPUT', `the key "${key}" is not allowed in a request body`);
      }
      return value;
    });
  } catch (err) {
    if (err instanceof HsmError) throw err;
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `the request body is not valid JSON: ${(err as Error).message}`,
    );
  }
}

function checkDepth(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) {
        throw new HsmError(
          'HSM_ERR_INVALID_INPUT',
          `the request body nests deeper than ${MAX_JSON_DEPTH} levels`,
        );
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}
