import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { issueBatch, issueFromCsr } from '../../pki/issue.js';
import { renewCertificate } from '../../pki/renew.js';
import { parseSerial, reasonName, revokeCertificate } from '../../pki/revocation.js';
import { parseValidity } from '../../pki/validity.js';
import { assertWritable, readInput, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';
import * as remote from '../remote/pki.js';
import { collect } from '../repeatable.js';
import { encodeOutput, withPki } from './ca.js';
import { registerCertList } from './cert-list.js';

/** `hsmkit cert issue|renew|revoke|show`. */
export function registerCert(program: Command, globals: () => GlobalOptions): void {
  const cert = program.command('cert').description('issue, renew, revoke and show certificates');

  cert
    .command('issue')
    .description('issue from a CSR (repeat --csr with --out-dir to issue a batch in one HSM batch)')
    .option('--ca <name>', 'issuing CA')
    .option('--csr <file>', 'PKCS#10 request, PEM or DER (repeatable)', collect, [])
    .option('--profile <profile>', 'tls-server|tls-client|code-signing|ocsp-signing|document-signing')
    .option('--validity <duration>', 'e.g. 90d (default: the profile’s)')
    .option('--out <file>', 'certificate file, for one CSR (never overwritten)')
    .option('--out-dir <dir>', 'folder for a batch: <csr name>.pem (or .der)')
    .option('--der', 'write DER instead of PEM')
    .action(async (o: remote.CertIssueOptions) => {
      if (globals().server) return remote.certIssue(globals(), o);
      const ca = required(o.ca, '--ca');
      const profile = required(o.profile, '--profile');
      if (o.csr.length === 0) throw new HsmError('HSM_ERR_INVALID_INPUT', '--csr is required');
      const validityMs = o.validity === undefined ? undefined : parseValidity(o.validity);
      const ext = o.der ? 'der' : 'pem';
      if (o.csr.length === 1 && o.outDir === undefined) {
        const out = required(o.out, '--out');
        assertWritable(out);
        const csr = readInput(o.csr[0]!);
        const r = await withPki(globals(), (deps) =>
          issueFromCsr(deps, { ca, csr, profile, ...(validityMs === undefined ? {} : { validityMs }) }),
        );
        writeOutput(out, encodeOutput(r.record.der, 'CERTIFICATE', o.der));
        emit(
          globals(),
          { ...summary(r.record), out },
          () => `Issued ${r.record.serial} (${r.record.subject}) to ${out}`,
        );
        return;
      }
      const dir = required(o.outDir, '--out-dir');
      const outs = o.csr.map((f) => join(dir, `${basename(f).replace(/\.(csr|pem|der|req)$/i, '')}.${ext}`));
      if (new Set(outs).size !== outs.length)
        throw new HsmError('HSM_ERR_INVALID_INPUT', 'two CSRs map to one output name');
      for (const out of outs) assertWritable(out);
      const csrs = o.csr.map((f) => readInput(f));
      const results = await withPki(globals(), (deps) =>
        issueBatch(deps, { ca, csrs, profile, ...(validityMs === undefined ? {} : { validityMs }) }),
      );
      const rows = results.map((r, i) => {
        if (!r.ok) return { csr: o.csr[i], ok: false, error: r.error.toJSON() };
        writeOutput(outs[i]!, encodeOutput(r.issued.record.der, 'CERTIFICATE', o.der));
        return { csr: o.csr[i], ok: true, ...summary(r.issued.record), out: outs[i] };
      });
      emit(
        globals(),
        {
          issued: rows.filter((r) => r.ok).length,
          failed: rows.filter((r) => !r.ok).length,
          results: rows,
        },
        () =>
          rows
            .map((r) => ('out' in r ? `issued ${r.serial} -> ${r.out}` : `failed ${r.csr}: ${r.error.code}`))
            .join('\n'),
      );
      if (rows.some((r) => !r.ok)) process.exitCode = 1;
    });

  cert
    .command('renew')
    .argument('<serial>', 'serial of the certificate to renew (hex)')
    .description(
      'renew: same CA, profile, subject and names; --rekey makes a new HSM key and archives the old',
    )
    .option('--reuse-key', 'certify the same key again')
    .option('--rekey', 'generate a new key of the same type in the HSM')
    .option('--new-key-label <label>', 'CKA_LABEL of the new key (with --rekey)')
    .option('--out <file>', 'certificate file (never overwritten)')
    .option('--der', 'write DER instead of PEM')
    .action(
      async (
        serial: string,
        o: { reuseKey?: boolean; rekey?: boolean; newKeyLabel?: string; out?: string; der?: boolean },
      ) => {
        if (globals().server) return remote.certRenew(globals(), serial, o);
        if (Boolean(o.reuseKey) === Boolean(o.rekey)) {
          throw new HsmError('HSM_ERR_INVALID_INPUT', 'give exactly one of --reuse-key and --rekey');
        }
        const out = required(o.out, '--out');
        assertWritable(out);
        const r = await withPki(globals(), (deps) =>
          renewCertificate(deps, serial, o.rekey ? 'rekey' : 'reuse-key', o.newKeyLabel),
        );
        writeOutput(out, encodeOutput(r.record.der, 'CERTIFICATE', o.der));
        emit(
          globals(),
          {
            ...summary(r.record),
            renewedFrom: r.renewedFrom,
            newKeyUri: r.newKeyUri ?? null,
            archivedKeyUri: r.archivedKeyUri ?? null,
            out,
          },
          () =>
            `Renewed ${r.renewedFrom} as ${r.record.serial} in ${out}${r.newKeyUri ? ` (new key ${r.newKeyUri})` : ''}`,
        );
      },
    );

  cert
    .command('revoke')
    .argument('<serial>', 'serial (hex)')
    .description('revoke a certificate; CRLs and OCSP report it from now on')
    .option(
      '--reason <reason>',
      'unspecified|keyCompromise|cACompromise|affiliationChanged|superseded|cessationOfOperation|certificateHold|privilegeWithdrawn|aACompromise',
      'unspecified',
    )
    .action(async (serial: string, o: { reason: string }) => {
      if (globals().server) return remote.certRevoke(globals(), serial, o);
      const rec = await withPki(globals(), (deps) => revokeCertificate(deps, serial, o.reason));
      emit(
        globals(),
        {
          ...summary(rec),
          reason: reasonName(rec.revocation?.reason ?? 0),
          revokedAt: rec.revocation?.revokedAt,
        },
        () => `Revoked ${rec.serial} (${reasonName(rec.revocation?.reason ?? 0)})`,
      );
    });

  cert
    .command('show')
    .argument('<serial>', 'serial (hex)')
    .description('show a certificate’s record and status')
    .action(async (serial: string) => {
      if (globals().server) return remote.certShow(globals(), serial);
      const s = parseSerial(serial);
      const rec = await withPki(globals(), (deps) => deps.repo.getCertificate(s));
      if (!rec) throw new HsmError('HSM_ERR_INVALID_INPUT', `no certificate with serial ${s}`);
      emit(
        globals(),
        { ...summary(rec), revocation: rec.revocation ?? null },
        () => `${rec.serial} ${rec.status} ${rec.profile} ${rec.subject} (CA ${rec.ca})`,
      );
    });

  registerCertList(cert, globals);
}

function summary(r: {
  serial: string;
  ca: string;
  profile: string;
  subject: string;
  status: string;
  notBefore: string;
  notAfter: string;
  keyUri?: string;
  renewedFrom?: string;
}) {
  return {
    serial: r.serial,
    ca: r.ca,
    profile: r.profile,
    subject: r.subject,
    status: r.status,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    keyUri: r.keyUri ?? null,
    renewedFrom: r.renewedFrom ?? null,
  };
}
