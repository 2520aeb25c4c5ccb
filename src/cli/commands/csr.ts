import type { Command } from 'commander';
import { createCsr } from '../../pki/csr.js';
import { resolveSigningKey } from '../../pki/signing-key.js';
import { assertWritable, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';
import * as remote from '../remote/pki.js';
import { encodeOutput, withPki } from './ca.js';

/** `hsmkit csr create --key L --subject DN [--san …] --out req.csr`. */
export function registerCsr(program: Command, globals: () => GlobalOptions): void {
  const csr = program.command('csr').description('certificate signing requests with HSM keys');
  csr
    .command('create')
    .description('write a PKCS#10 request signed in the HSM by --key')
    .option('--key <key>', 'label or PKCS#11 URI')
    .option('--subject <dn>', 'subject, e.g. "CN=www.example.com"')
    .option('--san <list>', 'dns:a.example,ip:10.0.0.1,email:x@example.com,uri:https://…')
    .option('--out <file>', 'output file (never overwritten)')
    .option('--der', 'write DER instead of PEM')
    .action(async (o: { key?: string; subject?: string; san?: string; out?: string; der?: boolean }) => {
      if (globals().server) return remote.csrCreate(globals(), o);
      const out = required(o.out, '--out');
      const key = required(o.key, '--key');
      const subject = required(o.subject, '--subject');
      assertWritable(out);
      const r = await withPki(globals(), async (deps) => {
        const k = await resolveSigningKey(deps.km, key);
        return { key: k, csr: await createCsr(k, subject, o.san, deps.signer) };
      });
      writeOutput(out, encodeOutput(new Uint8Array(r.csr.rawData), 'CERTIFICATE REQUEST', o.der));
      emit(
        globals(),
        { key: r.key.uri, subject: r.csr.subject, out },
        () => `Wrote a CSR for "${r.key.label}" (${r.csr.subject}) to ${out}`,
      );
    });
}
