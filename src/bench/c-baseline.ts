import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchToken } from './bench-token.js';
import type { BenchKey } from './keys.js';

const execFileP = promisify(execFile);

/** The C program's source, found from src/bench or dist/bench (both two levels below the checkout). */
export function baselineSource(): string {
  const file = fileURLToPath(new URL('../../bench/baseline/p11-sign.c', import.meta.url));
  if (!existsSync(file)) throw new Error(`C baseline source not found at ${file}`);
  return file;
}

/** One run of the C sign loop (see bench/README.md). */
export interface CSignResult {
  ops: number;
  opsPerSec: number;
  p50us: number;
  p99us: number;
  /** CPU the signing threads used over the window, in cores. */
  cpuCores: number;
  /** dlopen + C_Initialize + slot lookup + session + C_Login + key lookup, in µs. */
  setupUs: number;
}

/** The raw C PKCS#11 baseline (bench/baseline/p11-sign.c), compiled into `dir` with `cc`. */
export class CBaseline {
  readonly bin: string;
  readonly setupUs: number[] = [];

  constructor(
    private readonly tok: BenchToken,
    dir: string,
  ) {
    this.bin = join(dir, 'p11-sign');
    execFileSync('cc', ['-O2', '-o', this.bin, baselineSource(), '-ldl', '-lpthread'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }

  private async run(args: string[], timeoutMs: number): Promise<unknown> {
    // The PIN travels in the environment, never on the command line.
    const { stdout } = await execFileP(this.bin, ['--token', this.tok.label, ...args], {
      env: { ...process.env, SOFTHSM2_CONF: this.tok.conf, P11_PIN: this.tok.userPin },
      timeout: timeoutMs,
      maxBuffer: 1 << 20,
    });
    return JSON.parse(stdout.trim());
  }

  /** Signs with `key` for `seconds` with T threads (a session each) or P processes. */
  async sign(
    key: BenchKey,
    opts: { threads?: number; processes?: number; seconds: number; warmupMs?: number },
  ): Promise<CSignResult> {
    const args = ['--key', key.label, '--mech', key.cMech, '--seconds', String(opts.seconds)];
    if (opts.processes) args.push('--processes', String(opts.processes));
    else args.push('--threads', String(opts.threads ?? 1));
    args.push('--warmup-ms', String(opts.warmupMs ?? 300));
    const r = (await this.run(args, Math.ceil((opts.seconds + 60) * 1000))) as CSignResult;
    this.setupUs.push(r.setupUs);
    return r;
  }

  /**
   * The better of 2 threads and 2 processes (on SoftHSM processes usually win, DESIGN.md);
   * `processesOnly` (the quick run) skips the threads.
   */
  async best(key: BenchKey, seconds: number, processesOnly = false): Promise<CSignResult & { mode: string }> {
    const workers = 2;
    const p = await this.sign(key, { processes: workers, seconds });
    if (processesOnly) return { ...p, mode: `${workers} processes` };
    const t = await this.sign(key, { threads: workers, seconds });
    return p.opsPerSec >= t.opsPerSec
      ? { ...p, mode: `${workers} processes` }
      : { ...t, mode: `${workers} threads` };
  }

  /** Seconds one RSA C_GenerateKeyPair (token key) takes. */
  async keygenRsa(bits: number): Promise<number> {
    const r = (await this.run(['--keygen-rsa', String(bits), '--count', '1'], 300_000)) as {
      samplesSeconds: number[];
    };
    return r.samplesSeconds[0]!;
  }
}
