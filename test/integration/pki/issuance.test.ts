/**
 * Issuance rules on a real SoftHSM token (EC-P384 CA): bad input gets a clear error code and is
 * never signed (bad CSR signature, weak key, unknown profile, validity above the cap, an issuer
 * that is not a CA, garbage and fuzzed DER), batch issuance goes to the HSM as one batch, renewal
 * with and without re-keying (the old key is archived and still verifies), lint findings, and the
 * HTTP app's malformed-request and CRL paths.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { HsmError } from '../../../src/errors/index.js';
import { initCa } from '../../../src/pki/ca.js';
import { createCsr, parseCsr } from '../../../src/pki/csr.js';
import { issueBatch, issueFromCsr, loadCa } from '../../../src/pki/issue.js';
import { loadIssuer } from '../../../src/pki/issuer.js';
import { lintCertificate } from '../../../src/pki/lint.js';
import { OcspResponder } from '../../../src/pki/ocsp/ocsp-responder.js';
import type { PkiDeps } from '../../../src/pki/pki-deps.js';
import { getProfile } from '../../../src/pki/profiles.js';
import { renewCertificate } from '../../../src/pki/renew.js';
import { resolveSigningKey } from '../../../src/pki/signing-key.js';
import { X509Crl } from '../../../src/pki/x509.js';
import { buildApp } from '../../../src/server/app.js';
import { CrlPublisher } from '../../../src/server/crl-publisher.js';
import { flip, openFixture, opensslOk, type PkiFixture, rejectsWith, writePem } from './support.js';

let f: PkiFixture;
let rootPem = '';
let interPem = '';
/** Counts signatures that reach the HSM, to prove that refused requests are never signed. */
let signCalls = 0;
let batchSizes: number[] = [];

