/**
 * The hsmkit CLI run from source as a child process (`node --import tsx src/cli/run.ts …`), for
 * the integration tests, and other programs run the same way. Runs are asynchronous (a service
 * answering in the test's own process is not blocked) and never throw for a non-zero exit: the
 * caller asserts on the {@link CliResult}.
 */
import { type ExecFileException, execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root; CLI runs use it as their working directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The CLI's entry point in the sources. */
export const CLI_ENTRY = join(REPO_ROOT, 'src/cli/run.ts');

/** What one process produced; `code` is null when it was killed (signal, timeout). */
export interface CliResult {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

/** How to run a process with {@link runProcess}. */
export interface ProcessRunOptions {
  /** The whole environment of the child. */
  env: NodeJS.ProcessEnv;
  /** Kill the child after this many ms (its `code` is then null). Default 0: no limit. */
  timeoutMs?: number;
  /** Every result is also pushed here, e.g. for a secrets scan at the end of a file. */
  transcript?: CliResult[];
  /** The `args` the result records (default the real ones), e.g. without a PIN. */
  recordArgs?: string[];
}

/** How to run the CLI with {@link runCli}. */
export interface CliRunOptions extends Omit<ProcessRunOptions, 'env' | 'recordArgs'> {
  /** Added to the child's environment. Default none. */
  env?: Record<string, string>;
  /** Removed from the child's environment (e.g. HSMKIT_CONFIG of the test runner). Default none. */
  unsetEnv?: string[];
  /**
   * Start from an environment of PATH and HOME only instead of this process's ({@link childEnv}),
   * so no HSMKIT_* or SOFTHSM2_CONF of the test runner leaks into the child. Default false.
   */
  minimalEnv?: boolean;
}

/**
 * This process's environment without NODE_TEST_CONTEXT: a child started by a test file is not a
 * test file itself, and must not report to the test runner's channel.
 */
export function childEnv(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
  return env;
}

/** Runs `program` without a shell, in the repository root; never rejects for a non-zero exit. */
export function runProcess(program: string, args: string[], o: ProcessRunOptions): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      program,
      args,
      {
        cwd: REPO_ROOT,
        env: o.env,
        maxBuffer: 64 * 1024 * 1024,
        timeout: o.timeoutMs ?? 0,
        encoding: 'utf8',
      },
      (err: ExecFileException | null, stdout: string, stderr: string) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        const r: CliResult = { args: o.recordArgs ?? args, code, stdout, stderr };
        o.transcript?.push(r);
        resolve(r);
      },
    );
  });
}

/** Runs `hsmkit <args>` from source; resolves with the exit code and both streams. */
export function runCli(args: string[], opts: CliRunOptions = {}): Promise<CliResult> {
  const base = opts.minimalEnv ? { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } : childEnv();
  const env: NodeJS.ProcessEnv = { ...base, ...opts.env };
  for (const name of opts.unsetEnv ?? []) delete env[name];
  return runProcess(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    env,
    timeoutMs: opts.timeoutMs,
    transcript: opts.transcript,
    recordArgs: args,
  });
}

/** Parses the --json output of a run; a failure message carries the run's streams. */
export function cliJson<T = any>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout.slice(0, 400)} | ${r.stderr.slice(0, 400)}`);
  }
}

/** Returns a run that exited 0; throws, naming the command and its streams, otherwise. */
export function cliOk(r: CliResult): CliResult {
  if (r.code !== 0)
    throw new Error(
      `hsmkit ${r.args.join(' ')} exited ${r.code}: ${r.stderr.slice(0, 600)} ${r.stdout.slice(0, 600)}`,
    );
  return r;
}

/** The HSM_ERR_* code a failed run printed in text mode (`hsmkit: CODE: …` on stderr). */
export function cliErrorCode(r: CliResult): string | undefined {
  return /hsmkit: (HSM_ERR_[A-Z_]+):/.exec(r.stderr)?.[1];
}

/**
 * A gate that lets at most `n` of the calls it wraps run at once; the others wait their turn in
 * order. CLI runs each start a member host on one token, so a test file that runs many caps them.
 */
export function concurrencyLimit(n: number): <T>(start: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(start: () => Promise<T>): Promise<T> => {
    while (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await start();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
