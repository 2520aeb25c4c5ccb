/**
 * Break-glass over real HTTPS with client certificates on a SoftHSM token: a human operator asks
 * for the admin role, one approval is below the quorum (still refused), a second approver completes
 * it (allowed, audited as break-glass), self-approval, a non-approver, a service identity and a
 * repeated approval are refused, the grant ends (refused again), a webhook receiver sees every step
 * as a critical `break_glass` alert, the gauge follows, and `hsmkit audit verify` passes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generate } from 'otplib';
import { enrolTotp } from '../../../src/server/totp-enrolment.js';
import { BreakGlassRepository } from '../../../src/store/break-glass-repository.js';
import { startWebhookReceiver, type WebhookReceiver } from '../dashboard/monitor-fixture.js';
import { type Answer, type Call, call } from './https-client.js';
import { type MonitoredApp, startMonitoredApp } from './monitored-app.js';
import { openServiceFixture, problemCode, ROLES, type ServiceFixture } from './service-fixture.js';
import type { ClientCert } from './tls-material.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RUN = join(ROOT, 'src/cli/run.ts');
const HUMANS = {
  bob: { roles: ['operator'] },
  carol: { roles: ['security_officer'] },
  dave: { roles: ['security_officer'] },
  erin: { roles: ['auditor'] },
} as const;
type Human = keyof typeof HUMANS;
const uriOf = (name: string) => `spiffe://hsmkit.test/human/${name}`;
const digest = createHash('sha256').update('break-glass').digest('base64');

describe('break-glass over mutual TLS', () => {
  let f: ServiceFixture;
  let hook: WebhookReceiver;
  let m: MonitoredApp;
  let base = '';
  let offsetMs = 0;
  const certs = {} as Record<Human, ClientCert>;
  const secrets = {} as Record<Human, string>;
  let requestId = '';

  /** As human `who` with a fresh TOTP code (and `role`, when given). */
  const as = async (who: Human, c: Call, role?: string): Promise<Answer> =>
    call(base, f.tls.ca, {
      ...c,
      client: certs[who],
      headers: {
        ...(c.headers ?? {}),
        'x-hsmkit-otp': await generate({ secret: secrets[who] }),
        ...(role ? { 'x-hsmkit-role': role } : {}),
      },
    });
  const signAsAdmin = (who: Human) =>
    as(who, { method: 'POST', path: '/v1/sign', body: { key: 'bg-key', digest } }, 'admin');
  const approve = (who: Human, id = requestId) =>
    as(who, { method: 'POST', path: `/v1/break-glass/requests/${id}/approvals`, body: {} });
  const alertSteps = () =>
    hook.received.filter((p) => p.alert.kind === 'break_glass').map((p) => p.alert.details?.step);
  const gauge = async () => {
    const text = (await f.metrics.render()).body;
    const m = /^hsmkit_break_glass_active (\S+)$/m.exec(text);
    assert.ok(m, 'hsmkit_break_glass_active is exported');
    return Number(m[1]);
  };

  before(async () => {
    hook = await startWebhookReceiver();
    f = await openServiceFixture({
      extraIdentities: Object.entries(HUMANS).map(([name, h]) => ({
        name,
        match: `uri:${uriOf(name)}`,
        kind: 'human' as const,
        roles: [...h.roles],
      })),
      service: {
        break_glass: {
          role: 'admin',
          approvers: { roles: ['security_officer'] },
          quorum: 2,
          max_duration_minutes: 30,
        },
        alerting: { webhooks: [hook.url], evaluate_interval_ms: 600_000 },
      },
    });
    for (const name of Object.keys(HUMANS) as Human[]) {
      certs[name] = f.tls.client(`Human ${name}`, uriOf(name));
      await enrolTotp(f.totp, name);
      secrets[name] = (await f.totp.secret(name))!;
    }
    await f.ctx.km.createKey({ label: 'bg-key', type: 'ec-p256' });
    m = await startMonitoredApp(f, () => new Date(Date.now() + offsetMs));
    base = m.base;
  });
  after(async () => {
    await m?.close();
    await f?.close();
    await hook?.close();
  });

  it('before any request, the admin role is refused to the operator bob (403 HSM_ERR_POLICY_VIOLATION)', async () => {
    const a = await signAsAdmin('bob');
    assert.equal(a.status, 403, a.text);
    assert.equal(problemCode(a), 'HSM_ERR_POLICY_VIOLATION');
    assert.equal(await gauge(), 0);
  });

  it('a request without a TOTP code is 401 HSM_ERR_MFA_REQUIRED, and one over the maximum duration 400', async () => {
    const noOtp = await call(base, f.tls.ca, {
      method: 'POST',
      path: '/v1/break-glass/requests',
      client: certs.bob,
      body: { reason: 'x', duration_minutes: 5 },
    });
    assert.equal(noOtp.status, 401);
    assert.equal(problemCode(noOtp), 'HSM_ERR_MFA_REQUIRED');
    const long = await as('bob', {
      method: 'POST',
      path: '/v1/break-glass/requests',
      body: { reason: 'too long', duration_minutes: 31 },
    });
    assert.equal(long.status, 400, long.text);
    assert.equal(problemCode(long), 'HSM_ERR_INVALID_INPUT');
  });

  it('route × role: every service role may list and ask (admin already holds the role: 400); no service identity may approve', async () => {
    const first = await as('erin', {
      method: 'POST',
      path: '/v1/break-glass/requests',
      body: { reason: 'matrix', duration_minutes: 1 },
    });
    assert.equal(first.status, 201, first.text);
    for (const role of ROLES) {
      const client = f.clients[role];
      const list = await call(base, f.tls.ca, { path: '/v1/break-glass/requests', client });
      assert.equal(list.status, 200, `${role} list: ${list.text}`);
      const ask = await call(base, f.tls.ca, {
        method: 'POST',
        path: '/v1/break-glass/requests',
        client,
        body: { reason: `matrix ${role}`, duration_minutes: 1 },
      });
      assert.equal(ask.status, role === 'admin' ? 400 : 201, `${role} ask: ${ask.text}`);
      const approve = await call(base, f.tls.ca, {
        method: 'POST',
        path: `/v1/break-glass/requests/${first.json.id}/approvals`,
        client,
        body: {},
      });
      assert.equal(approve.status, 403, `${role} approve: ${approve.text}`);
      assert.equal(approve.json.details.reason, 'not_an_approver');
    }
    // Without a client certificate mapped to an identity, none of the routes answers.
    const stranger = f.tls.client('nobody-bg');
    assert.equal(
      (await call(base, f.tls.ca, { path: '/v1/break-glass/requests', client: stranger })).status,
      401,
    );
  });

  it('bob asks: 201 pending, two approvals needed, and a critical break_glass alert', async () => {
    const a = await as('bob', {
      method: 'POST',
      path: '/v1/break-glass/requests',
      body: { reason: 'incident 42: issuing CA key must sign a CRL', duration_minutes: 30 },
    });
    assert.equal(a.status, 201, a.text);
    assert.equal(a.json.status, 'pending');
    assert.equal(a.json.approvals_needed, 2);
    assert.match(a.json.id, /^[0-9a-f-]{36}$/);
    requestId = a.json.id;
    const alert = await hook.waitFor(
      (p) =>
        p.alert.kind === 'break_glass' &&
        p.alert.details?.step === 'request' &&
        p.alert.details?.requester === 'bob',
    );
    assert.equal(alert.alert.severity, 'critical');
    assert.equal(alert.alert.details?.requester, 'bob');
  });

  it('the requester cannot approve their own request', async () => {
    const a = await approve('bob');
    assert.equal(a.status, 403, a.text);
    assert.equal(problemCode(a), 'HSM_ERR_APPROVAL_REFUSED');
    assert.equal(a.json.details.reason, 'self_approval');
  });

  it('an identity that is not an approver, and a service identity holding the approver role, are refused', async () => {
    const erin = await approve('erin');
    assert.equal(erin.status, 403, erin.text);
    assert.equal(erin.json.details.reason, 'not_an_approver');
    const svc = await call(base, f.tls.ca, {
      method: 'POST',
      path: `/v1/break-glass/requests/${requestId}/approvals`,
      client: f.clients.security_officer,
      body: {},
    });
    assert.equal(svc.status, 403, svc.text);
    assert.equal(problemCode(svc), 'HSM_ERR_APPROVAL_REFUSED');
    assert.equal(svc.json.details.reason, 'not_an_approver');
  });

  it('one approval is below the quorum: still pending, and the admin role is still refused', async () => {
    const a = await approve('carol');
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.status, 'pending');
    assert.equal(a.json.approvals_needed, 1);
    assert.equal(a.json.expires_at, undefined);
    const again = await approve('carol');
    assert.equal(again.status, 403);
    assert.equal(again.json.details.reason, 'already_approved');
    const sign = await signAsAdmin('bob');
    assert.equal(sign.status, 403, sign.text);
    assert.equal(problemCode(sign), 'HSM_ERR_POLICY_VIOLATION');
  });

  it('the second approver completes the quorum: active until expires_at, bob may sign as admin (audited as break-glass)', async () => {
    const a = await approve('dave');
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.status, 'active');
    assert.equal(a.json.approvals_needed, 0);
    const expires = Date.parse(a.json.expires_at);
    assert.ok(
      expires > Date.now() + 29 * 60_000 && expires <= Date.now() + 30 * 60_000 + 5000,
      a.json.expires_at,
    );
    assert.equal(await gauge(), 1);
    const sign = await signAsAdmin('bob');
    assert.equal(sign.status, 200, sign.text);
    // Without the break-glass role header bob is still only an operator.
    const plain = await as('bob', { method: 'POST', path: '/v1/sign', body: { key: 'bg-key', digest } });
    assert.equal(plain.status, 403);
    const rows = await f.ctx.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('actor', '=', 'bob')
      .execute();
    assert.ok(
      rows.some(
        (r) =>
          r.operation === 'key.sign' &&
          r.result === 'ok' &&
          r.role === 'admin' &&
          r.auth_method === 'mtls+totp+break-glass',
      ),
      'the signature is audited as bob/admin via break-glass',
    );
    assert.ok(rows.some((r) => r.operation === 'break_glass.use'));
    // The list shows it active, with both approvers.
    const list = await as('erin', { path: '/v1/break-glass/requests' });
    assert.equal(list.status, 200, list.text);
    const item = list.json.items.find((i: { id: string }) => i.id === requestId);
    assert.equal(item.status, 'active');
    assert.deepEqual([...item.approvers].sort(), ['carol', 'dave']);
  });

  it('an active request takes no more approvals', async () => {
    const a = await approve('dave');
    assert.equal(a.status, 403);
    assert.equal(a.json.details.reason, 'not_pending');
  });

  it('after expires_at the admin role is refused again, the refusal is audited, and the gauge drops to 0', async () => {
    offsetMs = 31 * 60_000;
    const sign = await signAsAdmin('bob');
    assert.equal(sign.status, 403, sign.text);
    assert.equal(problemCode(sign), 'HSM_ERR_POLICY_VIOLATION');
    assert.equal(await gauge(), 0);
    const expired = await f.ctx.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('operation', '=', 'break_glass.expired')
      .execute();
    assert.equal(expired.length, 1);
    assert.equal(expired[0]!.result, 'denied');
    const list = await as('erin', { path: '/v1/break-glass/requests' });
    assert.equal(list.json.items.find((i: { id: string }) => i.id === requestId).status, 'expired');
  });

  it('every step reached the webhook receiver as a critical break_glass alert', async () => {
    await hook.waitFor((p) => p.alert.kind === 'break_glass' && p.alert.details?.step === 'expired');
    await m.monitoring.alerts.flush();
    const steps = alertSteps();
    for (const step of ['request', 'approval-refused', 'approval', 'activate', 'use', 'expired'])
      assert.ok(steps.includes(step), `no ${step} alert among ${steps.join(', ')}`);
    assert.equal(steps.filter((s) => s === 'approval').length, 2);
    assert.ok(
      hook.received
        .filter((p) => p.alert.kind === 'break_glass')
        .every((p) => p.alert.severity === 'critical'),
    );
  });

  it('the store counts concurrent approvals once each and activates exactly once', async () => {
    const repo = new BreakGlassRepository(f.ctx.store.db);
    const r = await repo.create({
      id: '00000000-0000-4000-8000-000000000001',
      requester: 'bob',
      role: 'admin',
      reason: 'race',
      durationMinutes: 5,
      quorum: 2,
      createdAt: new Date().toISOString(),
    });
    const results = await Promise.all(
      ['carol', 'dave', 'carol', 'dave'].map((who) => repo.approve(r.id, who, new Date())),
    );
    assert.equal(results.filter((x) => x?.added).length, 2, 'each approver counted once');
    assert.equal(results.filter((x) => x?.activated).length, 1, 'activated exactly once');
    const after = await repo.get(r.id);
    assert.equal(after?.status, 'active');
    assert.deepEqual([...after!.approvers].sort(), ['carol', 'dave']);
  });

  it('every step is in the audit chain, and hsmkit audit verify passes', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', RUN, '--config', f.ctx.config.source!, 'audit', 'verify', '--json'],
      {
        cwd: ROOT,
        env: { ...process.env, HSMKIT_ROLE: '' },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as { ok: boolean; records: number };
    assert.equal(report.ok, true);
    assert.ok(report.records > 10);
  });

  it('the audit records of the steps name the actors and never the reason text', async () => {
    const rows = await f.ctx.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('operation', 'like', 'break_glass.%')
      .execute();
    const ops = rows.map((r) => `${r.operation}:${r.actor}:${r.result}`);
    for (const want of [
      'break_glass.request:bob:ok',
      'break_glass.approve:bob:denied',
      'break_glass.approve:erin:denied',
      'break_glass.approve:carol:ok',
      'break_glass.approve:dave:ok',
      'break_glass.activate:bob:ok',
    ])
      assert.ok(ops.includes(want), `missing ${want} in ${ops.join(', ')}`);
    assert.ok(!JSON.stringify(rows).includes('incident 42'));
  });
});
