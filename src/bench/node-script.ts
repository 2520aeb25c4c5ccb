import { fileURLToPath } from 'node:url';

const fromSource = import.meta.url.endsWith('.ts');

/**
 * Node arguments that run the hsmkit module at `path` (relative to src/ or dist/, without
 * extension) in a child process: the built .js from dist/, or the .ts under tsx from a checkout.
 */
export function nodeArgs(path: string): string[] {
  const file = fileURLToPath(new URL(`../${path}.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  return fromSource ? ['--import', import.meta.resolve('tsx'), file] : [file];
}

/** Whether this run is from TypeScript source (tsx) rather than the build. */
export const runningFromSource = fromSource;
