import type { Command } from 'commander';
import { initCa } from '../../pki/ca.js';
import { toPem } from '../../pki/pem.js';
import { createPkiDeps, type PkiDeps } from '../../pki/pki-deps.js';
import { asPkiKeyManager } from '../../pki/pki-key-manager.js';
import { defaultPkiPolicy } from '../../pki/policy.js';
import { parseValidity } from '../../pki/validity.js';
import { type CliContext, type OpenContextOptions, withContext } from '../context.js';
import { assertWritable, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';

/** Runs `fn` with the PKI services over the configured HSM and store (shared by the PKI commands). */
export function withPki<T>(
  opts: GlobalOptions,
  fn: (deps: PkiDeps, ctx: CliContext) => Promise<T>,
  how: OpenContextOptions = {},
): Promise<T> {
  return withContext(
    opts,
    (ctx) =>
      fn(createPkiDeps(asPkiKeyManager(ctx.km), ctx.store, defaultPkiPolicy(ctx.config.securityPolicy)), ctx),
    how,
  );
}

/** PEM, or DER with --der; `label` is the PEM label. */
export function encodeOutput(
  der: Uint8Array,
  label: string,
  asDer: boolean | undefined,
): string | Uint8Array {
  return asDer ? der : toPem(der, label);
}

/** `hsmkit ca init …` and `hsmkit ca list`. */
export function registerCa(program: Command, globals: () => GlobalOptions): void {
  const ca = program.command('ca').description('certificate authorities with HSM keys');
  ca.command('init')
    .description('create a root CA, or an intermediate signed by --parent; the key is generated in the HSM')
    .option('--name <name>', 'CA name')
    .option('--subject <dn>', 'subject, e.g. "CN=Example Root,O=Example"')
    .option('--key-type <type>', 'ec-p384|rsa-4096|ed25519|…')
    .option('--key-label <label>', 'CKA_LABEL of the new key (default ca-<name>)')
    .option('--parent <ca>', 'issuing CA (omit for a root)')
    .option('--validity <duration>', 'e.g. 10y, 3650d (default 10y root, 5y intermediate)')
    .option('--path-len <n>', 'basicConstraints pathLenConstraint')
    .option('--out <file>', 'where to write the CA certificate (never overwritten)')
    .option('--der', 'write DER instead of PEM')
    .action(
      async (o: {
        name?: string;
        subject?: string;
        keyType?: string;
        keyLabel?: string;
        parent?: string;
        validity?: string;
        pathLen?: string;
        out?: string;
        der?: boolean;
      }) => {
        const out = required(o.out, '--out');
        const name = required(o.name, '--name');
        const subject = required(o.subject, '--subject');
        const keyType = required(o.keyType, '--key-type');
        const validityMs = o.validity === undefined ? undefined : parseValidity(o.validity);
        const pathLength = o.pathLen === undefined ? undefined : Number(o.pathLen);
        assertWritable(out);
        const r = await withPki(globals(), (deps) =>
          initCa(deps, {
            name,
            subject,
            keyType,
            ...(o.keyLabel === undefined ? {} : { keyLabel: o.keyLabel }),
            ...(o.parent === undefined ? {} : { parent: o.parent }),
            ...(validityMs === undefined ? {} : { validityMs }),
            ...(pathLength === undefined ? {} : { pathLength }),
          }),
        );
        writeOutput(out, encodeOutput(new Uint8Array(r.certificate.rawData), 'CERTIFICATE', o.der));
        emit(
          globals(),
          {
            name: r.ca.name,
            parent: r.ca.parent ?? null,
            serial: r.ca.serial,
            subject: r.certificate.subject,
            keyUri: r.ca.keyUri,
            keyType: r.ca.keyType,
            notBefore: r.certificate.notBefore.toISOString(),
            notAfter: r.certificate.notAfter.toISOString(),
            out,
          },
          () => `Created CA "${r.ca.name}" (${r.ca.keyType}, serial ${r.ca.serial}); certificate in ${out}`,
        );
      },
    );

  ca.command('list')
    .description('list the CAs')
    .action(async () => {
      const cas = await withPki(globals(), (deps) => deps.repo.listCas());
      const rows = cas.map((c) => ({
        name: c.name,
        parent: c.parent ?? null,
        keyUri: c.keyUri,
        keyType: c.keyType,
        serial: c.serial,
      }));
      emit(globals(), rows, () =>
        rows.length
          ? rows.map((r) => `${r.name.padEnd(24)} ${r.keyType.padEnd(9)} ${r.parent ?? '(root)'}`).join('\n')
          : 'No CAs.',
      );
    });
}
