import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HsmError } from '../../errors/index.js';
import { sourceCacheDir } from './source-cache-dir.js';

/**
 * How a member host binds a module's symbols. `isolated` (default): the module is loaded through
 * the isolation shim (native/p11-isolate) with RTLD_DEEPBIND, so it and its own dependencies (the
 * system's libcrypto) resolve before the OpenSSL that the Node executable exports. `global`: pkcs11js
 * loads the module directly and Node's symbols come first (how hsmkit loaded modules before).
 */
export type SymbolBinding = 'isolated' | 'global';

/** Environment variable the shim reads to find the real module. */
export const ISOLATE_MODULE_ENV = 'HSMKIT_P11_ISOLATE_MODULE';
/** Optional path of a prebuilt shim; when set it is used as is and must exist (also lets tests make it unavailable). */
export const ISOLATE_SHIM_ENV = 'HSMKIT_P11_ISOLATE_SHIM';

/** What a member host loads, decided once per member. */
export interface SymbolPlan {
  /** The binding in force. */
  symbols: SymbolBinding;
  /** Why the binding differs from the one asked for (default `isolated` without a shim). */
  note?: string;
  /** The library pkcs11js loads when it is not the module itself (the shim). */
  loadPath?: string;
  /** Extra environment of the host process (the real module's path for the shim). */
  env: Record<string, string>;
}

const here = fileURLToPath(import.meta.url);
const runningFromSource = here.endsWith('.ts');
const SOURCE = fileURLToPath(new URL('../../../native/p11-isolate/p11-isolate.c', import.meta.url));
// dist/adapters/pkcs11/isolating-loader.js → dist/native/ (scripts/build-native.sh puts it there).
const BUILT = fileURLToPath(new URL('../../native/libhsmkit-p11-isolate.so', import.meta.url));

let cached: { path: string } | { reason: string } | undefined;

/**
 * Decides how `module` is loaded. `requested` is the member's `symbols` setting (absent: default
 * `isolated`). An explicit `isolated` without a usable shim is HSM_ERR_CONFIG; the default without
 * one falls back to `global` and says so in `note` (reported in the member's capability report).
 */
export function symbolPlan(
  module: string,
  requested: SymbolBinding | undefined,
  member?: string,
): SymbolPlan {
  if (requested === 'global') return { symbols: 'global', env: {} };
  const shim = isolationShim();
  if ('path' in shim)
    return { symbols: 'isolated', loadPath: shim.path, env: { [ISOLATE_MODULE_ENV]: module } };
  if (requested === 'isolated') {
    throw new HsmError(
      'HSM_ERR_CONFIG',
      `symbols: isolated needs the PKCS#11 isolation shim: ${shim.reason}`,
      member !== undefined ? { member } : {},
    );
  }
  return {
    symbols: 'global',
    note: `default symbols: isolated not applied (${shim.reason}); the module binds to Node's OpenSSL`,
    env: {},
  };
}

/**
 * The shim's path, or why there is none. Order: $HSMKIT_P11_ISOLATE_SHIM; from dist/, the shim
 * `npm run build` compiled; from source (tests, dev), compiled once with `cc` into
 * node_modules/.cache/hsmkit/, named by the hash of the C source (atomic rename, so parallel
 * processes never see half a file). Decided once per process, except for the environment override.
 */
export function isolationShim(): { path: string } | { reason: string } {
  const override = process.env[ISOLATE_SHIM_ENV];
  if (override !== undefined && override !== '') {
    return existsSync(override)
      ? { path: override }
      : { reason: `${ISOLATE_SHIM_ENV}=${override} does not exist` };
  }
  cached ??= runningFromSource ? compiledFromSource() : builtShim();
  return cached;
}

function builtShim(): { path: string } | { reason: string } {
  return existsSync(BUILT) ? { path: BUILT } : { reason: `${BUILT} is missing (npm run build compiles it)` };
}

function compiledFromSource(): { path: string } | { reason: string } {
  if (!existsSync(SOURCE)) return { reason: `${SOURCE} is missing` };
  try {
    const source = readFileSync(SOURCE);
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
    const dir = sourceCacheDir(SOURCE);
    const out = join(dir, `p11-isolate-${hash}.so`);
    if (existsSync(out)) return { path: out };
    mkdirSync(dir, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    try {
      execFileSync(process.env.CC || 'cc', ['-O2', '-shared', '-fPIC', '-o', tmp, SOURCE, '-ldl'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 60_000,
      });
      renameSync(tmp, out); // atomic: a concurrent reader sees the whole library or none
    } finally {
      rmSync(tmp, { force: true });
    }
    return { path: out };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    const detail =
      e.code === 'ENOENT' ? 'no C compiler (cc) found' : e.stderr?.toString().trim() || e.message;
    return { reason: `cannot compile ${SOURCE}: ${detail.split('\n')[0]}` };
  }
}
