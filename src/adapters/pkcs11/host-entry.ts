import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceCacheDir } from './source-cache-dir.js';

/** How to start a member host: the script and the Node flags it needs. */
export interface HostEntry {
  script: string;
  execArgv: string[];
}

const here = fileURLToPath(import.meta.url);
const runningFromSource = here.endsWith('.ts');
const SOURCE_ENTRY = fileURLToPath(new URL('./host/host-main.ts', import.meta.url));
const BUILT_ENTRY = fileURLToPath(new URL('./host/host-main.js', import.meta.url));

let cached: HostEntry | undefined;

/**
 * The member host's entry point. From dist/ it is the built host-main.js. From source (tests,
 * dev), a child started as `node --import tsx host-main.ts` spends 300-500 ms compiling
 * TypeScript before it can load the module (docs/performance.md), so the host is bundled once per
 * parent process with esbuild (a dependency of tsx) into node_modules/.cache/hsmkit/, named by
 * the hash of its content so parallel processes and later edits never share a stale file.
 * If bundling fails, or HSMKIT_MEMBER_HOST_TSX=1 (the benchmark compares both), the host runs under tsx.
 */
export function hostEntry(): HostEntry {
  // Profiling (bench/profile.mts): Node refuses --cpu-prof in NODE_OPTIONS, so it is passed here.
  const prof = process.env.HSMKIT_MEMBER_HOST_CPU_PROF;
  const profArgs = prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [];
  if (!runningFromSource) return { script: BUILT_ENTRY, execArgv: profArgs };
  const tsx = { script: SOURCE_ENTRY, execArgv: [...profArgs, '--import', import.meta.resolve('tsx')] };
  if (process.env.HSMKIT_MEMBER_HOST_TSX === '1') return tsx;
  cached ??= bundledEntry() ?? { ...tsx, execArgv: ['--import', import.meta.resolve('tsx')] };
  return { ...cached, execArgv: [...profArgs, ...cached.execArgv] };
}

function bundledEntry(): HostEntry | undefined {
  try {
    const require = createRequire(import.meta.url);
    const esbuild = require('esbuild') as typeof import('esbuild');
    const out = esbuild.buildSync({
      entryPoints: [SOURCE_ENTRY],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      write: false,
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]!.contents;
    const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
    // Inside node_modules so the bundle resolves pkcs11js and the other packages like the source does.
    const dir = sourceCacheDir(SOURCE_ENTRY);
    const script = join(dir, `member-host-${hash}.mjs`);
    if (!existsSync(script)) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${script}.${process.pid}.tmp`;
      writeFileSync(tmp, code);
      renameSync(tmp, script); // atomic: a concurrent reader sees the whole file or none
    }
    return { script, execArgv: [] };
  } catch {
    return undefined;
  }
}
