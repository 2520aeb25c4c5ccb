/**
 * Who may do what, through real HTTPS with client certificates on a SoftHSM token: every route ×
 * every role against the access policy, TLS refusals without (or with a foreign) certificate,
 * identities that map to nothing or to two entries, MFA for the human operator, and rate limits.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { generate } from 'otplib';
import { initCa } from '../../../src/pki/ca.js';
import { createCsr } from '../../../src/pki/csr.js';
import { issueFromCsr } from '../../../src/pki/issue.js';
import { toPem } from '../../../src/pki/pem.js';
import { createPkiDeps } from '../../../src/pki/pki-deps.js';
import { asPkiKeyManager } from '../../../src/pki/pki-key-manager.js';
import { defaultPkiPolicy } from '../../../src/pki/policy.js';
import { resolveSigningKey } from '../../../src/pki/signing-key.js';
import { enrolTotp } from '../../../src/server/totp-enrolment.js';
import { call } from './https-client.js';
import {
  GRANTS,
  openServiceFixture,
  problemCode,
  ROLES,
  type Role,
  type ServiceFixture,
} from './service-fixture.js';

const digest = createHash('sha256').update('hsmkit service test').digest('base64');
const ALGORITHM = { scheme: 'ecdsa', hash: 'sha256' };

/** One route of the table: how to call it as `role`, and the operation the policy must grant (or public). */
interface RouteCase {
  name: string;
  operation: string | 'public';
  method: string;
  path: (role: Role) => string;
  body?: (role: Role) => unknown;
  /** Status of an allowed call. */
  ok: number;
}

