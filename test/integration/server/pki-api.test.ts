/**
 * The PKI endpoints end to end over mutual TLS on a SoftHSM token: a CSR made in the HSM, issuance,
 * listing, renewal (same key and a new external CSR), revocation, CRLs, OCSP and the bulk-issuance
 * and CRL jobs. Every artefact is checked with openssl, which hsmkit did not write.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initCa } from '../../../src/pki/ca.js';
import { toPem } from '../../../src/pki/pem.js';
import { createPkiDeps } from '../../../src/pki/pki-deps.js';
import { asPkiKeyManager } from '../../../src/pki/pki-key-manager.js';
import { defaultPkiPolicy } from '../../../src/pki/policy.js';
import { openssl } from '../../support/tools.js';
import {
  holdIdempotencyKey,
  openServiceFixture,
  problemCode,
  type ServiceFixture,
} from './service-fixture.js';

const CA = 'api-ca';

describe('PKI API over mutual TLS', () => {
  let f: ServiceFixture;
  let work: string;
  let caPem: string;
  let leafSerial: string;

  const ok = (args: string[]) => {
    const r = openssl(args);
    assert.equal(r.status, 0, `openssl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
    return `${r.stdout}${r.stderr}`;
  };
  const file = (name: string, text: string | Buffer) => {
    const p = join(work, name);
    writeFileSync(p, text);
    return p;
  };
  /** A CSR made by openssl with its own key (an external subscriber). */
  const externalCsr = (name: string, cn: string) => {
    const key = join(work, `${name}.key`);
    ok(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    const csr = join(work, `${name}.csr`);
    ok([
      'req',
      '-new',
      '-key',
      key,
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=DNS:${cn}`,
      '-out',
      csr,
    ]);
    return { key, csr, pem: readFileSync(csr, 'utf8') };
  };
  const verifies = (certPem: string, name: string) => {
    const p = file(`${name}.pem`, certPem);
    assert.match(ok(['verify', '-CAfile', caPem, p]), new RegExp(`${name}.pem: OK`));
    return p;
  };
  const job = async (body: unknown) => {
    const a = await f.send({ method: 'POST', path: '/v1/jobs', client: f.clients.signer, body });
    assert.equal(a.status, 202, a.text);
    for (let i = 0; i < 600; i++) {
      const j = await f.send({ path: `/v1/jobs/${a.json.id}`, client: f.clients.signer });
      assert.equal(j.status, 200, j.text);
      if (j.json.status === 'succeeded' || j.json.status === 'failed') return j.json;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('job did not finish');
  };

  before(async () => {
    f = await openServiceFixture({ rateLimit: { per_second: 50, burst: 200 } });
    work = mkdtempSync(join(tmpdir(), 'hsmkit-pki-api-'));
    const deps = createPkiDeps(
      asPkiKeyManager(f.ctx.km),
      f.ctx.store,
      defaultPkiPolicy(f.ctx.config.securityPolicy),
    );
    const ca = await initCa(deps, { name: CA, subject: 'CN=API Test CA,O=hsmkit', keyType: 'ec-p256' });
    caPem = file('ca.pem', toPem(new Uint8Array(ca.certificate.rawData), 'CERTIFICATE'));
    await f.ctx.km.createKey({ label: 'leaf-key', type: 'ec-p256' });
    // The service learns CAs at its OCSP refresh (hourly here); a new CA is known from the next one.
    await f.ocsp.refresh();
  });
  after(async () => {
    await f?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('POST /v1/pki/csr: a CSR signed in the HSM that openssl verifies', async () => {
    const a = await f.send({
      method: 'POST',
      path: '/v1/pki/csr',
      client: f.clients.signer,
      body: { key: 'leaf-key', subject: 'CN=leaf.api.test', san: ['dns:leaf.api.test'], algorithm: 'ES256' },
    });
    assert.equal(a.status, 200, a.text);
    const p = file('leaf.csr', a.json.csr_pem);
    const text = ok(['req', '-in', p, '-verify', '-noout', '-text']);
    assert.match(text, /verify OK|Certificate request self-signature verify OK/);
    assert.match(text, /DNS:leaf\.api\.test/);
    // The key's own algorithm is the only one: asking for another is refused.
    const wrong = await f.send({
      method: 'POST',
      path: '/v1/pki/csr',
      client: f.clients.signer,
      body: { key: 'leaf-key', subject: 'CN=x', algorithm: 'RS256' },
    });
    assert.equal(wrong.status, 400);
    assert.equal(problemCode(wrong), 'HSM_ERR_INVALID_INPUT');
  });

  it('POST /v1/pki/certificates issues from the HSM key’s CSR; openssl verify passes; list and get show it', async () => {
    const csr = readFileSync(join(work, 'leaf.csr'), 'utf8');
    const a = await f.send({
      method: 'POST',
      path: '/v1/pki/certificates',
      client: f.clients.signer,
      body: { ca: CA, csr_pem: csr, profile: 'tls-server', validity_days: 30 },
    });
    assert.equal(a.status, 201, a.text);
    leafSerial = a.json.serial;
    const p = verifies(a.json.certificate_pem, 'leaf');
    assert.match(ok(['x509', '-in', p, '-noout', '-serial']), new RegExp(`serial=${leafSerial}`, 'i'));

    const list = await f.send({
      path: `/v1/pki/certificates?ca=${CA}&status=good`,
      client: f.clients.auditor,
    });
    assert.equal(list.status, 200, list.text);
    const item = list.json.items.find((i: { serial: string }) => i.serial === leafSerial);
    assert.equal(item.status, 'good');
    assert.equal(item.ca, CA);
    assert.match(item.subject, /leaf\.api\.test/);

    const one = await f.send({ path: `/v1/pki/certificates/${leafSerial}`, client: f.clients.auditor });
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.certificate_pem, a.json.certificate_pem);
    assert.ok(one.json.key_uri.startsWith('pkcs11:'), 'linked to the HSM key');
  });

  it('issuance interrupted by a service death: the replay answers the stored certificate, or issues once', async () => {
    const hold = (key: string, body: unknown) =>
      holdIdempotencyKey(f, 'svc-signer', key, '/v1/pki/certificates', body);
    const send = (key: string, body: unknown) =>
      f.send({
        method: 'POST',
        path: '/v1/pki/certificates',
        client: f.clients.signer,
        body,
        headers: { 'idempotency-key': key },
      });
    const count = async () =>
      (await f.send({ path: `/v1/pki/certificates?ca=${CA}&limit=1000`, client: f.clients.auditor })).json
        .items.length as number;

    // Died after the certificate was stored: the replay returns it; nothing new is signed.
    const made = externalCsr('crash-made', 'crash-made.api.test');
    const body1 = { ca: CA, csr_pem: made.pem, profile: 'tls-server' };
    const first = await send('issue-first', body1);
    assert.equal(first.status, 201, first.text);
    await hold('issue-crashed-after', body1);
    const before = await count();
    const replay = await send('issue-crashed-after', body1);
    assert.equal(replay.status, 201, replay.text);
    assert.equal(replay.headers['idempotent-recovered'], 'true');
    assert.equal(replay.json.serial, first.json.serial);
    verifies(replay.json.certificate_pem, 'crash-made');
    assert.equal(await count(), before, 'no second certificate');

    // Died before anything was stored: the replay issues, once; a second replay is the stored answer.
    const none = externalCsr('crash-none', 'crash-none.api.test');
    const body2 = { ca: CA, csr_pem: none.pem, profile: 'tls-server' };
    await hold('issue-crashed-before', body2);
    const issued = await send('issue-crashed-before', body2);
    assert.equal(issued.status, 201, issued.text);
    assert.equal(issued.headers['idempotent-recovered'], undefined);
    verifies(issued.json.certificate_pem, 'crash-none');
    const again = await send('issue-crashed-before', body2);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.json.serial, issued.json.serial);
    assert.equal(await count(), before + 1);
  });

  it('renew: same key (new serial, renewed_from) and for a new external CSR (the CSR’s key, the old names)', async () => {
    const same = await f.send({
      method: 'POST',
      path: `/v1/pki/certificates/${leafSerial}/renew`,
      client: f.clients.signer,
      body: {},
    });
    assert.equal(same.status, 201, same.text);
    assert.notEqual(same.json.serial, leafSerial);
    assert.equal(same.json.renewed_from, leafSerial);
    verifies(same.json.certificate_pem, 'renewed');

    const ext = externalCsr('ext', 'ext.api.test');
    const issued = await f.send({
      method: 'POST',
      path: '/v1/pki/certificates',
      client: f.clients.signer,
      body: { ca: CA, csr_pem: ext.pem, profile: 'tls-server' },
    });
    assert.equal(issued.status, 201, issued.text);
    const ext2 = externalCsr('ext2', 'other-name.api.test');
    const renewed = await f.send({
      method: 'POST',
      path: `/v1/pki/certificates/${issued.json.serial}/renew`,
      client: f.clients.signer,
      body: { csr_pem: ext2.pem },
    });
    assert.equal(renewed.status, 201, renewed.text);
    const p = verifies(renewed.json.certificate_pem, 'ext-renewed');
    const certKey = ok(['x509', '-in', p, '-noout', '-pubkey']);
    const csrKey = ok(['pkey', '-in', ext2.key, '-pubout']);
    assert.equal(certKey.trim(), csrKey.trim());
    const text = ok(['x509', '-in', p, '-noout', '-text']);
    // The names are the certified ones, not what the renewal CSR asked for.
    assert.match(text, /DNS:ext\.api\.test/);
    assert.doesNotMatch(text, /other-name/);
  });

  it('revoke → the CRL lists the serial (openssl crl) and OCSP answers revoked (openssl ocsp)', async () => {
    const r = await f.send({
      method: 'POST',
      path: `/v1/pki/certificates/${leafSerial}/revoke`,
      client: f.clients.security_officer,
      body: { reason: 'keyCompromise' },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'revoked');
    assert.ok(!Number.isNaN(Date.parse(r.json.revoked_at)));
    const again = await f.send({
      method: 'POST',
      path: `/v1/pki/certificates/${leafSerial}/revoke`,
      client: f.clients.security_officer,
      body: { reason: 'keyCompromise' },
    });
    assert.equal(again.status, 400);
    assert.equal(problemCode(again), 'HSM_ERR_INVALID_INPUT');

    const crl = await f.send({
      method: 'POST',
      path: '/v1/pki/crls',
      client: f.clients.signer,
      body: { ca: CA },
    });
    assert.equal(crl.status, 201, crl.text);
    assert.ok(Number.isInteger(crl.json.crl_number));
    const crlFile = file('api.crl', crl.json.crl_pem);
    const text = ok(['crl', '-in', crlFile, '-CAfile', caPem, '-noout', '-text']);
    assert.match(text, /verify OK/);
    assert.match(text, new RegExp(`Serial Number: ${leafSerial}`, 'i'));
    assert.match(text, /Key Compromise/);
    // The published CRL is the one just made.
    const published = await f.send({ path: `/crl/${CA}.crl`, client: f.clients.auditor });
    assert.equal(published.status, 200);

    const reqDer = join(work, 'ocsp.req');
    const leafPem = join(work, 'leaf.pem');
    ok(['ocsp', '-issuer', caPem, '-cert', leafPem, '-reqout', reqDer]);
    const o = await f.send({
      method: 'POST',
      path: '/ocsp',
      client: f.clients.auditor,
      raw: readFileSync(reqDer),
      contentType: 'application/ocsp-request',
    });
    assert.equal(o.status, 200);
    const respFile = join(work, 'ocsp.resp');
    writeFileSync(respFile, o.bytes);
    // -reqin: openssl checks that the response echoes the request's nonce.
    const out = ok([
      'ocsp',
      '-reqin',
      reqDer,
      '-respin',
      respFile,
      '-issuer',
      caPem,
      '-CAfile',
      caPem,
      '-resp_text',
    ]);
    assert.match(out, /Response verify OK/);
    assert.match(out, /Cert Status: revoked/);
    assert.match(out, /Revocation Reason: keyCompromise/);
  });

  it('job pki.issue-bulk issues N certificates that each verify; job pki.crl signs a CRL', async () => {
    const csrs = [1, 2, 3].map((i) => externalCsr(`bulk${i}`, `bulk${i}.api.test`).pem);
    const done = await job({
      kind: 'pki.issue-bulk',
      params: { ca: CA, profile: 'tls-server', csr_pems: csrs },
    });
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.result.issued, 3);
    assert.equal(done.result.failed, 0);
    const serials = new Set<string>();
    for (const [i, r] of (
      done.result.results as Array<{ serial: string; certificate_pem: string }>
    ).entries()) {
      const p = verifies(r.certificate_pem, `bulk-cert-${i}`);
      assert.match(ok(['x509', '-in', p, '-noout', '-subject']), new RegExp(`bulk${i + 1}\\.api\\.test`));
      serials.add(r.serial);
    }
    assert.equal(serials.size, 3);

    const crl = await job({ kind: 'pki.crl', params: { ca: CA, next_update_days: 2 } });
    assert.equal(crl.status, 'succeeded', JSON.stringify(crl));
    const text = ok(['crl', '-in', file('job.crl', crl.result.crl_pem), '-CAfile', caPem, '-noout', '-text']);
    assert.match(text, /verify OK/);
    assert.match(text, new RegExp(`Serial Number: ${leafSerial}`, 'i'));

    // A bulk job with a bad CSR fails that CSR alone.
    const mixed = await job({
      kind: 'pki.issue-bulk',
      params: { ca: CA, profile: 'tls-server', csr_pems: [csrs[0], 'not a csr'] },
    });
    assert.equal(mixed.status, 'succeeded');
    assert.equal(mixed.result.issued, 1);
    assert.equal(mixed.result.results[1].error.code, 'HSM_ERR_INVALID_INPUT');
  });

  it('bad input on every PKI route is a 4xx problem with a code, and the service keeps answering', async () => {
    const csr = readFileSync(join(work, 'ext.csr'), 'utf8');
    const cases: Array<{ method: string; path: string; body?: unknown; status: number; code: string }> = [
      {
        method: 'POST',
        path: '/v1/pki/csr',
        body: { key: 'leaf-key', subject: 'CN=x', extra: 1 },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/pki/csr',
        body: { key: 'leaf-key', subject: 'not a dn' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/pki/csr',
        body: { key: 'no-such-key', subject: 'CN=x' },
        status: 404,
        code: 'HSM_ERR_KEY_NOT_FOUND',
      },
      {
        method: 'POST',
        path: '/v1/pki/certificates',
        body: { ca: CA, csr_pem: 'garbage', profile: 'tls-server' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/pki/certificates',
        body: { ca: 'nope', csr_pem: csr, profile: 'tls-server' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/pki/certificates',
        body: { ca: CA, csr_pem: csr, profile: 'root-ca' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/pki/certificates',
        body: { ca: CA, csr_pem: csr, profile: 'tls-server', validity_days: '30' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/pki/certificates',
        body: { ca: "x'; DROP TABLE pki_certificate;--", csr_pem: csr, profile: 'tls-server' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      { method: 'GET', path: '/v1/pki/certificates?limit=0', status: 400, code: 'HSM_ERR_INVALID_INPUT' },
      { method: 'GET', path: '/v1/pki/certificates?ca=unknown-ca', status: 404, code: 'HSM_ERR_NOT_FOUND' },
      { method: 'GET', path: '/v1/pki/certificates?bogus=1', status: 400, code: 'HSM_ERR_INVALID_INPUT' },
      { method: 'GET', path: '/v1/pki/certificates/zz-not-hex', status: 400, code: 'HSM_ERR_INVALID_INPUT' },
      { method: 'GET', path: '/v1/pki/certificates/0123abcd', status: 404, code: 'HSM_ERR_NOT_FOUND' },
      {
        method: 'POST',
        path: '/v1/pki/certificates/0123abcd/renew',
        body: {},
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: `/v1/pki/certificates/${leafSerial}/renew`,
        body: { csr_pem: csr, rekey: true },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: `/v1/pki/certificates/${leafSerial}/renew`,
        body: {},
        status: 403,
        code: 'HSM_ERR_POLICY',
      },
      {
        method: 'POST',
        path: '/v1/pki/certificates/0123abcd/revoke',
        body: { reason: 'keyCompromise' },
        status: 404,
        code: 'HSM_ERR_NOT_FOUND',
      },
      {
        method: 'POST',
        path: `/v1/pki/certificates/${leafSerial}/revoke`,
        body: { reason: 'because' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/pki/crls',
        body: { ca: 'nope' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/pki/crls',
        body: { ca: CA, next_update_days: 0 },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/jobs',
        body: { kind: 'pki.issue-bulk', params: { ca: CA, profile: 'tls-server', csr_pems: [] } },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/jobs',
        body: { kind: 'pki.crl', params: { ca: CA, extra: true } },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
    ];
    // The revoke route is the security officer's; the others are the signer's.
    for (const c of cases) {
      const client = c.path.endsWith('/revoke') ? f.clients.security_officer : f.clients.signer;
      const a = await f.send({
        method: c.method,
        path: c.path,
        client,
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      assert.equal(
        a.status,
        c.status,
        `${c.method} ${c.path} ${JSON.stringify(c.body)}: ${a.text.slice(0, 300)}`,
      );
      assert.equal(problemCode(a), c.code, `${c.method} ${c.path}`);
    }
    const h = await f.send({ path: '/healthz', client: f.clients.auditor });
    assert.equal(h.status, 200);
  });

  it('/openapi.json lists every PKI, policy, audit, ceremony and backup route with its operation and body schema', async () => {
    const a = await f.send({ path: '/openapi.json', client: f.clients.custodian });
    assert.equal(a.status, 200);
    const paths = a.json.paths as Record<string, Record<string, any>>;
    const expected: Array<[string, string, string]> = [
      ['/v1/pki/csr', 'post', 'pki.csr'],
      ['/v1/pki/certificates', 'post', 'pki.issue'],
      ['/v1/pki/certificates', 'get', 'pki.read'],
      ['/v1/pki/certificates/{serial}', 'get', 'pki.read'],
      ['/v1/pki/certificates/{serial}/renew', 'post', 'pki.renew'],
      ['/v1/pki/certificates/{serial}/revoke', 'post', 'pki.revoke'],
      ['/v1/pki/crls', 'post', 'pki.crl'],
      ['/v1/policies', 'get', 'policy.show'],
      ['/v1/policies/{version}', 'get', 'policy.show'],
      ['/v1/policies/validate', 'post', 'policy.show'],
      ['/v1/policies', 'post', 'policy.apply'],
      ['/v1/policies/{version}/approve', 'post', 'policy.approve'],
      ['/v1/policies/rollback', 'post', 'policy.rollback'],
      ['/v1/audit/export', 'get', 'audit.export'],
      ['/v1/audit/verify', 'post', 'audit.verify'],
      ['/v1/ceremonies', 'get', 'ceremony.read'],
      ['/v1/ceremonies/{id}', 'get', 'ceremony.read'],
      ['/v1/ceremonies/{id}/approvals', 'post', 'ceremony.approve'],
      ['/v1/backups', 'post', 'backup.create'],
      ['/v1/backups', 'get', 'backup.list'],
      ['/v1/backups/verify', 'post', 'backup.verify'],
    ];
    for (const [path, method, access] of expected) {
      const op = paths[path]?.[method];
      assert.ok(op, `${method} ${path} missing`);
      assert.equal(op['x-hsmkit-access'], access, `${method} ${path}`);
      if (method === 'post' && op.requestBody) {
        const schema = op.requestBody.content['application/json'].schema;
        assert.equal(schema.additionalProperties, false, `${path}: strict body`);
      }
    }
    const jobs = paths['/v1/jobs']!.post.requestBody.content['application/json'].schema.oneOf;
    const kinds = jobs.map((v: { properties: { kind: { const: string } } }) => v.properties.kind.const);
    for (const k of ['key.create', 'pki.issue-bulk', 'pki.crl', 'backup.create'])
      assert.ok(kinds.includes(k), k);
  });

  it('every PKI call was audited as its caller', async () => {
    const rows = await f.ctx.store.db
      .selectFrom('audit_log')
      .select(['actor', 'role', 'operation', 'result'])
      .where('operation', 'like', 'pki.%')
      .execute();
    const has = (actor: string, op: string, result = 'ok') =>
      rows.some((r) => r.actor === actor && r.operation === op && r.result === result);
    assert.ok(has('svc-signer', 'pki.csr'));
    assert.ok(has('svc-signer', 'pki.issue'));
    assert.ok(has('svc-signer', 'pki.renew'));
    assert.ok(has('svc-security_officer', 'pki.revoke'));
    assert.ok(has('svc-signer', 'pki.crl'));
    assert.ok(has('svc-signer', 'pki.renew', 'error'), 'the refused renewal of a revoked certificate');
  });
});
