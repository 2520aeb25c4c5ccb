import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * `node_modules/.cache/hsmkit` of the checkout that holds `file` (the node_modules with pkcs11js):
 * where a run from source keeps what it builds for member hosts (the esbuild bundle of the host,
 * the compiled isolation shim), named by content hash so processes and edits never share a stale file.
 */
export function sourceCacheDir(file: string): string {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules');
    if (existsSync(join(candidate, 'pkcs11js'))) return join(candidate, '.cache', 'hsmkit');
  }
  throw new Error('node_modules with pkcs11js not found');
}