const ROUTES: RouteCase[] = [
  {
    name: 'POST /v1/keys',
    operation: 'key.create',
    method: 'POST',
    path: () => '/v1/keys',
    body: (r) => ({ label: `new-${r}`, key_type: 'EC', curve: 'P-256' }),
    ok: 201,
  },
  { name: 'GET /v1/keys', operation: 'key.list', method: 'GET', path: () => '/v1/keys', ok: 200 },
  {
    name: 'GET /v1/keys/:label',
    operation: 'key.get',
    method: 'GET',
    path: () => '/v1/keys/shared',
    ok: 200,
  },
  {
    name: 'GET /v1/keys/:label/public',
    operation: 'key.public',
    method: 'GET',
    path: () => '/v1/keys/shared/public',
    ok: 200,
  },
  {
    name: 'DELETE /v1/keys/:label',
    operation: 'key.delete',
    method: 'DELETE',
    path: (r) => `/v1/keys/del-${r}`,
    ok: 204,
  },
  {
    name: 'POST /v1/sign',
    operation: 'key.sign',
    method: 'POST',
    path: () => '/v1/sign',
    body: () => ({ key: 'shared', digest, algorithm: ALGORITHM }),
    ok: 200,
  },
  {
    name: 'POST /v1/sign/batch',
    operation: 'key.sign',
    method: 'POST',
    path: () => '/v1/sign/batch',
    body: () => ({
      items: [
        { key: 'shared', digest, algorithm: ALGORITHM },
        { key: 'shared', digest },
      ],
    }),
    ok: 200,
  },
  {
    name: 'POST /v1/jobs',
    operation: 'key.create',
    method: 'POST',
    path: () => '/v1/jobs',
    body: (r) => ({ kind: 'key.create', request: { label: `job-${r}`, key_type: 'ec-p256' } }),
    ok: 202,
  },
  // PKI (CA "acc-ca" and one certificate per role are made in before()).
  {
    name: 'POST /v1/pki/csr',
    operation: 'pki.csr',
    method: 'POST',
    path: () => '/v1/pki/csr',
    body: () => ({ key: 'shared', subject: 'CN=acc.example.test' }),
    ok: 200,
  },
  {
    name: 'POST /v1/pki/certificates',
    operation: 'pki.issue',
    method: 'POST',
    path: () => '/v1/pki/certificates',
    body: () => ({ ca: 'acc-ca', csr_pem: fx.csrPem, profile: 'tls-server' }),
    ok: 201,
  },
  {
    name: 'GET /v1/pki/certificates',
    operation: 'pki.read',
    method: 'GET',
    path: () => '/v1/pki/certificates?ca=acc-ca',
    ok: 200,
  },
  {
    name: 'GET /v1/pki/certificates/:serial',
    operation: 'pki.read',
    method: 'GET',
    path: (r) => `/v1/pki/certificates/${fx.serials[r]}`,
    ok: 200,
  },
  {
    name: 'POST /v1/pki/certificates/:serial/renew',
    operation: 'pki.renew',
    method: 'POST',
    path: (r) => `/v1/pki/certificates/${fx.serials[r]}/renew`,
    body: () => ({}),
    ok: 201,
  },
  {
    name: 'POST /v1/pki/certificates/:serial/revoke',
    operation: 'pki.revoke',
    method: 'POST',
    path: (r) => `/v1/pki/certificates/${fx.serials[r]}/revoke`,
    body: () => ({ reason: 'superseded' }),
    ok: 200,
  },
  {
    name: 'POST /v1/pki/crls',
    operation: 'pki.crl',
    method: 'POST',
    path: () => '/v1/pki/crls',
    body: () => ({ ca: 'acc-ca' }),
    ok: 201,
  },
  {
    name: 'POST /v1/jobs (pki.crl)',
    operation: 'pki.crl',
    method: 'POST',
    path: () => '/v1/jobs',
    body: () => ({ kind: 'pki.crl', params: { ca: 'acc-ca' } }),
    ok: 202,
  },
  {
    name: 'POST /v1/jobs (pki.issue-bulk)',
    operation: 'pki.issue',
    method: 'POST',
    path: () => '/v1/jobs',
    body: () => ({
      kind: 'pki.issue-bulk',
      params: { ca: 'acc-ca', profile: 'tls-server', csr_pems: [fx.csrPem] },
    }),
    ok: 202,
  },
  {
    name: 'POST /v1/jobs (backup.create)',
    operation: 'backup.create',
    method: 'POST',
    path: () => '/v1/jobs',
    body: () => ({ kind: 'backup.create', params: { keys: 'none-*' } }),
    ok: 202,
  },
  // Policies: applying and rolling back to the document in force changes no grant.
  { name: 'GET /v1/policies', operation: 'policy.show', method: 'GET', path: () => '/v1/policies', ok: 200 },
  {
    name: 'GET /v1/policies/:version',
    operation: 'policy.show',
    method: 'GET',
    path: () => `/v1/policies/${fx.policyVersion}`,
    ok: 200,
  },
  {
    name: 'POST /v1/policies/validate',
    operation: 'policy.show',
    method: 'POST',
    path: () => '/v1/policies/validate',
    body: () => ({ document: fx.policyDocument }),
    ok: 200,
  },
  {
    name: 'POST /v1/policies',
    operation: 'policy.apply',
    method: 'POST',
    path: () => '/v1/policies',
    body: () => ({ document: fx.policyDocument }),
    ok: 201,
  },
  {
    name: 'POST /v1/policies/:version/approve (not pending: 400 once allowed)',
    operation: 'policy.approve',
    method: 'POST',
    path: () => `/v1/policies/${fx.policyVersion}/approve`,
    ok: 400,
  },
  {
    name: 'POST /v1/policies/rollback',
    operation: 'policy.rollback',
    method: 'POST',
    path: () => '/v1/policies/rollback',
    body: () => ({ to_version: fx.policyVersion }),
    ok: 200,
  },
  {
    name: 'GET /v1/audit/export',
    operation: 'audit.export',
    method: 'GET',
    path: () => '/v1/audit/export',
    ok: 200,
  },
  {
    name: 'POST /v1/audit/verify',
    operation: 'audit.verify',
    method: 'POST',
    path: () => '/v1/audit/verify',
    body: () => ({}),
    ok: 200,
  },
  {
    name: 'GET /v1/ceremonies',
    operation: 'ceremony.read',
    method: 'GET',
    path: () => '/v1/ceremonies',
    ok: 200,
  },
  {
    name: 'GET /v1/ceremonies/:id (unknown: 404 once allowed)',
    operation: 'ceremony.read',
    method: 'GET',
    path: () => '/v1/ceremonies/none',
    ok: 404,
  },
  {
    name: 'POST /v1/ceremonies/:id/approvals (unknown ceremony: 404 once allowed)',
    operation: 'ceremony.approve',
    method: 'POST',
    path: () => '/v1/ceremonies/none/approvals',
    body: () => ({ step: 1, custodian: 'ann', signature_b64: 'AAAA', challenge_b64: 'e30=' }),
    ok: 404,
  },
  {
    name: 'POST /v1/backups',
    operation: 'backup.create',
    method: 'POST',
    path: () => '/v1/backups',
    body: () => ({ keys: 'none-*' }),
    ok: 202,
  },
  { name: 'GET /v1/backups', operation: 'backup.list', method: 'GET', path: () => '/v1/backups', ok: 200 },
  {
    name: 'POST /v1/backups/verify',
    operation: 'backup.verify',
    method: 'POST',
    path: () => '/v1/backups/verify',
    body: () => ({ file_b64: Buffer.from('not a backup').toString('base64') }),
    ok: 200,
  },
  { name: 'GET /healthz', operation: 'public', method: 'GET', path: () => '/healthz', ok: 200 },
  { name: 'GET /readyz', operation: 'public', method: 'GET', path: () => '/readyz', ok: 200 },
  { name: 'GET /openapi.json', operation: 'public', method: 'GET', path: () => '/openapi.json', ok: 200 },
  {
    name: 'GET /crl/:file (unknown CA)',
    operation: 'public',
    method: 'GET',
    path: () => '/crl/nope.crl',
    ok: 404,
  },
];

