import type { Command } from 'commander';
import { generateCrl } from '../../pki/crl.js';
import { parseValidity } from '../../pki/validity.js';
import { assertWritable, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';
import * as remote from '../remote/pki.js';
import { encodeOutput, withPki } from './ca.js';

/** `hsmkit crl generate --ca NAME --out crl.pem [--next-update 7d]`. */
export function registerCrl(program: Command, globals: () => GlobalOptions): void {
  const crl = program.command('crl').description('certificate revocation lists');
  crl
    .command('generate')
    .description('sign a CRL in the HSM (CRL number, AKI, reasons); it also becomes the published one')
    .option('--ca <name>', 'the CA')
    .option('--next-update <duration>', 'nextUpdate − thisUpdate', '7d')
    .option('--out <file>', 'output file (never overwritten)')
    .option('--der', 'write DER instead of PEM')
    .action(async (o: { ca?: string; nextUpdate: string; out?: string; der?: boolean }) => {
      if (globals().server) return remote.crlGenerate(globals(), o);
      const ca = required(o.ca, '--ca');
      const out = required(o.out, '--out');
      const validity = parseValidity(o.nextUpdate);
      assertWritable(out);
      const r = await withPki(globals(), (deps) => generateCrl(deps, ca, validity));
      writeOutput(out, encodeOutput(new Uint8Array(r.crl.rawData), 'X509 CRL', o.der));
      emit(
        globals(),
        {
          ca,
          crlNumber: r.number,
          entries: r.crl.entries.length,
          thisUpdate: r.crl.thisUpdate.toISOString(),
          nextUpdate: r.crl.nextUpdate?.toISOString() ?? null,
          out,
        },
        () => `CRL #${r.number} of "${ca}" with ${r.crl.entries.length} entries in ${out}`,
      );
    });
}
