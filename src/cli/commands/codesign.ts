import type { Command } from 'commander';
import { signCms } from '../../pki/cms-sign.js';
import { loadSignerIdentity } from '../../pki/signer-identity.js';
import { assertWritable, readInput, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';
import { encodeOutput, withPki } from './ca.js';

/** `hsmkit codesign --key L --cert C --in artifact --out artifact.p7s [--detached]`. */
export function registerCodesign(program: Command, globals: () => GlobalOptions): void {
  program
    .command('codesign')
    .description(
      'CMS SignedData over an artefact, signed in the HSM, with signing time (code-signing certificate)',
    )
    .option('--key <key>', 'label or PKCS#11 URI')
    .option('--cert <file>', 'signer certificate (PEM; may be followed by its chain)')
    .option('--chain <file>', 'intermediate certificates to include (PEM)')
    .option('--in <file>', 'the artefact')
    .option('--out <file>', 'signature file (never overwritten)')
    .option('--detached', 'leave the artefact out of the signature')
    .option('--der', 'write DER instead of PEM')
    .action(
      async (o: {
        key?: string;
        cert?: string;
        chain?: string;
        in?: string;
        out?: string;
        detached?: boolean;
        der?: boolean;
      }) => {
        const key = required(o.key, '--key');
        const certFile = required(o.cert, '--cert');
        const input = required(o.in, '--in');
        const out = required(o.out, '--out');
        assertWritable(out);
        const content = readInput(input);
        const cert = readInput(certFile);
        const chain = o.chain === undefined ? undefined : readInput(o.chain);
        const r = await withPki(globals(), async (deps) => {
          const id = await loadSignerIdentity(deps.km, key, cert, chain, 'code-signing');
          const signingTime = deps.now();
          const der = await signCms(deps.km, {
            key: id.key,
            certificate: id.certificate,
            chain: id.chain,
            content,
            detached: Boolean(o.detached),
            signingTime,
          });
          return { der, id, signingTime };
        });
        writeOutput(out, encodeOutput(r.der, 'CMS', o.der));
        emit(
          globals(),
          {
            key: r.id.key.uri,
            signer: r.id.certificate.subject,
            serial: r.id.certificate.serialNumber,
            signingTime: r.signingTime.toISOString(),
            detached: Boolean(o.detached),
            in: input,
            out,
          },
          () => `Signed ${input} as ${r.id.certificate.subject}; CMS signature in ${out}`,
        );
      },
    );
}
