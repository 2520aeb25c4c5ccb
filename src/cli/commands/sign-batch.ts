import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { algorithmName, parseSignAlgorithm } from '../../kms/sign-algorithm.js';
import { withContext } from '../context.js';
import { assertWritable, readInput, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';
import { remoteClient } from '../remote/remote-context.js';
import { type BatchOutcome, remoteSignBatch } from '../remote/sign.js';
import { collect } from '../repeatable.js';

interface BatchOptions {
  key?: string;
  in: string[];
  outDir?: string;
  alg?: string;
  format: string;
  batchSize: string;
  force?: boolean;
}

/**
 * `hsmkit sign-batch --key K --in F… --out-dir D`: signs many files' digests with one key, each
 * signature in `D/<file name>.sig`. Items succeed or fail alone; the run exits with the first
 * failed item's code after writing the others. With --server it uses POST /v1/sign/batch.
 */
export function registerSignBatch(program: Command, globals: () => GlobalOptions): void {
  program
    .command('sign-batch')
    .description('sign the digests of many files with one key (with --server: POST /v1/sign/batch)')
    .option('--key <key>', 'label or PKCS#11 URI')
    .option('--in <file>', 'a file to sign (repeatable)', collect, [])
    .option('--out-dir <dir>', 'folder for the signatures: <file name>.sig')
    .option(
      '--alg <alg>',
      'sha256|sha384|sha512, RSA-PSS-SHA256, ECDSA-SHA384 … (not EdDSA: batches carry digests)',
    )
    .option('--format <format>', 'ECDSA signature encoding: der (default) or raw', 'der')
    .option('--batch-size <n>', 'digests per request to the service (its batch_size caps it)', '16')
    .option('--force', 'overwrite existing signature files')
    .action(async (o: BatchOptions) => {
      const g = globals();
      const key = required(o.key, '--key');
      const outDir = required(o.outDir, '--out-dir');
      if (o.in.length === 0) throw new HsmError('HSM_ERR_INVALID_INPUT', '--in is required (repeatable)');
      if (o.format !== 'der' && o.format !== 'raw')
        throw new HsmError('HSM_ERR_INVALID_INPUT', '--format is der or raw');
      const chunk = Number(o.batchSize);
      if (!Number.isInteger(chunk) || chunk < 1 || chunk > 10_000)
        throw new HsmError('HSM_ERR_INVALID_INPUT', '--batch-size takes a positive integer');
      const outs = o.in.map((f) => join(outDir, `${basename(f)}.sig`));
      if (new Set(outs).size !== outs.length)
        throw new HsmError(
          'HSM_ERR_INVALID_INPUT',
          'two --in files share a name; their signatures would collide',
        );
      mkdirSync(outDir, { recursive: true });
      for (const out of outs) assertWritable(out, o.force);
      const inputs = o.in.map((f) => readInput(f));
      const format = o.format as 'der' | 'raw';
      const { algorithm, outcomes } = g.server
        ? await remoteSignBatch(remoteClient(g), key, inputs, o.alg, format, chunk)
        : await withContext(g, async (ctx) => {
            const info = await ctx.km.getKey(key);
            const alg = parseSignAlgorithm(o.alg, info.family);
            if (alg.scheme === 'eddsa' || alg.scheme === 'ml-dsa')
              throw new HsmError(
                'HSM_ERR_INVALID_INPUT',
                `${alg.scheme} signs whole messages; batches carry digests`,
              );
            const results: BatchOutcome[] = [];
            for (const data of inputs) {
              const digest = createHash(alg.hash ?? 'sha256')
                .update(data)
                .digest();
              try {
                const signature = await ctx.km.sign({ key: info.uri, digest, algorithm: alg, format });
                results.push({ ok: true, signature: Buffer.from(signature) });
              } catch (err) {
                if (!HsmError.is(err)) throw err;
                results.push({ ok: false, error: err });
              }
            }
            return { algorithm: algorithmName(alg), outcomes: results };
          });
      const items = outcomes.map((r, i) => {
        if (!r.ok) return { in: o.in[i]!, ok: false, error: r.error.toJSON() };
        writeOutput(outs[i]!, r.signature, o.force);
        return { in: o.in[i]!, ok: true, out: outs[i]!, bytes: r.signature.length };
      });
      const lines = () =>
        items
          .map((it) =>
            it.ok ? `signed ${it.in} → ${it.out}` : `FAILED ${it.in}: ${it.error?.code} ${it.error?.message}`,
          )
          .join('\n');
      const failed = outcomes.find((r) => !r.ok);
      if (failed && !failed.ok) {
        // One answer per run: the error carries every item's outcome (in --json), after the lines.
        if (!g.json) process.stdout.write(`${lines()}\n`);
        throw new HsmError(
          failed.error.code,
          `${items.filter((it) => !it.ok).length} of ${items.length} items failed`,
          {
            details: { items },
          },
        );
      }
      emit(g, { key, algorithm, format, items }, lines);
    });
}
