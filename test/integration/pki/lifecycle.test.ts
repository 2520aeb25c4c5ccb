/**
 * The certificate lifecycle on a real SoftHSM token, for each CA key type (RSA-4096, EC-P384,
 * Ed25519): root → intermediate → leaf chains, CSRs, CRLs and revocation, OCSP (through the HTTP
 * app with app.inject), CMS code signing and JWS document signing. Every artefact is checked with
 * OpenSSL (or jose for JWS), and each positive check has a tampered twin that must fail.
 * The three key types run concurrently on one token.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compactVerify, importX509 } from 'jose';
import { initCa } from '../../../src/pki/ca.js';
import { signCms } from '../../../src/pki/cms-sign.js';
import { verifyCms } from '../../../src/pki/cms-verify.js';
import { generateCrl } from '../../../src/pki/crl.js';
import { createCsr } from '../../../src/pki/csr.js';
import { issueFromCsr } from '../../../src/pki/issue.js';
import { signJws, verifyJws } from '../../../src/pki/jws.js';
import { OcspResponder } from '../../../src/pki/ocsp/ocsp-responder.js';
import { pemCertificates, toPem } from '../../../src/pki/pem.js';
import { revokeCertificate } from '../../../src/pki/revocation.js';
import { loadSignerIdentity } from '../../../src/pki/signer-identity.js';
import { resolveSigningKey } from '../../../src/pki/signing-key.js';
import { buildApp } from '../../../src/server/app.js';
import { CrlPublisher } from '../../../src/server/crl-publisher.js';
import {
  flip,
  openFixture,
  opensslFails,
  opensslOk,
  opensslOutput,
  type PkiFixture,
  rejectsWith,
  writePem,
} from './support.js';

const CA_TYPES = ['rsa-4096', 'ec-p384', 'ed25519'] as const;
type CaType = (typeof CA_TYPES)[number];

let f: PkiFixture;

before(async () => {
  f = await openFixture();
});
after(async () => {
  await f?.close();
});

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}

/** Root and intermediate of one key type, written as PEM. */
const chains = new Map<CaType, () => Promise<{ rootPem: string; interPem: string; inter: string }>>();
function chain(kt: CaType) {
  let c = chains.get(kt);
  if (!c) {
    c = once(async () => {
      const root = await initCa(f.deps, {
        name: `root-${kt}`,
        subject: `CN=Root ${kt},O=hsmkit test`,
        keyType: kt,
      });
      const inter = await initCa(f.deps, {
        name: `inter-${kt}`,
        subject: `CN=Issuing ${kt},O=hsmkit test`,
        keyType: kt,
        parent: `root-${kt}`,
        pathLength: 0,
      });
      return {
        rootPem: writePem(f, `root-${kt}.pem`, root.certificate.rawData),
        interPem: writePem(f, `inter-${kt}.pem`, inter.certificate.rawData),
        inter: `inter-${kt}`,
      };
    });
    chains.set(kt, c);
  }
  return c();
}

/** A key in the HSM, a CSR for it, and a certificate of `profile` from the intermediate. */
async function leaf(kt: CaType, name: string, keyType: string, profile: string, san?: string) {
  const c = await chain(kt);
  const label = `${name}-${kt}`;
  await f.km.createKey({ label, type: keyType as never });
  const csr = await createCsr(await resolveSigningKey(f.deps.km, label), `CN=${label}`, san, f.deps.signer);
  const issued = await issueFromCsr(f.deps, { ca: c.inter, csr: new Uint8Array(csr.rawData), profile });
  return {
    ...c,
    label,
    csr,
    issued,
    csrPem: writePem(f, `${label}.csr`, csr.rawData, 'CERTIFICATE REQUEST'),
    certPem: writePem(f, `${label}.pem`, issued.certificate.rawData),
  };
}