before(async () => {
  f = await openFixture();
  // A counting view of the real key manager (not a mock: every call goes to SoftHSM).
  const km = f.deps.km;
  const counted = new Proxy(km, {
    get(target, prop) {
      if (prop === 'sign') {
        return (r: never) => {
          signCalls++;
          return target.sign(r);
        };
      }
      if (prop === 'signBatch') {
        return (r: never[]) => {
          batchSizes.push(r.length);
          signCalls += r.length;
          return target.signBatch!(r);
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  f.deps = { ...f.deps, km: counted } as PkiDeps;
  const { hsmTbsSigner } = await import('../../../src/pki/hsm-crypto.js');
  f.deps.signer = hsmTbsSigner(counted);
  const root = await initCa(f.deps, { name: 'root', subject: 'CN=Root,O=hsmkit test', keyType: 'ec-p384' });
  const inter = await initCa(f.deps, {
    name: 'inter',
    subject: 'CN=Inter,O=hsmkit test',
    keyType: 'ec-p384',
    parent: 'root',
  });
  rootPem = writePem(f, 'root.pem', root.certificate.rawData);
  interPem = writePem(f, 'inter.pem', inter.certificate.rawData);
});
after(async () => {
  await f?.close();
});

async function csrFor(label: string, type = 'ec-p256', san = `dns:${label}.example`): Promise<Uint8Array> {
  await f.km.createKey({ label, type: type as never });
  const csr = await createCsr(await resolveSigningKey(f.deps.km, label), `CN=${label}`, san, f.deps.signer);
  return new Uint8Array(csr.rawData);
}

/** Asserts `work` fails with `code` and that no signature reached the HSM meanwhile. */
async function refusedUnsigned(
  work: () => Promise<unknown>,
  code: Parameters<typeof rejectsWith>[1],
): Promise<void> {
  const before = signCalls;
  await rejectsWith(work, code);
  assert.equal(signCalls, before, 'a refused request reached the HSM');
}

describe('bad input gets a clear error and is never signed', () => {
  it('a CSR with a bad signature', async () => {
    const csr = await csrFor('badsig');
    await refusedUnsigned(
      () => issueFromCsr(f.deps, { ca: 'inter', csr: flip(csr, -5), profile: 'tls-server' }),
      'HSM_ERR_INVALID_INPUT',
    );
    // A changed subject (signed bytes) fails the same way.
    const i = Buffer.from(csr).indexOf(Buffer.from('badsig'));
    await refusedUnsigned(
      () => issueFromCsr(f.deps, { ca: 'inter', csr: flip(csr, i), profile: 'tls-server' }),
      'HSM_ERR_INVALID_INPUT',
    );
  });

  it('a CSR whose key is below policy (RSA-1024 made by openssl)', async () => {
    const key = join(f.work, 'weak.key');
    const csr = join(f.work, 'weak.csr');
    execFileSync(
      'openssl',
      [
        'req',
        '-new',
        '-newkey',
        'rsa:1024',
        '-nodes',
        '-keyout',
        key,
        '-subj',
        '/CN=weak.example',
        '-addext',
        'subjectAltName=DNS:weak.example',
        '-out',
        csr,
      ],
      { stdio: 'ignore' },
    );
    await refusedUnsigned(
      () => issueFromCsr(f.deps, { ca: 'inter', csr: readFileSync(csr), profile: 'tls-server' }),
      'HSM_ERR_POLICY',
    );
    // A P-256 openssl CSR of the same shape is accepted, so the refusal is about the key.
    execFileSync(
      'openssl',
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key.replace('weak', 'ok'),
        '-subj',
        '/CN=ok.example',
        '-addext',
        'subjectAltName=DNS:ok.example',
        '-out',
        csr.replace('weak', 'ok'),
      ],
      { stdio: 'ignore' },
    );
    const ok = await issueFromCsr(f.deps, {
      ca: 'inter',
      csr: readFileSync(csr.replace('weak', 'ok')),
      profile: 'tls-server',
    });
    assert.equal(ok.record.status, 'good');
    assert.equal(ok.record.keyUri, undefined, 'an external key is not linked to an HSM key');
  });

  it('an unknown profile, a CA profile, and a validity above the cap', async () => {
    const csr = await csrFor('caps');
    await refusedUnsigned(
      () => issueFromCsr(f.deps, { ca: 'inter', csr, profile: 'tls-everything' }),
      'HSM_ERR_INVALID_INPUT',
    );
    await refusedUnsigned(
      () => issueFromCsr(f.deps, { ca: 'inter', csr, profile: 'root-ca' }),
      'HSM_ERR_INVALID_INPUT',
    );
    await refusedUnsigned(
      () => issueFromCsr(f.deps, { ca: 'inter', csr, profile: 'tls-server', validityMs: 399 * 86_400_000 }),
      'HSM_ERR_POLICY',
    );
    await refusedUnsigned(
      () =>
        initCa(f.deps, {
          name: 'too-long',
          subject: 'CN=x',
          keyType: 'ec-p384',
          validityMs: 26 * 365 * 86_400_000,
        }),
      'HSM_ERR_POLICY',
    );
    // tls-server needs a DNS or IP name.
    const nosan = await csrFor('nosan', 'ec-p256', 'email:a@example.com');
    await refusedUnsigned(
      () => issueFromCsr(f.deps, { ca: 'inter', csr: nosan, profile: 'tls-server' }),
      'HSM_ERR_POLICY',
    );
  });

  it('an issuer that is not a CA', async () => {
    const csr = await csrFor('notca-leaf');
    const leaf = await issueFromCsr(f.deps, { ca: 'inter', csr, profile: 'tls-client' });
    await refusedUnsigned(
      () => loadIssuer(f.deps.km, 'notca', leaf.record.der, 'notca-leaf', new Date()),
      'HSM_ERR_POLICY',
    );
    await refusedUnsigned(
      () => issueFromCsr(f.deps, { ca: 'no-such-ca', csr, profile: 'tls-client' }),
      'HSM_ERR_INVALID_INPUT',
    );
    // A CA whose path length is 0 cannot certify another CA.
    await initCa(f.deps, {
      name: 'leafonly',
      subject: 'CN=Leaf only',
      keyType: 'ec-p256',
      parent: 'root',
      pathLength: 0,
    });
    await refusedUnsigned(
      () => initCa(f.deps, { name: 'below', subject: 'CN=Below', keyType: 'ec-p256', parent: 'leafonly' }),
      'HSM_ERR_POLICY',
    );
  });

  it('garbage CSRs: empty, text, a certificate, truncated DER', async () => {
    const csr = await csrFor('garbage');
    const cases = [
      new Uint8Array(),
      Buffer.from('hello'),
      Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\n!!\n-----END CERTIFICATE REQUEST-----'),
      readFileSync(rootPem),
      csr.subarray(0, csr.length - 10),
      new Uint8Array(200_000),
    ];
    for (const bytes of cases) {
      await refusedUnsigned(
        () => issueFromCsr(f.deps, { ca: 'inter', csr: new Uint8Array(bytes), profile: 'tls-server' }),
        'HSM_ERR_INVALID_INPUT',
      );
    }
  });

  it('fuzzed CSR DER never crashes the parser: always HsmError (fast-check, seed 42, 1000 runs)', async () => {
    const csr = await csrFor('fuzz');
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      // Mutations of a valid CSR: the parser meets realistic structure with one broken place.
      fc
        .record({
          at: fc.nat(csr.length - 1),
          byte: fc.integer({ min: 0, max: 255 }),
          cut: fc.nat(csr.length),
        })
        .map(({ at, byte, cut }) => {
          const m = csr.slice(0, Math.max(cut, at + 1));
          m[at] = byte;
          return m;
        }),
    );
    fc.assert(
      fc.property(arb, (bytes) => {
        try {
          parseCsr(bytes);
          return true; // a mutation that left the CSR valid (same byte) is fine
        } catch (err) {
          return err instanceof HsmError && err.code === 'HSM_ERR_INVALID_INPUT';
        }
      }),
      { seed: 42, numRuns: 1000 },
    );
  });
});

describe('issuance', () => {
  it('a batch of CSRs is signed in one HSM batch; a bad CSR fails alone', async () => {
    const csrs = await Promise.all([1, 2, 3, 4, 5].map((i) => csrFor(`batch-${i}`)));
    batchSizes = [];
    const results = await issueBatch(f.deps, {
      ca: 'inter',
      profile: 'tls-server',
      csrs: [...csrs, flip(csrs[0]!, -5)],
    });
    assert.deepEqual(batchSizes, [5], 'the five good CSRs went to the HSM as one batch');
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, true, true, true, true, false],
    );
    const bad = results[5]!;
    assert.ok(!bad.ok && bad.error.code === 'HSM_ERR_INVALID_INPUT');
    const serials = new Set(results.flatMap((r) => (r.ok ? [r.issued.record.serial] : [])));
    assert.equal(serials.size, 5);
    for (const r of results) {
      if (!r.ok) continue;
      const p = writePem(f, `batch-${r.issued.record.serial}.pem`, r.issued.record.der);
      assert.match(opensslOk(['verify', '-CAfile', rootPem, '-untrusted', interPem, p]), /: OK/);
      // 128-bit serials from the HSM RNG: 16 octets, top bit cleared.
      assert.match(r.issued.record.serial, /^[0-7]?[0-9a-f]{1,31}$/);
    }
  });

  it('renewal: --reuse-key keeps the key; --rekey makes a new HSM key and archives the old one', async () => {
    const csr = await csrFor('renewme');
    const first = await issueFromCsr(f.deps, { ca: 'inter', csr, profile: 'tls-server' });
    assert.ok(first.record.keyUri, 'the HSM key of the CSR is linked');
    const same = await renewCertificate(f.deps, first.record.serial, 'reuse-key');
    assert.equal(same.renewedFrom, first.record.serial);
    assert.deepEqual(
      Buffer.from(same.certificate.publicKey.rawData),
      Buffer.from(first.certificate.publicKey.rawData),
    );
    assert.equal(same.certificate.subject, first.certificate.subject);
    const re = await renewCertificate(f.deps, same.record.serial, 'rekey');
    assert.ok(re.newKeyUri && re.archivedKeyUri === first.record.keyUri);
    assert.notDeepEqual(
      Buffer.from(re.certificate.publicKey.rawData),
      Buffer.from(first.certificate.publicKey.rawData),
    );
    assert.equal(re.record.keyUri, re.newKeyUri);
    const oldKey = await f.deps.keys.get(first.record.keyUri!);
    assert.equal(oldKey?.status, 'archived');
    assert.equal(oldKey?.tags.replacedBy, re.newKeyUri);
    assert.equal((await f.deps.keys.get(re.newKeyUri!))?.tags.replaces, first.record.keyUri);
    const p = writePem(f, 'renewed.pem', re.record.der);
    assert.match(opensslOk(['verify', '-CAfile', rootPem, '-untrusted', interPem, p]), /: OK/);
    // The archived key is still in the HSM and still verifies, but PKI signing refuses it.
    const data = Buffer.from('signed before retirement');
    const sig = await f.km.sign({ key: first.record.keyUri!, data });
    assert.equal(await f.km.verify({ key: first.record.keyUri!, data, signature: sig }), true);
    await rejectsWith(resolveSigningKey(f.deps.km, first.record.keyUri!), 'HSM_ERR_POLICY');
    await rejectsWith(renewCertificate(f.deps, 'ffff', 'reuse-key'), 'HSM_ERR_INVALID_INPUT');
  });

  it('lint reports the rule a certificate breaks', async () => {
    const csr = await csrFor('lintme');
    const leaf = await issueFromCsr(f.deps, { ca: 'inter', csr, profile: 'tls-server' });
    const ca = await loadCa(f.deps, 'inter');
    const ctx = { maxValidityDays: 398, issuer: ca.certificate };
    assert.deepEqual(lintCertificate(leaf.certificate, { ...ctx, profile: getProfile('tls-server') }), []);
    const asCa = lintCertificate(leaf.certificate, { ...ctx, profile: getProfile('intermediate-ca') }).map(
      (x) => x.rule,
    );
    assert.ok(asCa.includes('L10') && asCa.includes('L11'), asCa.join());
    const asOcsp = lintCertificate(leaf.certificate, { ...ctx, profile: getProfile('ocsp-signing') }).map(
      (x) => x.rule,
    );
    assert.ok(asOcsp.includes('L12') && asOcsp.includes('L14'), asOcsp.join());
    const short = lintCertificate(leaf.certificate, {
      ...ctx,
      maxValidityDays: 30,
      profile: getProfile('tls-server'),
    });
    assert.deepEqual(
      short.map((x) => x.rule),
      ['L03'],
    );
  });
});

describe('HTTP app (app.inject)', () => {
  it('malformed OCSP requests get malformedRequest, unknown issuers unauthorized; never a crash', async () => {
    const ocsp = new OcspResponder(f.deps);
    await ocsp.refresh();
    const app = buildApp({ ocsp, crl: new CrlPublisher(f.deps) });
    const malformed = Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]);
    for (const payload of [Buffer.from('garbage'), Buffer.alloc(0), Buffer.from([0x30, 0x80, 0x00])]) {
      const res = await app.inject({
        method: 'POST',
        url: '/ocsp',
        headers: { 'content-type': 'application/ocsp-request' },
        payload,
      });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.rawPayload, malformed);
    }
    for (const url of ['/ocsp/%%%', '/ocsp/AAAA', `/ocsp/${'A'.repeat(30_000)}`]) {
      const res = await app.inject({ method: 'GET', url });
      assert.ok(res.statusCode === 200 || res.statusCode === 414, url);
      if (res.statusCode === 200) assert.deepEqual(res.rawPayload, malformed, url);
    }
    // A well-formed request for a CA this responder does not know: unauthorized (6).
    const other = join(f.work, 'other.req');
    const key = join(f.work, 'other.key');
    const cert = join(f.work, 'other.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-subj',
        '/CN=other',
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    opensslOk(['ocsp', '-issuer', cert, '-cert', cert, '-reqout', other]);
    const res = await app.inject({
      method: 'POST',
      url: '/ocsp',
      headers: { 'content-type': 'application/ocsp-request' },
      payload: readFileSync(other),
    });
    assert.deepEqual(res.rawPayload, Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x06]));
    await app.close();
  });

  it('GET /ocsp/<base64> answers like POST, from the pre-signed cache without a nonce', async () => {
    const csr = await csrFor('getme');
    const leaf = await issueFromCsr(f.deps, { ca: 'inter', csr, profile: 'tls-server' });
    const leafPem = writePem(f, 'getme.pem', leaf.record.der);
    const ocsp = new OcspResponder(f.deps);
    await ocsp.refresh();
    assert.ok(ocsp.lastRefreshSigned > 1, 'the refresh pre-signed responses in one batch');
    const app = buildApp({ ocsp, crl: new CrlPublisher(f.deps) });
    const req = join(f.work, 'get.req');
    opensslOk(['ocsp', '-no_nonce', '-issuer', interPem, '-cert', leafPem, '-reqout', req]);
    const before = signCalls;
    const res = await app.inject({
      method: 'GET',
      url: `/ocsp/${encodeURIComponent(readFileSync(req).toString('base64'))}`,
    });
    assert.equal(signCalls, before, 'a cached response needs no HSM signature');
    const out = join(f.work, 'get.resp');
    (await import('node:fs')).writeFileSync(out, res.rawPayload);
    const text = opensslOk([
      'ocsp',
      '-respin',
      out,
      '-issuer',
      interPem,
      '-cert',
      leafPem,
      '-CAfile',
      rootPem,
      '-no_nonce',
    ]);
    assert.match(text, /Response verify OK/);
    assert.match(text, /: good/);
    await app.close();
  });

  it('GET /crl/<ca>.crl publishes a verifiable CRL and re-signs after a revocation', async () => {
    const app = buildApp({ ocsp: new OcspResponder(f.deps), crl: new CrlPublisher(f.deps) });
    const first = await app.inject({ method: 'GET', url: '/crl/inter.crl' });
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['content-type'], 'application/pkix-crl');
    const p = writePem(f, 'published.crl', first.rawPayload, 'X509 CRL');
    assert.match(opensslOk(['crl', '-in', p, '-CAfile', interPem, '-noout']), /verify OK/);
    const again = await app.inject({ method: 'GET', url: '/crl/inter.crl' });
    assert.deepEqual(again.rawPayload, first.rawPayload, 'a fresh CRL is served as is');
    const csr = await csrFor('crl-revoke');
    const leaf = await issueFromCsr(f.deps, { ca: 'inter', csr, profile: 'tls-client' });
    await f.deps.repo.revoke(leaf.record.serial, 1, new Date());
    const after = await app.inject({ method: 'GET', url: '/crl/inter.crl' });
    const crl = new X509Crl(after.rawPayload);
    assert.ok(crl.entries.some((e) => e.serialNumber === leaf.record.serial));
    assert.equal((await app.inject({ method: 'GET', url: '/crl/nope.crl' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/crl/..%2Finter.crl' })).statusCode, 404);
    await app.close();
  });
});
