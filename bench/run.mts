/**
 * `npm run bench [-- --quick]`: the benchmark suite (src/bench/suite.ts) from source, the same run
 * as `hsmkit bench`. Prints the markdown report on stdout, progress on stderr, and writes
 * bench/results/latest.json and latest.md. `--memory-signatures N` shortens the memory figure.
 */
import { benchMarkdown } from '../src/bench/report-markdown.js';
import { runBenchSuite } from '../src/bench/suite.js';

const argv = process.argv.slice(2);
const memory = argv.includes('--memory-signatures')
  ? Number(argv[argv.indexOf('--memory-signatures') + 1])
  : undefined;
if (memory !== undefined && !(Number.isInteger(memory) && memory > 0))
  throw new Error('--memory-signatures takes a positive whole number');
const report = await runBenchSuite({
  quick: argv.includes('--quick'),
  ...(memory ? { memorySignatures: memory } : {}),
  log: (line) => process.stderr.write(`[bench] ${line}\n`),
});
process.stdout.write(benchMarkdown(report));
if (Object.keys(report.failures).length > 0) process.exitCode = 1;
