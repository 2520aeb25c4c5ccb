/**
 * Backups over mutual TLS on a SoftHSM token: a backup KEK made by its SO (as the KEK ceremony
 * does), `POST /v1/backups` runs a durable backup.create job as the caller, the file lands in the
 * service's storage, and `hsmkit backup verify` (a separate CLI process) passes on it; the verify
 * route checks stored and inline files and names a tampered entry; bad input is a 4xx problem.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { Pkcs11BackupKekMember } from '../../../src/adapters/pkcs11/backup-kek-member.js';
import { createBackupKek } from '../../../src/backup/kek.js';
import { Secret } from '../../../src/config/secret.js';
import { openServiceFixture, problemCode, type ServiceFixture } from './service-fixture.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const TRUSTED = { extractable: true, wrapWithTrusted: true };

/** `hsmkit backup verify FILE --json` from source, as its own process. */
function cliVerify(file: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/run.ts'), 'backup', 'verify', file, '--json'],
      { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

describe('backup API over mutual TLS', { timeout: 300_000 }, () => {
  let f: ServiceFixture;
  let dir: string;
  let name: string;

  const job = async (id: string) => {
    for (let i = 0; i < 600; i++) {
      const j = await f.send({ path: `/v1/jobs/${id}`, client: f.clients.security_officer });
      assert.equal(j.status, 200, j.text);
      if (j.json.status === 'succeeded' || j.json.status === 'failed') return j.json;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('job did not finish');
  };

  before(async () => {
    f = await openServiceFixture({ rateLimit: { per_second: 50, burst: 200 } });
    // The policy in force, plus the export rule a backup needs: wrapping only under the backup KEK.
    const active = (await f.ctx.governance.policies.active())!;
    const doc = parse(active.document);
    doc.export = { mode: 'wrap_trusted', trusted_wrapping_keys: ['hsmkit-backup-kek'] };
    // Backed-up keys are extractable, but only under trusted wrapping (CKA_WRAP_WITH_TRUSTED).
    doc.security_policy = { key_attributes: { extractable: true } };
    doc.access.roles.security_officer[0].operations.push('key.export');
    await f.ctx.governance.admin.apply(stringify(doc), 'backup test policy', false);
    await f.ctx.governance.refresh();
    // The KEK, made by the token's SO as `hsmkit backup kek create` does (two custodians, 2-of-2).
    const so = await Pkcs11BackupKekMember.open({
      ...f.token.member(),
      name: 'kek',
      pin: new Secret(f.token.soPin, 'test'),
    });
    try {
      await createBackupKek({
        source: so,
        random: (n) => f.ctx.km.generateRandom(n),
        threshold: 2,
        recipients: ['ann', 'bob'].map((c) => ({
          custodian: c,
          publicKeyPem: generateKeyPairSync('ec', { namedCurve: 'P-256' })
            .publicKey.export({ type: 'spki', format: 'pem' })
            .toString(),
        })),
        ceremonyId: 'backup-api-test',
      });
    } finally {
      await so.close();
    }
    await f.ctx.km.createKey({ label: 'bk-ec', type: 'ec-p256', protection: TRUSTED });
    await f.ctx.km.createKey({ label: 'bk-rsa', type: 'rsa-2048', protection: TRUSTED });
    await f.ctx.km.createKey({ label: 'bk-sealed', type: 'ec-p256' });
  });
  after(async () => f?.close());

  it('POST /v1/backups runs a backup.create job; the stored file passes `hsmkit backup verify`', async () => {
    const a = await f.send({
      method: 'POST',
      path: '/v1/backups',
      client: f.clients.security_officer,
      body: { keys: 'bk-*' },
    });
    assert.equal(a.status, 202, a.text);
    const done = await job(a.json.job_id);
    assert.equal(done.kind, 'backup.create');
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.result.entries, 2);
    assert.deepEqual(
      done.result.not_backed_up.map((n: { label: string }) => n.label),
      ['bk-sealed'],
      'a non-extractable key is listed, never skipped silently',
    );
    name = done.result.name;
    dir = fileURLToPath(done.result.location);
    const file = join(dir, name);
    const v = await cliVerify(file);
    assert.equal(v.code, 0, v.out);
    assert.equal(JSON.parse(v.out).entries, 2);

    const list = await f.send({ path: '/v1/backups', client: f.clients.security_officer });
    assert.equal(list.status, 200, list.text);
    const item = list.json.items.find((i: { name: string }) => i.name === name);
    assert.equal(item.size, readFileSync(file).length);
    assert.match(item.sha256, /^[0-9a-f]{64}$/);

    const rows = await f.ctx.store.db
      .selectFrom('audit_log')
      .select(['actor', 'operation', 'result'])
      .where('actor', '=', 'svc-security_officer')
      .execute();
    assert.ok(rows.some((r) => r.operation === 'backup.create' && r.result === 'ok'));
    assert.ok(rows.some((r) => r.operation === 'key.export' && r.result === 'ok'));
  });

  it('POST /v1/backups/verify: stored by name and inline pass; a changed entry is named; a changed stored object is caught', async () => {
    const file = join(dir, name);
    const byName = await f.send({
      method: 'POST',
      path: '/v1/backups/verify',
      client: f.clients.security_officer,
      body: { name },
    });
    assert.equal(byName.status, 200, byName.text);
    assert.equal(byName.json.valid, true);
    assert.equal(byName.json.entries, 2);
    const text = readFileSync(file, 'utf8');
    const inline = await f.send({
      method: 'POST',
      path: '/v1/backups/verify',
      client: f.clients.security_officer,
      body: { file_b64: Buffer.from(text).toString('base64') },
    });
    assert.equal(inline.json.valid, true, inline.text);

    const parsed = JSON.parse(text);
    parsed.entries[1].label = 'renamed';
    const bad = await f.send({
      method: 'POST',
      path: '/v1/backups/verify',
      client: f.clients.security_officer,
      body: { file_b64: Buffer.from(JSON.stringify(parsed)).toString('base64') },
    });
    assert.equal(bad.status, 200, bad.text);
    assert.equal(bad.json.valid, false);
    assert.ok(
      bad.json.problems.some((p: { where: string }) => /entry 2/.test(p.where)),
      bad.text,
    );
    // The CLI agrees: the same changed file fails `hsmkit backup verify`.
    const copy = join(dirname(dir), 'tampered-copy.json');
    writeFileSync(copy, JSON.stringify(parsed));
    const v = await cliVerify(copy);
    assert.notEqual(v.code, 0, v.out);
    assert.match(v.out, /HSM_ERR_BACKUP_INVALID/);

    const junk = await f.send({
      method: 'POST',
      path: '/v1/backups/verify',
      client: f.clients.security_officer,
      body: { file_b64: Buffer.from('not a backup').toString('base64') },
    });
    assert.equal(junk.json.valid, false);

    writeFileSync(file, text.replace('"bk-ec"', '"bk-xx"'));
    const changed = await f.send({
      method: 'POST',
      path: '/v1/backups/verify',
      client: f.clients.security_officer,
      body: { name },
    });
    assert.equal(changed.status, 422, changed.text);
    assert.equal(problemCode(changed), 'HSM_ERR_BACKUP_INVALID');
  });

  it('bad input is a 4xx problem with a code, and the service keeps answering', async () => {
    const cases: Array<{ method: string; path: string; body?: unknown; status: number; code: string }> = [
      {
        method: 'POST',
        path: '/v1/backups',
        body: { keys: 'bk-*', storage: 'file:///etc' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/backups',
        body: { keys: 'bk-*', extra: 1 },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      { method: 'POST', path: '/v1/backups', body: {}, status: 400, code: 'HSM_ERR_INVALID_INPUT' },
      { method: 'GET', path: '/v1/backups?storage=file:///tmp', status: 400, code: 'HSM_ERR_INVALID_INPUT' },
      { method: 'POST', path: '/v1/backups/verify', body: {}, status: 400, code: 'HSM_ERR_INVALID_INPUT' },
      {
        method: 'POST',
        path: '/v1/backups/verify',
        body: { name: 'a', file_b64: 'AAAA' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/backups/verify',
        body: { name: '../../etc/passwd' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/backups/verify',
        body: { name: 'missing.json' },
        status: 404,
        code: 'HSM_ERR_NOT_FOUND',
      },
      {
        method: 'POST',
        path: '/v1/backups/verify',
        body: { file_b64: '!!!' },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
      {
        method: 'POST',
        path: '/v1/jobs',
        body: { kind: 'backup.create', params: { keys: 5 } },
        status: 400,
        code: 'HSM_ERR_INVALID_INPUT',
      },
    ];
    for (const c of cases) {
      const a = await f.send({
        method: c.method,
        path: c.path,
        client: f.clients.security_officer,
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      assert.equal(
        a.status,
        c.status,
        `${c.method} ${c.path} ${JSON.stringify(c.body)}: ${a.text.slice(0, 300)}`,
      );
      assert.equal(problemCode(a), c.code);
    }
    const denied = await f.send({
      method: 'POST',
      path: '/v1/backups',
      client: f.clients.operator,
      body: { keys: 'bk-*' },
    });
    assert.equal(denied.status, 403);
    assert.equal(problemCode(denied), 'HSM_ERR_POLICY_VIOLATION');
    assert.equal((await f.send({ path: '/healthz', client: f.clients.auditor })).status, 200);
  });
});
