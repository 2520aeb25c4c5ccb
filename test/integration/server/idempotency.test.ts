/**
 * Idempotency-Key on the API (src/server/idempotency.ts) over real mutual TLS and a real SoftHSM
 * token: replays are byte-identical and do nothing twice (audit and token say so), a changed body
 * is refused, keys are per caller, and a key left in progress by a dead process is recovered by
 * each route's rule (sign: redo; key generation: check the token; anything else: interrupted).
 */
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { IdempotencyRepository } from '../../../src/store/idempotency-repository.js';
import { listObjects } from '../../support/tools.js';
import {
  holdIdempotencyKey,
  openServiceFixture,
  problemCode,
  type ServiceFixture,
} from './service-fixture.js';

const DIGEST = Buffer.alloc(32, 7).toString('base64');

describe('Idempotency-Key', () => {
  let f: ServiceFixture;
  let repo: IdempotencyRepository;
  before(async () => {
    f = await openServiceFixture({ rateLimit: { per_second: 50, burst: 200 } });
    repo = new IdempotencyRepository(f.ctx.store.db);
  });
  after(async () => f?.close());

  const auditCount = async (operation: string) =>
    (await f.ctx.store.db.selectFrom('audit_log').select('seq').where('operation', '=', operation).execute())
      .length;

  it('a replayed key creation answers the stored 201 and creates nothing more', async () => {
    const body = { label: 'idem-key-1', key_type: 'ec-p256' };
    const headers = { 'idempotency-key': 'create-1' };
    const before = await auditCount('key.create');
    const first = await f.send({
      method: 'POST',
      path: '/v1/keys',
      client: f.clients.operator,
      body,
      headers,
    });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    const again = await f.send({
      method: 'POST',
      path: '/v1/keys',
      client: f.clients.operator,
      body,
      headers,
    });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.text, first.text);
    assert.equal((await auditCount('key.create')) - before, 1);
    // The token (read by pkcs11-tool, not hsmkit) holds the label once.
    assert.equal(labelCount(f, 'idem-key-1'), 2, 'one private and one public object');
  });

  it('a replayed signature is the stored one, not a new signature', async () => {
    await f.send({
      method: 'POST',
      path: '/v1/keys',
      client: f.clients.operator,
      body: { label: 'idem-sign', key_type: 'ec-p256' },
    });
    const body = { key: 'idem-sign', digest: DIGEST };
    const headers = { 'idempotency-key': 'sign-1' };
    const before = await auditCount('key.sign');
    const a = await f.send({ method: 'POST', path: '/v1/sign', client: f.clients.signer, body, headers });
    const b = await f.send({ method: 'POST', path: '/v1/sign', client: f.clients.signer, body, headers });
    assert.equal(a.status, 200, a.text);
    assert.equal(b.json.signature, a.json.signature); // ECDSA: a re-sign would differ
    assert.equal(b.headers['idempotent-replayed'], 'true');
    assert.equal((await auditCount('key.sign')) - before, 1);
    // The same key with key order changed in the JSON body is the same request.
    const c = await f.send({
      method: 'POST',
      path: '/v1/sign',
      client: f.clients.signer,
      raw: JSON.stringify({ digest: DIGEST, key: 'idem-sign' }),
      headers,
    });
    assert.equal(c.json.signature, a.json.signature);
  });

  it('the same key with another body is 422 HSM_ERR_IDEMPOTENCY_MISMATCH; with a bad syntax 400', async () => {
    const headers = { 'idempotency-key': 'sign-1' };
    const a = await f.send({
      method: 'POST',
      path: '/v1/sign',
      client: f.clients.signer,
      body: { key: 'idem-sign', digest: Buffer.alloc(32, 8).toString('base64') },
      headers,
    });
    assert.equal(a.status, 422);
    assert.equal(problemCode(a), 'HSM_ERR_IDEMPOTENCY_MISMATCH');
    const bad = await f.send({
      method: 'POST',
      path: '/v1/sign',
      client: f.clients.signer,
      body: { key: 'idem-sign', digest: DIGEST },
      headers: { 'idempotency-key': 'has space' },
    });
    assert.equal(bad.status, 400);
    assert.equal(problemCode(bad), 'HSM_ERR_INVALID_INPUT');
  });

  it('keys are per caller: another identity with the same key gets its own answer', async () => {
    const headers = { 'idempotency-key': 'sign-1' };
    const a = await f.send({
      method: 'POST',
      path: '/v1/sign',
      client: f.clients.service,
      body: { key: 'idem-sign', digest: Buffer.alloc(32, 9).toString('base64') },
      headers,
    });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.headers['idempotent-replayed'], undefined);
  });

  it('while the first request runs in a live process, the same key is 409 and retryable', async () => {
    const body = { key: 'idem-sign', digest: DIGEST };
    // Held by this (live) process under another app instance.
    await f.ctx.store.db
      .insertInto('idempotency_key')
      .values({
        identity: 'svc-signer',
        key: 'held-live',
        fingerprint: await fingerprintOf(f, '/v1/sign', body),
        status: 'in_progress',
        owner: `${hostname()}/${process.pid}/other-app`,
        response_status: null,
        response_type: null,
        response_body: null,
        created_at: new Date().toISOString(),
        expires_at: new Date(Date.now() + 3600_000).toISOString(),
      })
      .execute();
    const a = await f.send({
      method: 'POST',
      path: '/v1/sign',
      client: f.clients.signer,
      body,
      headers: { 'idempotency-key': 'held-live' },
    });
    assert.equal(a.status, 409);
    assert.equal(problemCode(a), 'HSM_ERR_IDEMPOTENCY_IN_PROGRESS');
    assert.equal(a.json.retryable, true);
    assert.equal(a.headers['retry-after'], '1');
  });

  describe('a key left in progress by a killed service', () => {
    const hold = (identity: string, key: string, path: string, body: unknown) =>
      holdIdempotencyKey(f, identity, key, path, body);

    it('sign: signed again (a new valid signature), then stored', async () => {
      const data = Buffer.from('signed again after a crash');
      const body = { key: 'idem-sign', data: data.toString('base64') };
      await hold('svc-signer', 'dead-sign', '/v1/sign', body);
      const headers = { 'idempotency-key': 'dead-sign' };
      const a = await f.send({ method: 'POST', path: '/v1/sign', client: f.clients.signer, body, headers });
      assert.equal(a.status, 200, a.text);
      const spki = await f.send({ path: '/v1/keys/idem-sign/public', client: f.clients.signer });
      assert.equal(verify('sha256', data, spki.json.pem, Buffer.from(a.json.signature, 'base64')), true);
      const rec = await repo.get('svc-signer', 'dead-sign');
      assert.equal(rec?.status, 'done');
      const b = await f.send({ method: 'POST', path: '/v1/sign', client: f.clients.signer, body, headers });
      assert.equal(b.json.signature, a.json.signature);
    });

    it('key generation whose key exists on the token: answered 201 from the token, nothing generated', async () => {
      const body = { label: 'idem-key-1', key_type: 'ec-p256' };
      await hold('svc-operator', 'dead-create-made', '/v1/keys', body);
      const before = await auditCount('key.create');
      const a = await f.send({
        method: 'POST',
        path: '/v1/keys',
        client: f.clients.operator,
        body,
        headers: { 'idempotency-key': 'dead-create-made' },
      });
      assert.equal(a.status, 201, a.text);
      assert.equal(a.headers['idempotent-recovered'], 'true');
      assert.equal(a.json.label, 'idem-key-1');
      assert.equal(await auditCount('key.create'), before);
    });

    it('key generation whose key does not exist: generated now, once', async () => {
      const body = { label: 'idem-key-never-made', key_type: 'ec-p256' };
      await hold('svc-operator', 'dead-create-none', '/v1/keys', body);
      const headers = { 'idempotency-key': 'dead-create-none' };
      const a = await f.send({ method: 'POST', path: '/v1/keys', client: f.clients.operator, body, headers });
      assert.equal(a.status, 201, a.text);
      assert.equal(a.headers['idempotent-recovered'], undefined);
      const b = await f.send({ method: 'POST', path: '/v1/keys', client: f.clients.operator, body, headers });
      assert.equal(b.headers['idempotent-replayed'], 'true');
      assert.equal(labelCount(f, 'idem-key-never-made'), 2);
    });

    it('any other route (jobs): HSM_ERR_INTERRUPTED, stored, never run blindly', async () => {
      const body = { kind: 'key.create', request: { label: 'idem-job', key_type: 'ec-p256' } };
      await hold('svc-operator', 'dead-job', '/v1/jobs', body);
      const headers = { 'idempotency-key': 'dead-job' };
      const a = await f.send({ method: 'POST', path: '/v1/jobs', client: f.clients.operator, body, headers });
      assert.equal(a.status, 500);
      assert.equal(problemCode(a), 'HSM_ERR_INTERRUPTED');
      const b = await f.send({ method: 'POST', path: '/v1/jobs', client: f.clients.operator, body, headers });
      assert.equal(problemCode(b), 'HSM_ERR_INTERRUPTED');
      assert.equal(b.headers['idempotent-replayed'], 'true');
      const jobs = await f.ctx.store.db.selectFrom('service_job').select('request').execute();
      assert.equal(jobs.filter((j) => j.request.includes('idem-job')).length, 0);
    });
  });
});

/** The fingerprint the service computes for a POST (method, path, canonical JSON body). */
async function fingerprintOf(_f: ServiceFixture, path: string, body: unknown): Promise<string> {
  const { createHash } = await import('node:crypto');
  const { canonicalJson } = await import('../../../src/audit/canonical-json.js');
  return createHash('sha256').update(`POST\n${path}\n`).update(canonicalJson(body)).digest('hex');
}

/** How many objects labelled `label` pkcs11-tool lists on the fixture's token. */
function labelCount(f: ServiceFixture, label: string): number {
  return listObjects(f.token).filter((o) => o.label === label).length;
}
