import { HsmError } from '../errors/index.js';

/**
 * Largest YAML document hsmkit parses (config, policy, ceremony script): 128 KiB. The yaml library
 * keeps about 0.5 MiB of heap per KiB of a dense flow list (measured: 64 KiB → 34 MiB, 256 KiB →
 * 122 MiB, 500 KiB → 245 MiB), so the cap bounds a hostile document to about 60 MiB while real
 * documents stay far below it (the largest example policy is a few KiB).
 */
export const MAX_YAML_BYTES = 128 * 1024;

/** Largest number of alias expansions in one document (guards against "billion laughs"). */
export const MAX_YAML_ALIASES = 100;

/**
 * Refuses a YAML document larger than {@link MAX_YAML_BYTES} with HSM_ERR_INVALID_INPUT, before
 * any parsing. `source` names the document in the message (never its content).
 */
export function checkYamlSize(text: string | Uint8Array, source: string): void {
  const bytes = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.byteLength;
  if (bytes > MAX_YAML_BYTES) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `${source}: the YAML document is ${bytes} bytes; at most ${MAX_YAML_BYTES} are accepted`,
      { details: { bytes, limit: MAX_YAML_BYTES } },
    );
  }
}
