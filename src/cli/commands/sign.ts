import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { algorithmName, parseSignAlgorithm } from '../../kms/sign-algorithm.js';
import { withContext } from '../context.js';
import { assertWritable, readInput, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';
import { remoteClient } from '../remote/remote-context.js';
import { signForCli } from '../remote/sign.js';

/** `hsmkit sign --key L --in FILE --out SIG [--alg …] [--format der|raw]`. */
export function registerSign(program: Command, globals: () => GlobalOptions): void {
  program
    .command('sign')
    .description('sign a file with an HSM key (SHA-256 by default; ECDSA output is DER unless --format raw)')
    .option('--key <key>', 'label or PKCS#11 URI')
    .option('--in <file>', 'file to sign')
    .option('--out <file>', 'where to write the signature')
    .option('--alg <alg>', 'sha256|sha384|sha512, or RSA-PSS-SHA256, RSA-PKCS1-SHA384, ECDSA-SHA512, EdDSA …')
    .option('--format <format>', 'ECDSA signature encoding: der (default) or raw (r||s)', 'der')
    .option('--force', 'overwrite --out if it exists')
    .action(
      async (o: {
        key?: string;
        in?: string;
        out?: string;
        alg?: string;
        format: string;
        force?: boolean;
      }) => {
        const key = required(o.key, '--key');
        const input = required(o.in, '--in');
        const out = required(o.out, '--out');
        if (o.format !== 'der' && o.format !== 'raw')
          throw new HsmError('HSM_ERR_INVALID_INPUT', '--format is der or raw');
        // Refuse an existing --out before the HSM signs: a real HSM audits every signature.
        assertWritable(out, o.force);
        const data = readInput(input);
        const g = globals();
        const result = g.server
          ? await signForCli(remoteClient(g), key, data, o.alg, o.format as 'der' | 'raw')
          : await withContext(g, async (ctx) => {
              const info = await ctx.km.getKey(key);
              const algorithm = parseSignAlgorithm(o.alg, info.family);
              const signature = await ctx.km.sign({
                key: info.uri,
                data,
                algorithm,
                format: o.format as 'der' | 'raw',
              });
              return { key: info.uri, label: info.label, algorithm: algorithmName(algorithm), signature };
            });
        writeOutput(out, result.signature, o.force);
        emit(
          globals(),
          {
            key: result.key,
            algorithm: result.algorithm,
            format: o.format,
            bytes: result.signature.length,
            out,
          },
          () =>
            `Signed ${input} with "${result.label}" (${result.algorithm}); ${result.signature.length}-byte signature in ${out}`,
        );
      },
    );
}