/** The expected decision: written out per role, not derived from the code under test. */
const ALLOWED: Record<string, Role[]> = {
  'key.create': ['admin', 'operator'],
  'key.list': ['admin', 'security_officer', 'operator', 'auditor'],
  'key.get': ['admin', 'security_officer', 'operator', 'auditor', 'signer'],
  'key.public': ['admin', 'security_officer', 'operator', 'signer', 'service'],
  'key.delete': ['admin', 'security_officer', 'operator'],
  'key.sign': ['admin', 'signer', 'service'],
  'pki.csr': ['admin', 'signer'],
  'pki.issue': ['admin', 'signer'],
  'pki.read': ['admin', 'security_officer', 'operator', 'auditor', 'signer'],
  'pki.renew': ['admin', 'signer'],
  'pki.revoke': ['admin', 'security_officer'],
  'pki.crl': ['admin', 'signer'],
  'policy.show': ['admin', 'security_officer', 'operator', 'auditor'],
  'policy.apply': ['admin', 'operator'],
  'policy.approve': ['admin', 'security_officer'],
  'policy.rollback': ['admin', 'security_officer'],
  'audit.export': ['admin', 'security_officer', 'auditor'],
  'audit.verify': ['admin', 'security_officer', 'auditor'],
  'ceremony.read': ['admin', 'security_officer', 'auditor', 'custodian'],
  'ceremony.approve': ['admin', 'custodian'],
  'backup.create': ['admin', 'security_officer'],
  'backup.list': ['admin', 'security_officer', 'operator', 'auditor'],
  'backup.verify': ['admin', 'security_officer', 'auditor'],
  public: [...ROLES],
};

/** What the PKI and policy rows work on, made in before(). */
const fx = {
  csrPem: '',
  serials: {} as Record<Role, string>,
  policyVersion: 0,
  policyDocument: '',
};