describe('certificate lifecycle per CA key type', { concurrency: true }, () => {
  for (const kt of CA_TYPES) {
    describe(kt, { concurrency: true }, () => {
      it('root → intermediate → leaf passes openssl verify; the CSR passes openssl req -verify', async () => {
        const l = await leaf(kt, 'web', 'ec-p256', 'tls-server', 'dns:web.example,ip:127.0.0.1');
        assert.match(
          opensslOk(['verify', '-CAfile', l.rootPem, '-untrusted', l.interPem, l.certPem]),
          /: OK/,
        );
        assert.match(opensslOk(['req', '-verify', '-noout', '-in', l.csrPem]), /verify OK/i);
        // The chain's structure, as OpenSSL reads it.
        const inter = opensslOk(['x509', '-in', l.interPem, '-noout', '-text']);
        assert.match(inter, /CA:TRUE, pathlen:0/);
        assert.match(inter, /Certificate Sign, CRL Sign/);
        assert.match(opensslOk(['x509', '-in', l.certPem, '-noout', '-serial']), /serial=[0-9A-F]{32}\n/);
        // Tampered twins fail: a flipped signature bit, and a chain without the intermediate.
        const bad = writePem(f, `web-${kt}-tampered.pem`, flip(l.issued.certificate.rawData, -3));
        opensslFails(['verify', '-CAfile', l.rootPem, '-untrusted', l.interPem, bad]);
        opensslFails(['verify', '-CAfile', l.rootPem, l.certPem]);
        const badCsr = writePem(f, `web-${kt}-tampered.csr`, flip(l.csr.rawData, -3), 'CERTIFICATE REQUEST');
        // OpenSSL 3.0 `req -verify` exits 0 on a bad signature; the verdict is in the text.
        assert.match(opensslOutput(['req', '-verify', '-noout', '-in', badCsr]), /verify failure/);
      });

      it('CRL: verifies with openssl crl, and openssl verify -crl_check reports the revoked leaf', async () => {
        const revoked = await leaf(kt, 'revoked', 'ec-p256', 'tls-client');
        const kept = await leaf(kt, 'kept', 'ec-p256', 'tls-client');
        await revokeCertificate(f.deps, revoked.issued.record.serial, 'keyCompromise');
        const { crl, number } = await generateCrl(f.deps, revoked.inter);
        assert.ok(number >= 1);
        const crlPem = writePem(f, `inter-${kt}.crl`, crl.rawData, 'X509 CRL');
        assert.match(opensslOk(['crl', '-in', crlPem, '-CAfile', revoked.interPem, '-noout']), /verify OK/);
        const text = opensslOk(['crl', '-in', crlPem, '-noout', '-text']);
        assert.match(text, /X509v3 CRL Number: \n\s+\d+/);
        assert.match(text, /X509v3 Authority Key Identifier/);
        assert.match(text, /Next Update: /);
        assert.match(text, new RegExp(`Serial Number: ${revoked.issued.record.serial.toUpperCase()}`));
        assert.match(text, /Key Compromise/);
        const r = opensslFails([
          'verify',
          '-crl_check',
          '-CAfile',
          revoked.rootPem,
          '-untrusted',
          revoked.interPem,
          '-CRLfile',
          crlPem,
          revoked.certPem,
        ]);
        assert.match(r.stdout + r.stderr, /certificate revoked/);
        assert.match(
          opensslOk([
            'verify',
            '-crl_check',
            '-CAfile',
            kept.rootPem,
            '-untrusted',
            kept.interPem,
            '-CRLfile',
            crlPem,
            kept.certPem,
          ]),
          /: OK/,
        );
        // A tampered CRL does not verify.
        const bad = writePem(f, `inter-${kt}-tampered.crl`, flip(crl.rawData, -3), 'X509 CRL');
        // OpenSSL 3.0 `crl -CAfile` exits 0 on a bad signature; the verdict is in the text.
        assert.match(
          opensslOutput(['crl', '-in', bad, '-CAfile', revoked.interPem, '-noout']),
          /verify failure/,
        );
      });

      it('OCSP over the HTTP app: good, then revoked after revocation; responses verify; delegated responder', async () => {
        const l = await leaf(kt, 'ocsp', 'ec-p256', 'tls-server', 'dns:ocsp-leaf.example');
        const reqDer = join(f.work, `ocsp-${kt}.req`);
        opensslOk(['ocsp', '-issuer', l.interPem, '-cert', l.certPem, '-reqout', reqDer]);
        const ask = async (responder: OcspResponder, name: string) => {
          const app = buildApp({ ocsp: responder, crl: new CrlPublisher(f.deps) });
          const res = await app.inject({
            method: 'POST',
            url: '/ocsp',
            headers: { 'content-type': 'application/ocsp-request' },
            payload: readFileSync(reqDer),
          });
          await app.close();
          assert.equal(res.statusCode, 200);
          assert.equal(res.headers['content-type'], 'application/ocsp-response');
          const out = join(f.work, `${name}-${kt}.resp`);
          writeFileSync(out, res.rawPayload);
          // -reqin makes openssl check that the response echoes the request's nonce.
          const args = [
            'ocsp',
            '-reqin',
            reqDer,
            '-respin',
            out,
            '-issuer',
            l.interPem,
            '-CAfile',
            l.rootPem,
          ];
          return opensslOk([...args, '-resp_text']);
        };
        const responder = new OcspResponder(f.deps);
        await responder.refresh();
        const good = await ask(responder, 'good');
        assert.match(good, /Response verify OK/);
        assert.match(good, /Cert Status: good/);
        assert.match(good, /OCSP Nonce/);
        // The CA itself signed: the responder id is the intermediate's key hash.
        assert.match(good, /Responder Id: [0-9A-F]{40}/);
        await revokeCertificate(f.deps, l.issued.record.serial, 'superseded');
        const revoked = await ask(responder, 'revoked');
        assert.match(revoked, /Response verify OK/);
        assert.match(revoked, /Cert Status: revoked/);
        assert.match(revoked, /Revocation Reason: superseded/);
        // A delegated OCSP-signing certificate (id-pkix-ocsp-nocheck) signs once it exists.
        const d = await leaf(kt, 'responder', 'ec-p256', 'ocsp-signing');
        assert.match(opensslOk(['x509', '-in', d.certPem, '-noout', '-text']), /OCSP No Check/);
        const delegated = new OcspResponder(f.deps);
        await delegated.refresh();
        const viaDelegate = await ask(delegated, 'delegated');
        assert.match(viaDelegate, /Response verify OK/);
        assert.match(viaDelegate, /OCSP Signing/);
        assert.match(viaDelegate, /Cert Status: revoked/);
      });

      it('codesign: CMS SignedData verifies with openssl cms; a tampered artefact fails', async () => {
        const s = await leaf(kt, 'codesigner', kt, 'code-signing');
        const artifact = join(f.work, `artifact-${kt}.bin`);
        const content = new Uint8Array(Buffer.from(`firmware image ${kt}\n`.repeat(500)));
        writeFileSync(artifact, content);
        const id = await loadSignerIdentity(
          f.deps.km,
          s.label,
          readFileSync(s.certPem),
          readFileSync(s.interPem),
          'code-signing',
        );
        const cms = await signCms(f.deps.km, {
          key: id.key,
          certificate: id.certificate,
          chain: id.chain,
          content,
          detached: true,
          signingTime: new Date(),
        });
        const p7s = join(f.work, `artifact-${kt}.p7s`);
        writeFileSync(p7s, toPem(cms, 'CMS'));
        // OpenSSL 3.0 checks CMS signers for the S/MIME purpose by default and has no code-signing
        // purpose, so -purpose any; the EKU is checked separately below.
        const verify = [
          'cms',
          '-verify',
          '-binary',
          '-in',
          p7s,
          '-inform',
          'PEM',
          '-CAfile',
          s.rootPem,
          '-purpose',
          'any',
          '-out',
          '/dev/null',
        ];
        if (kt === 'ed25519') {
          // OpenSSL 3.0 cannot verify RFC 8419 Ed25519 SignerInfos (it asks EdDSA for a digest);
          // hsmkit's verifier (below) checks these. If OpenSSL learns it, this assertion says so.
          assert.match(opensslOutput([...verify, '-content', artifact]), /invalid digest/);
        } else {
          assert.match(opensslOk([...verify, '-content', artifact]), /Verification successful/);
        }
        assert.match(
          opensslOk(['x509', '-in', s.certPem, '-noout', '-ext', 'extendedKeyUsage']),
          /Code Signing/,
        );
        assert.match(opensslOk(['cms', '-cmsout', '-print', '-in', p7s, '-inform', 'PEM']), /signingTime/);
        const tampered = join(f.work, `artifact-${kt}.tampered`);
        writeFileSync(tampered, flip(content, 100));
        opensslFails([...verify, '-content', tampered]);
        // hsmkit's own verifier agrees both ways.
        const anchors = pemCertificates(readFileSync(s.rootPem));
        assert.equal(verifyCms(cms, content, anchors, new Date()).serial, s.issued.record.serial);
        await rejectsWith(
          async () => verifyCms(cms, flip(content, 100), anchors, new Date()),
          'HSM_ERR_INVALID_INPUT',
        );
      });

      it('docsign: a JWS with x5c verifies with jose; a tampered payload fails', async () => {
        const s = await leaf(kt, 'docsigner', kt, 'document-signing', 'email:docs@example.com');
        const id = await loadSignerIdentity(
          f.deps.km,
          s.label,
          readFileSync(s.certPem),
          readFileSync(s.interPem),
          'document-signing',
        );
        const doc = Buffer.from(JSON.stringify({ report: 'audit', keyType: kt, findings: [] }));
        const jws = await signJws(f.deps.km, id.key, [id.certificate, ...id.chain], doc);
        const header = JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString());
        assert.equal(header.x5c.length, 2);
        const pem = `-----BEGIN CERTIFICATE-----\n${header.x5c[0]}\n-----END CERTIFICATE-----`;
        const key = await importX509(pem, header.alg);
        const { payload } = await compactVerify(jws, key);
        assert.deepEqual(Buffer.from(payload), doc);
        const [h, p, sig] = jws.split('.');
        const other = Buffer.from(JSON.stringify({ report: 'forged' })).toString('base64url');
        await assert.rejects(compactVerify(`${h}.${other}.${sig}`, key));
        assert.notEqual(p, other);
        // hsmkit's verifier checks the x5c chain to the root as well.
        const anchors = pemCertificates(readFileSync(s.rootPem));
        assert.deepEqual(Buffer.from(verifyJws(jws, anchors, new Date()).payload), doc);
        await rejectsWith(
          async () => verifyJws(`${h}.${other}.${sig}`, anchors, new Date()),
          'HSM_ERR_INVALID_INPUT',
        );
      });
    });
  }
});
