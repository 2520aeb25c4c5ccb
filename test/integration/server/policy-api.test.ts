/**
 * The policy endpoints over mutual TLS: versions, validation, and dual control — a policy
 * proposed by one identity stays pending until a second identity in another role approves, the
 * proposer can never approve it (not even in another of their roles), and rollback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { openServiceFixture, problemCode, type ServiceFixture } from './service-fixture.js';
import type { ClientCert } from './tls-material.js';

describe('policy API over mutual TLS (dual control)', () => {
  let f: ServiceFixture;
  let carol: ClientCert;
  let base: Record<string, any>;
  let dualVersion: number;
  let proposed: number;

  const post = (path: string, client: ClientCert, body: unknown, headers: Record<string, string> = {}) =>
    f.send({ method: 'POST', path, client, body, headers });

  before(async () => {
    f = await openServiceFixture({
      rateLimit: { per_second: 50, burst: 200 },
      extraIdentities: [
        { name: 'carol', match: 'cn:svc-carol', kind: 'service', roles: ['operator', 'security_officer'] },
      ],
    });
    carol = f.tls.client('svc-carol');
  });
  after(async () => f?.close());

  it('GET /v1/policies and /v1/policies/:version show the policy in force and its document', async () => {
    const a = await f.send({ path: '/v1/policies', client: f.clients.auditor });
    assert.equal(a.status, 200, a.text);
    const active = a.json.active;
    assert.equal(active.status, 'active');
    assert.match(active.digest, /^[0-9a-f]{64}$/);
    assert.ok(a.json.versions.some((v: { version: number }) => v.version === active.version));
    const one = await f.send({ path: `/v1/policies/${active.version}`, client: f.clients.auditor });
    assert.equal(one.status, 200, one.text);
    base = parse(one.json.document);
    assert.equal(base.name, 'service-test');
  });

  it('POST /v1/policies/validate: a good document is valid; a bad one lists issues with their paths', async () => {
    const good = await post('/v1/policies/validate', f.clients.operator, { document: stringify(base) });
    assert.equal(good.status, 200, good.text);
    assert.equal(good.json.valid, true);
    const badDoc = {
      ...base,
      access: { ...base.access, roles: { operator: [{ operations: ['key.fly'] }] } },
    };
    const bad = await post('/v1/policies/validate', f.clients.operator, { document: JSON.stringify(badDoc) });
    assert.equal(bad.status, 200, bad.text);
    assert.equal(bad.json.valid, false);
    assert.ok(bad.json.issues.some((i: { path: string }) => i.path.startsWith('access.roles.operator')));
  });

  it('turning dual control on applies at once (it was off); from then on changes need two identities', async () => {
    const doc = stringify({ ...base, governance: { ...(base.governance ?? {}), dual_control: true } });
    const a = await post('/v1/policies', f.clients.admin, { document: doc, comment: 'dual control on' });
    assert.equal(a.status, 201, a.text);
    assert.equal(a.json.status, 'active');
    dualVersion = a.json.version;
    const now = await f.send({ path: '/v1/policies', client: f.clients.auditor });
    assert.equal(now.json.active.version, dualVersion);
  });

  it('a proposal by one identity is pending; the same identity approving (in another role) is refused and audited', async () => {
    const doc = stringify({ ...base, name: 'service-test-2', governance: { dual_control: true } });
    const a = await post('/v1/policies', carol, { document: doc }, { 'x-hsmkit-role': 'operator' });
    assert.equal(a.status, 201, a.text);
    assert.equal(a.json.status, 'pending');
    proposed = a.json.version;
    const listed = await f.send({ path: '/v1/policies', client: f.clients.auditor });
    assert.equal(listed.json.active.version, dualVersion, 'still the old one in force');
    assert.equal(
      listed.json.versions.find((v: { version: number }) => v.version === proposed).status,
      'pending',
    );

    const self = await post(
      `/v1/policies/${proposed}/approve`,
      carol,
      {},
      { 'x-hsmkit-role': 'security_officer' },
    );
    assert.equal(self.status, 403, self.text);
    assert.equal(problemCode(self), 'HSM_ERR_POLICY_VIOLATION');
    assert.equal(self.json.details.rule, 'governance.dual_control');
    const rows = await f.ctx.store.db
      .selectFrom('audit_log')
      .select(['actor', 'role', 'result', 'error_code'])
      .where('operation', '=', 'policy.approve')
      .execute();
    assert.ok(
      rows.some(
        (r) =>
          r.actor === 'carol' && r.role === 'security_officer' && r.error_code === 'HSM_ERR_POLICY_VIOLATION',
      ),
    );
    // A role without policy.approve is refused before anything is looked at.
    const op = await post(`/v1/policies/${proposed}/approve`, f.clients.operator, {});
    assert.equal(op.status, 403);
    const still = await f.send({ path: '/v1/policies', client: f.clients.auditor });
    assert.equal(still.json.active.version, dualVersion);
  });

  it('a second identity in another role approves: the proposal is in force at once', async () => {
    const a = await post(`/v1/policies/${proposed}/approve`, f.clients.security_officer, {});
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(a.json, { version: proposed, status: 'active' });
    const now = await f.send({ path: '/v1/policies', client: f.clients.auditor });
    assert.equal(now.json.active.version, proposed);
    assert.equal(now.json.active.name, 'service-test-2');
    assert.equal(now.json.active.approved_by, 'svc-security_officer/security_officer');
    const again = await post(`/v1/policies/${proposed}/approve`, f.clients.security_officer, {});
    assert.equal(again.status, 400);
    assert.equal(problemCode(again), 'HSM_ERR_INVALID_INPUT');
  });

  it('rollback makes an earlier version active again as a new version', async () => {
    const a = await post('/v1/policies/rollback', f.clients.security_officer, { to_version: dualVersion });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.rolled_back_from, dualVersion);
    const now = await f.send({ path: '/v1/policies', client: f.clients.auditor });
    assert.equal(now.json.active.version, a.json.version);
    assert.equal(now.json.active.name, 'service-test');
    assert.equal(now.json.active.rolled_back_from, dualVersion);
  });

  it('bad input on every policy route is a 4xx problem with a code, and the service keeps answering', async () => {
    const cases: Array<{
      method: string;
      path: string;
      body?: unknown;
      status: number;
      client?: ClientCert;
    }> = [
      { method: 'GET', path: '/v1/policies/0', status: 400 },
      { method: 'GET', path: '/v1/policies/abc', status: 400 },
      { method: 'GET', path: '/v1/policies/99999', status: 404 },
      { method: 'POST', path: '/v1/policies/validate', body: { document: 'x', extra: 1 }, status: 400 },
      { method: 'POST', path: '/v1/policies/validate', body: { document: 5 }, status: 400 },
      {
        method: 'POST',
        path: '/v1/policies',
        body: { document: ': : not yaml [' },
        status: 400,
        client: f.clients.operator,
      },
      {
        method: 'POST',
        path: '/v1/policies',
        body: { document: 'name: x', extra: true },
        status: 400,
        client: f.clients.operator,
      },
      {
        method: 'POST',
        path: '/v1/policies',
        body: { document: 'x'.repeat(300 * 1024) },
        status: 400,
        client: f.clients.operator,
      },
      {
        method: 'POST',
        path: '/v1/policies/1/approve',
        body: {},
        status: 400,
        client: f.clients.security_officer,
      },
      {
        method: 'POST',
        path: '/v1/policies/rollback',
        body: { to_version: '1' },
        status: 400,
        client: f.clients.security_officer,
      },
      {
        method: 'POST',
        path: '/v1/policies/rollback',
        body: { to_version: 99999 },
        status: 400,
        client: f.clients.security_officer,
      },
    ];
    for (const c of cases) {
      const a = await f.send({
        method: c.method,
        path: c.path,
        client: c.client ?? f.clients.admin,
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      assert.equal(a.status, c.status, `${c.method} ${c.path}: ${a.text.slice(0, 300)}`);
      assert.equal(problemCode(a), c.status === 404 ? 'HSM_ERR_NOT_FOUND' : 'HSM_ERR_INVALID_INPUT', c.path);
    }
    assert.equal((await f.send({ path: '/healthz', client: f.clients.auditor })).status, 200);
  });
});