describe('service access over mutual TLS', () => {
  let f: ServiceFixture;

  before(async () => {
    f = await openServiceFixture();
    // Keys the table operates on, made by the local admin (the CLI context's own actor).
    await f.ctx.km.createKey({ label: 'shared', type: 'ec-p256' });
    for (const r of ALLOWED['key.delete']!) await f.ctx.km.createKey({ label: `del-${r}`, type: 'ec-p256' });
    // A CA and a certificate per role (renew and revoke act on their own), as the local admin.
    const pki = createPkiDeps(
      asPkiKeyManager(f.ctx.km),
      f.ctx.store,
      defaultPkiPolicy(f.ctx.config.securityPolicy),
    );
    await initCa(pki, { name: 'acc-ca', subject: 'CN=Access CA', keyType: 'ec-p256' });
    const leaf = await resolveSigningKey(pki.km, 'shared');
    const csr = await createCsr(leaf, 'CN=acc.example.test', 'dns:acc.example.test', pki.signer);
    fx.csrPem = toPem(new Uint8Array(csr.rawData), 'CERTIFICATE REQUEST');
    for (const r of ROLES) {
      const issued = await issueFromCsr(pki, {
        ca: 'acc-ca',
        csr: Buffer.from(fx.csrPem),
        profile: 'tls-server',
      });
      fx.serials[r] = issued.record.serial;
    }
    const active = (await f.ctx.governance.policies.active())!;
    fx.policyVersion = active.version;
    fx.policyDocument = active.document;
  });
  after(async () => f?.close());

  it('the expected table agrees with the policy the fixture applies', () => {
    for (const [op, roles] of Object.entries(ALLOWED)) {
      if (op === 'public') continue;
      for (const r of ROLES)
        assert.equal(roles.includes(r), GRANTS[r].includes('*') || GRANTS[r].includes(op), `${r} ${op}`);
    }
  });

  for (const route of ROUTES) {
    it(`${route.name}: allowed for ${ALLOWED[route.operation]!.join(', ')}; refused (403 HSM_ERR_POLICY_VIOLATION) for the rest`, async () => {
      for (const role of ROLES) {
        const body = route.body?.(role);
        const a = await f.send({
          method: route.method,
          path: route.path(role),
          client: f.clients[role],
          ...(body === undefined ? {} : { body }),
        });
        if (ALLOWED[route.operation]!.includes(role)) {
          assert.equal(a.status, route.ok, `${role} ${route.name}: ${a.text.slice(0, 300)}`);
        } else {
          assert.equal(a.status, 403, `${role} ${route.name}: ${a.text.slice(0, 300)}`);
          assert.equal(problemCode(a), 'HSM_ERR_POLICY_VIOLATION');
        }
      }
    });
  }

  it('batch results come back in order, one per item', async () => {
    const a = await f.send({
      method: 'POST',
      path: '/v1/sign/batch',
      client: f.clients.signer,
      body: {
        items: [
          { key: 'shared', digest },
          { key: 'missing-key', digest },
          { key: 'shared', digest: Buffer.alloc(20).toString('base64') },
          { key: 'shared', digest },
        ],
      },
    });
    assert.equal(a.status, 200, a.text);
    const r = a.json.results as Array<{
      index: number;
      ok: boolean;
      error?: { code: string; status: number };
    }>;
    assert.deepEqual(
      r.map((x) => [x.index, x.ok]),
      [
        [0, true],
        [1, false],
        [2, false],
        [3, true],
      ],
    );
    assert.equal(r[1]!.error!.code, 'HSM_ERR_KEY_NOT_FOUND');
    assert.equal(r[1]!.error!.status, 404);
    // A 20-byte digest is not a SHA-256 digest.
    assert.equal(r[2]!.error!.code, 'HSM_ERR_INVALID_INPUT');
  });

  it('a batch of messages (EdDSA signs the message itself) verifies with openssl; digest and data together are refused', async () => {
    await f.ctx.km.createKey({ label: 'shared-ed', type: 'ed25519' });
    const messages = ['first', 'second', 'x'.repeat(10_000)].map((m) => Buffer.from(m));
    const a = await f.send({
      method: 'POST',
      path: '/v1/sign/batch',
      client: f.clients.signer,
      body: { items: messages.map((m) => ({ key: 'shared-ed', data: m.toString('base64') })) },
    });
    assert.equal(a.status, 200, a.text);
    const results = a.json.results as Array<{ ok: boolean; signature: string }>;
    const dir = mkdtempSync(join(tmpdir(), 'hsmkit-batch-ed-'));
    try {
      const pub = join(dir, 'pub.pem');
      writeFileSync(pub, (await f.ctx.km.getKey('shared-ed')).publicKeyPem);
      const verifies = (sig: string, msg: Buffer) => {
        writeFileSync(join(dir, 'sig'), Buffer.from(sig, 'base64'));
        writeFileSync(join(dir, 'msg'), msg);
        const args = ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', join(dir, 'msg')];
        return spawnSync('openssl', [...args, '-sigfile', join(dir, 'sig')]).status === 0;
      };
      for (const [i, m] of messages.entries()) {
        assert.ok(results[i]!.ok, `item ${i}`);
        assert.ok(verifies(results[i]!.signature, m), `openssl refused the signature of item ${i}`);
      }
      assert.ok(!verifies(results[0]!.signature, messages[1]!), 'a signature verified for another message');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const both = await f.send({
      method: 'POST',
      path: '/v1/sign/batch',
      client: f.clients.signer,
      body: { items: [{ key: 'shared-ed', data: 'AA==', digest: 'AA==' }] },
    });
    assert.equal(both.status, 400, both.text);
    assert.equal(problemCode(both), 'HSM_ERR_INVALID_INPUT');
  });

  it('a TLS 1.2 client cannot renegotiate (the certificate read at the first request stays the connection’s)', async () => {
    const url = new URL(f.base);
    const socket = tlsConnect({
      host: url.hostname,
      port: Number(url.port),
      ca: f.tls.ca,
      cert: f.clients.signer.cert,
      key: f.clients.signer.key,
      maxVersion: 'TLSv1.2',
      servername: 'localhost',
    });
    await once(socket, 'secureConnect');
    const http11 = (path: string) =>
      new Promise<string>((resolve) => {
        let text = '';
        const onData = (d: Buffer) => {
          text += d.toString();
          if (text.includes('\r\n\r\n')) {
            socket.off('data', onData);
            resolve(text);
          }
        };
        socket.on('data', onData);
        socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      });
    assert.match(await http11('/healthz'), /^HTTP\/1\.1 200/);
    const outcome = await new Promise<string>((resolve) => {
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(`refused: ${e.code ?? e.message}`));
      socket.once('close', () => resolve('closed'));
      socket.renegotiate({ rejectUnauthorized: true }, (err) =>
        resolve(err ? `refused: ${err.message}` : 'renegotiated'),
      );
    });
    assert.notEqual(outcome, 'renegotiated');
    socket.destroy();
    // The service still answers new connections.
    assert.equal((await f.send({ path: '/healthz', client: f.clients.admin })).status, 200);
  });

  it('a connection without a client certificate is refused by the TLS layer', async () => {
    await assert.rejects(call(f.base, f.tls.ca, { path: '/healthz' }), (err: NodeJS.ErrnoException) => {
      assert.match(
        String(err.code ?? err.message),
        /CERTIFICATE_REQUIRED|ECONNRESET|EPIPE|socket hang up|HANDSHAKE/i,
      );
      return true;
    });
  });

  it('a certificate from another CA is refused by the TLS layer', async () => {
    const rogue = f.tls.client('svc-admin', undefined, true);
    await assert.rejects(
      call(f.base, f.tls.ca, { path: '/v1/keys', client: rogue }),
      (err: NodeJS.ErrnoException) => {
        assert.match(String(err.code ?? err.message), /UNKNOWN_CA|ECONNRESET|EPIPE|socket hang up|ALERT/i);
        return true;
      },
    );
  });

  it('a certificate mapped to no identity, or to two, is 401 HSM_ERR_UNAUTHENTICATED', async () => {
    for (const client of [f.tls.client('nobody'), f.tls.client('dup', 'spiffe://hsmkit.test/dup')]) {
      const a = await f.send({ path: '/v1/keys', client });
      assert.equal(a.status, 401);
      assert.equal(problemCode(a), 'HSM_ERR_UNAUTHENTICATED');
    }
  });

  it('a role the identity does not hold (X-Hsmkit-Role) is refused', async () => {
    const a = await f.send({
      path: '/v1/keys',
      client: f.clients.auditor,
      headers: { 'x-hsmkit-role': 'admin' },
    });
    assert.equal(a.status, 403);
    assert.equal(problemCode(a), 'HSM_ERR_POLICY_VIOLATION');
  });

  describe('MFA for the human operator alice (certificate + TOTP)', () => {
    let secret: string;
    before(async () => {
      await enrolTotp(f.totp, 'alice');
      secret = (await f.totp.secret('alice'))!;
    });

    it('an operator route without a TOTP code is 401 HSM_ERR_MFA_REQUIRED', async () => {
      const a = await f.send({
        method: 'POST',
        path: '/v1/keys',
        client: f.alice,
        body: { label: 'alice-1', key_type: 'ec-p256' },
      });
      assert.equal(a.status, 401);
      assert.equal(problemCode(a), 'HSM_ERR_MFA_REQUIRED');
      assert.match(String(a.headers['www-authenticate']), /X-Hsmkit-Otp/);
    });

    it('a wrong TOTP code is 401 HSM_ERR_UNAUTHENTICATED', async () => {
      const good = await generate({ secret });
      const wrong = String((Number(good) + 500_000) % 1_000_000).padStart(6, '0');
      const a = await f.send({
        method: 'POST',
        path: '/v1/keys',
        client: f.alice,
        headers: { 'x-hsmkit-otp': wrong },
        body: { label: 'alice-2', key_type: 'ec-p256' },
      });
      assert.equal(a.status, 401);
      assert.equal(problemCode(a), 'HSM_ERR_UNAUTHENTICATED');
    });

    it('certificate + the right TOTP code is allowed, and audited as alice/operator with mtls+totp', async () => {
      const a = await f.send({
        method: 'POST',
        path: '/v1/keys',
        client: f.alice,
        headers: { 'x-hsmkit-otp': await generate({ secret }) },
        body: { label: 'alice-3', key_type: 'ec-p256' },
      });
      assert.equal(a.status, 201, a.text);
      assert.equal(a.json.label, 'alice-3');
      const rows = await f.ctx.store.db
        .selectFrom('audit_log')
        .selectAll()
        .where('actor', '=', 'alice')
        .where('result', '=', 'ok')
        .execute();
      assert.ok(
        rows.some(
          (r) => r.operation === 'key.create' && r.role === 'operator' && r.auth_method === 'mtls+totp',
        ),
      );
    });

    it('after five wrong codes even the right code is refused with 429 HSM_ERR_RATE_LIMITED', async () => {
      for (let i = 0; i < 5; i++)
        await f.send({ path: '/v1/keys', client: f.alice, headers: { 'x-hsmkit-otp': '000000' } });
      const a = await f.send({
        path: '/v1/keys',
        client: f.alice,
        headers: { 'x-hsmkit-otp': await generate({ secret }) },
      });
      assert.equal(a.status, 429);
      assert.equal(problemCode(a), 'HSM_ERR_RATE_LIMITED');
      assert.ok(Number(a.headers['retry-after']) > 0);
    });
  });

  it('the per-identity token bucket answers 429 HSM_ERR_RATE_LIMITED with Retry-After, and only for that identity', async () => {
    const flood = f.tls.client('svc-flood');
    const answers = await Promise.all(
      Array.from({ length: 120 }, () => f.send({ path: '/v1/keys', client: flood })),
    );
    const limited = answers.filter((a) => a.status === 429);
    assert.ok(limited.length >= 30, `expected many 429s, got ${limited.length}`);
    assert.equal(problemCode(limited[0]!), 'HSM_ERR_RATE_LIMITED');
    assert.ok(Number(limited[0]!.headers['retry-after']) >= 1);
    const other = await f.send({ path: '/v1/keys', client: f.clients.auditor });
    assert.equal(other.status, 200);
  });

  it('every refusal above left a denied audit record, and the chain verifies', async () => {
    const denied = await f.ctx.store.db
      .selectFrom('audit_log')
      .select(['actor', 'rule'])
      .where('result', '=', 'denied')
      .execute();
    assert.ok(denied.some((r) => r.actor === 'svc-custodian' && r.rule === 'access.roles.custodian'));
    assert.ok(denied.some((r) => r.actor === 'svc-auditor' && r.rule === 'service.identities'));
  });
});
