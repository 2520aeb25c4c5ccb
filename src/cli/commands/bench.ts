import type { Command } from 'commander';
import { benchMarkdown } from '../../bench/report-markdown.js';
import { runBenchSuite } from '../../bench/suite.js';
import { HsmError } from '../../errors/index.js';
import type { GlobalOptions } from '../output.js';

/**
 * `hsmkit bench [--quick] [--out-dir DIR]`: the performance suite of docs/performance.md on
 * SoftHSM tokens it makes itself (needs softhsm2-util and cc), every figure next to the raw C
 * baseline of the same run. Writes latest.json and latest.md; prints the markdown (or the JSON
 * report with --json) on stdout and progress on stderr. Fails if a section failed.
 */
export function registerBench(program: Command, globals: () => GlobalOptions): void {
  program
    .command('bench')
    .description('run the performance benchmark against a raw C PKCS#11 baseline (docs/performance.md)')
    .option('--quick', 'smoke run: fewer samples and shorter windows (under 3 minutes)')
    .option('--out-dir <dir>', 'where latest.json and latest.md go (default: bench/results of the checkout)')
    .option('--memory-signatures <n>', 'signatures of the memory figure (default 1000000; 5000 with --quick)')
    .action(async (o: { quick?: boolean; outDir?: string; memorySignatures?: string }) => {
      const n = o.memorySignatures === undefined ? undefined : Number(o.memorySignatures);
      if (n !== undefined && !(Number.isInteger(n) && n > 0))
        throw new HsmError('HSM_ERR_INVALID_INPUT', '--memory-signatures takes a positive whole number');
      const report = await runBenchSuite({
        quick: o.quick === true,
        ...(o.outDir ? { outDir: o.outDir } : {}),
        ...(n ? { memorySignatures: n } : {}),
        log: (line) => process.stderr.write(`[bench] ${line}\n`),
      });
      if (globals().json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else process.stdout.write(benchMarkdown(report));
      const failed = Object.keys(report.failures);
      if (failed.length > 0)
        throw new HsmError(
          'HSM_ERR_INTERNAL',
          `benchmark sections failed: ${failed.join(', ')} (see the report)`,
        );
    });
}
