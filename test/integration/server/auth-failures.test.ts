/**
 * Failed authentication over real HTTPS: an unknown certificate, a missing TOTP code, a wrong code
 * and a lock-out each write a denied `service.login` audit record (actor: the identity or the
 * certificate subject, never the code sent), count as a security event, and repeated failures of
 * one actor reach a webhook receiver as a `failed_login` alert. The audit chain still verifies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generate } from 'otplib';
import { verifyStoredChain } from '../../../src/audit/retention.js';
import { enrolTotp } from '../../../src/server/totp-enrolment.js';
import { startWebhookReceiver, type WebhookReceiver } from '../dashboard/monitor-fixture.js';
import { type MonitoredApp, startMonitoredApp } from './monitored-app.js';
import { openServiceFixture, problemCode, type ServiceFixture } from './service-fixture.js';

describe('failed authentication is audited, counted and alerted', () => {
  let f: ServiceFixture;
  let m: MonitoredApp;
  let hook: WebhookReceiver;
  let secret = '';

  const loginRows = async () =>
    f.ctx.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('operation', '=', 'service.login')
      .orderBy('seq')
      .execute();
  const securityEvents = async (kind: string) => {
    const v = (await f.metrics.securityEvents.get()).values.find((x) => x.labels.kind === kind);
    return v?.value ?? 0;
  };

  before(async () => {
    hook = await startWebhookReceiver();
    f = await openServiceFixture({
      service: {
        alerting: { webhooks: [hook.url], evaluate_interval_ms: 600_000 },
        totp_lockout: { attempts: 3, refill_seconds: 600 },
      },
    });
    await enrolTotp(f.totp, 'alice');
    secret = (await f.totp.secret('alice'))!;
    m = await startMonitoredApp(f);
  });
  after(async () => {
    await m?.close();
    await f?.close();
    await hook?.close();
  });

  it('an unknown certificate: 401, a denied service.login record naming its subject, one failed_login event', async () => {
    const before = await securityEvents('failed_login');
    const a = await m.send({ path: '/v1/keys', client: f.tls.client('mallory-unknown') });
    assert.equal(a.status, 401);
    assert.equal(problemCode(a), 'HSM_ERR_UNAUTHENTICATED');
    const row = (await loginRows()).find((r) => r.actor === 'cn:mallory-unknown');
    assert.ok(row, 'no audit record for the unknown certificate');
    assert.equal(row.result, 'denied');
    assert.equal(row.error_code, 'HSM_ERR_UNAUTHENTICATED');
    assert.equal(row.rule, 'service.identities');
    assert.equal(row.correlation_id, a.json.instance.replace(/^urn:uuid:/, ''));
    assert.equal(await securityEvents('failed_login'), before + 1);
  });

  it('a human without a TOTP code: 401 MFA_REQUIRED, audited as alice, counted as mfa_missing', async () => {
    const before = await securityEvents('mfa_missing');
    const a = await m.send({ path: '/v1/keys', client: f.alice });
    assert.equal(problemCode(a), 'HSM_ERR_MFA_REQUIRED');
    const rows = (await loginRows()).filter(
      (r) => r.actor === 'alice' && r.error_code === 'HSM_ERR_MFA_REQUIRED',
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.rule, 'service.mfa');
    assert.equal(await securityEvents('mfa_missing'), before + 1);
  });

  it('wrong codes: 401, audited as alice with mtls+totp, and the codes sent appear nowhere in the audit log', async () => {
    const good = await generate({ secret });
    const wrong = [1, 2].map((d) => String((Number(good) + d * 333_333) % 1_000_000).padStart(6, '0'));
    for (const code of wrong) {
      const a = await m.send({ path: '/v1/keys', client: f.alice, headers: { 'x-hsmkit-otp': code } });
      assert.equal(a.status, 401);
      assert.equal(problemCode(a), 'HSM_ERR_UNAUTHENTICATED');
    }
    const rows = (await loginRows()).filter(
      (r) => r.actor === 'alice' && r.error_code === 'HSM_ERR_UNAUTHENTICATED',
    );
    assert.equal(rows.length, 2);
    assert.ok(rows.every((r) => r.auth_method === 'mtls+totp' && r.rule === 'service.mfa'));
    const all = await f.ctx.store.db.selectFrom('audit_log').selectAll().execute();
    for (const r of all) {
      // Hashes are hex and may hold any digits by chance; every other field must not hold a code.
      const { hash: _h, prev_hash: _p, params_digest: _d, ...rest } = r as Record<string, unknown>;
      for (const code of wrong)
        assert.ok(!JSON.stringify(rest).includes(code), `a TOTP code is in record ${r.seq}`);
    }
  });

  it('the third failure of alice raises a failed_login alert at the webhook receiver', async () => {
    const alert = await hook.waitFor(
      (p) => p.alert.kind === 'failed_login' && p.alert.details?.actor === 'alice',
    );
    assert.equal(alert.alert.severity, 'warning');
    assert.ok(Number(alert.alert.details?.failures) >= 3);
    assert.ok(!JSON.stringify(alert).includes(secret));
  });

  it('lock-out: the right code is refused 429 with Retry-After, audited with rule service.totp_lockout, counted as lockout', async () => {
    // Three wrong codes were allowed (totp_lockout.attempts 3); one more empties the bucket.
    await m.send({ path: '/v1/keys', client: f.alice, headers: { 'x-hsmkit-otp': '000000' } });
    const before = await securityEvents('lockout');
    const a = await m.send({
      path: '/v1/keys',
      client: f.alice,
      headers: { 'x-hsmkit-otp': await generate({ secret }) },
    });
    assert.equal(a.status, 429, a.text);
    assert.equal(problemCode(a), 'HSM_ERR_RATE_LIMITED');
    assert.ok(Number(a.headers['retry-after']) > 0);
    const rows = (await loginRows()).filter((r) => r.rule === 'service.totp_lockout');
    assert.ok(rows.length >= 1);
    assert.equal(rows.at(-1)!.actor, 'alice');
    assert.equal(rows.at(-1)!.error_code, 'HSM_ERR_RATE_LIMITED');
    assert.equal(await securityEvents('lockout'), before + 1);
  });

  it('repeated unknown certificates alert too (actor: the certificate subject)', async () => {
    const stranger = f.tls.client('mallory-unknown');
    for (let i = 0; i < 2; i++)
      assert.equal((await m.send({ path: '/v1/keys', client: stranger })).status, 401);
    const alert = await hook.waitFor(
      (p) => p.alert.kind === 'failed_login' && p.alert.details?.actor === 'cn:mallory-unknown',
    );
    assert.match(alert.alert.message, /cn:mallory-unknown/);
  });

  it('the audit chain with all these records verifies', async () => {
    // As `hsmkit audit verify` does it: checkpoints need the audit key's public half.
    const records = await f.ctx.governance.auditStore.list();
    const pem = records.some((r) => r.checkpoint !== undefined)
      ? (await f.ctx.governance.auditKey(false)).publicKeyPem
      : undefined;
    const report = verifyStoredChain(records, pem, await f.ctx.governance.auditStore.archiveAnchor());
    assert.equal(report.ok, true, JSON.stringify(report.firstBreak));
    assert.ok(report.records >= 8);
  });
});
