import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { signCms } from '../../pki/cms-sign.js';
import { verifyCms } from '../../pki/cms-verify.js';
import { signJws, verifyJws } from '../../pki/jws.js';
import { fromPemOrDer, pemCertificates } from '../../pki/pem.js';
import { loadSignerIdentity } from '../../pki/signer-identity.js';
import { assertWritable, readInput, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';
import { encodeOutput, withPki } from './ca.js';

function isJson(bytes: Uint8Array): boolean {
  try {
    JSON.parse(Buffer.from(bytes).toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** `hsmkit docsign` (CMS detached, or JWS with x5c for JSON) and `hsmkit docverify`. */
export function registerDocsign(program: Command, globals: () => GlobalOptions): void {
  program
    .command('docsign')
    .description('sign a document in the HSM: detached CMS, or JWS (x5c chain) for JSON documents')
    .option('--key <key>', 'label or PKCS#11 URI')
    .option('--cert <file>', 'signer certificate (PEM; may be followed by its chain)')
    .option('--chain <file>', 'intermediate certificates (PEM)')
    .option('--in <file>', 'the document')
    .option('--out <file>', 'signature file (never overwritten)')
    .option('--format <format>', 'cms or jws (default: jws for JSON documents, else cms)')
    .option('--der', 'CMS as DER instead of PEM')
    .action(
      async (o: {
        key?: string;
        cert?: string;
        chain?: string;
        in?: string;
        out?: string;
        format?: string;
        der?: boolean;
      }) => {
        const key = required(o.key, '--key');
        const certFile = required(o.cert, '--cert');
        const input = required(o.in, '--in');
        const out = required(o.out, '--out');
        const content = readInput(input);
        const format = o.format ?? (isJson(content) ? 'jws' : 'cms');
        if (format !== 'cms' && format !== 'jws')
          throw new HsmError('HSM_ERR_INVALID_INPUT', '--format is cms or jws');
        if (format === 'jws' && !isJson(content))
          throw new HsmError('HSM_ERR_INVALID_INPUT', 'JWS is for JSON documents');
        assertWritable(out);
        const cert = readInput(certFile);
        const chain = o.chain === undefined ? undefined : readInput(o.chain);
        const r = await withPki(globals(), async (deps) => {
          const id = await loadSignerIdentity(deps.km, key, cert, chain, 'document-signing');
          const data =
            format === 'jws'
              ? await signJws(deps.km, id.key, [id.certificate, ...id.chain], content)
              : encodeOutput(
                  await signCms(deps.km, {
                    key: id.key,
                    certificate: id.certificate,
                    chain: id.chain,
                    content,
                    detached: true,
                    signingTime: deps.now(),
                  }),
                  'CMS',
                  o.der,
                );
          return { data, id };
        });
        writeOutput(out, r.data);
        emit(
          globals(),
          {
            format,
            key: r.id.key.uri,
            signer: r.id.certificate.subject,
            serial: r.id.certificate.serialNumber,
            in: input,
            out,
          },
          () => `Signed ${input} (${format}) as ${r.id.certificate.subject}; signature in ${out}`,
        );
      },
    );

  program
    .command('docverify')
    .description('verify a docsign signature (CMS or JWS) and its certificate chain; no HSM needed')
    .option('--sig <file>', 'the signature (CMS PEM/DER or compact JWS)')
    .option('--in <file>', 'the document (required for detached CMS; compared with a JWS payload)')
    .option('--ca <file>', 'trusted root certificate(s), PEM')
    .action(async (o: { sig?: string; in?: string; ca?: string }) => {
      const sig = readInput(required(o.sig, '--sig'));
      const anchors = pemCertificates(readInput(required(o.ca, '--ca')));
      const content = o.in === undefined ? undefined : readInput(o.in);
      const text = Buffer.from(sig).toString('utf8').trim();
      const now = new Date();
      if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/.test(text)) {
        const v = verifyJws(text, anchors, now);
        if (content && !Buffer.from(v.payload).equals(Buffer.from(content))) {
          throw new HsmError('HSM_ERR_INVALID_INPUT', 'the JWS payload is not the given document');
        }
        emit(
          globals(),
          { ok: true, format: 'jws', alg: v.alg, signer: v.signer },
          () => `Verified OK (JWS ${v.alg}) signed by ${v.signer}`,
        );
        return;
      }
      const v = verifyCms(fromPemOrDer(sig, ['CMS', 'PKCS7'], 'signature'), content, anchors, now);
      emit(
        globals(),
        {
          ok: true,
          format: 'cms',
          signer: v.signer,
          serial: v.serial,
          signingTime: v.signingTime?.toISOString() ?? null,
        },
        () => `Verified OK (CMS) signed by ${v.signer}`,
      );
    });
}
