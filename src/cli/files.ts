import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { HsmError } from '../errors/index.js';

/** Largest input file the CLI reads into memory. */
export const MAX_INPUT = 256 * 1024 * 1024;

/** Reads an input file; a missing or unreadable file is bad input (exit 2), not an internal error. */
export function readInput(path: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  if (data.length > MAX_INPUT)
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${path} is larger than ${MAX_INPUT} bytes`);
  return data;
}

/** Refuses an output path that exists, unless forced. Checked before any HSM work is done. */
export function assertWritable(path: string, force = false): void {
  if (!force && existsSync(path))
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${path} exists; pass --force to overwrite`);
}

/** Writes a file, refusing (atomically, O_EXCL) to replace an existing one unless forced. */
export function writeOutput(path: string, data: string | Uint8Array, force = false): void {
  assertWritable(path, force);
  try {
    writeFileSync(path, data, { flag: force ? 'w' : 'wx' });
  } catch (err) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}
