/**
 * The API's answers to bad input (RFC 9457 problem documents with codes, the service still up),
 * the Key Generation Request envelope, the OpenAPI document, Prometheus metrics on the separate
 * listener (checked by a strict text-format parser), and durable jobs across a restart.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { listenMetrics } from '../../../src/server/metrics-server.js';
import { call } from './https-client.js';
import { parsePrometheus } from './prometheus-text.js';
import { openServiceFixture, problemCode, type ServiceFixture } from './service-fixture.js';

function fetchText(url: string): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }),
      );
    }).on('error', reject);
  });
}

describe('service API', () => {
  let f: ServiceFixture;
  before(async () => {
    f = await openServiceFixture();
  });
  after(async () => f?.close());

  describe('bad input gets a 4xx problem document with a code, and the service keeps running', () => {
    const cases: Array<
      [
        string,
        { method?: string; path: string; raw?: string; body?: unknown; contentType?: string },
        number,
        string,
      ]
    > = [
      [
        'malformed JSON',
        { method: 'POST', path: '/v1/keys', raw: '{"label": "x", ' },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      ['an empty body', { method: 'POST', path: '/v1/keys', raw: ' ' }, 400, 'HSM_ERR_INVALID_INPUT'],
      [
        'a wrong type',
        { method: 'POST', path: '/v1/keys', body: { label: 5, key_type: 'EC', curve: 'P-256' } },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'an unknown field',
        { method: 'POST', path: '/v1/keys', body: { label: 'u', key_type: 'ec-p256', colour: 'red' } },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'an unknown nested field',
        {
          method: 'POST',
          path: '/v1/keys',
          body: { label: 'u', key_type: 'ec-p256', attributes: { sign: true, evil: true } },
        },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'a __proto__ key',
        {
          method: 'POST',
          path: '/v1/keys',
          raw: '{"label":"p","key_type":"ec-p256","__proto__":{"admin":true}}',
        },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'a constructor.prototype key',
        {
          method: 'POST',
          path: '/v1/sign',
          raw: '{"key":"k","digest":"AA==","constructor":{"prototype":{"x":1}}}',
        },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'a 10 MB string',
        {
          method: 'POST',
          path: '/v1/keys',
          raw: JSON.stringify({ label: 'x'.repeat(10 * 1024 * 1024), key_type: 'ec-p256' }),
        },
        413,
        'HSM_ERR_PAYLOAD_TOO_LARGE',
      ],
      [
        'nesting 100 000 deep',
        { method: 'POST', path: '/v1/keys', raw: `${'['.repeat(100_000)}${']'.repeat(100_000)}` },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'nesting 40 deep inside an object',
        {
          method: 'POST',
          path: '/v1/keys',
          raw: `{"label":"d","key_type":"ec-p256","metadata":{"tags":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}}`,
        },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'a text/plain body',
        { method: 'POST', path: '/v1/keys', raw: 'label=x', contentType: 'text/plain' },
        415,
        'HSM_ERR_MEDIA_TYPE',
      ],
      [
        'digest and data together',
        { method: 'POST', path: '/v1/sign', body: { key: 'k', digest: 'AA==', data: 'AA==' } },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'a digest that is not base64',
        { method: 'POST', path: '/v1/sign', body: { key: 'k', digest: '%%%' } },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'a batch over batch_size',
        {
          method: 'POST',
          path: '/v1/sign/batch',
          body: { items: Array.from({ length: 5 }, () => ({ key: 'k', digest: 'AA==' })) },
        },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'an unknown key type',
        { method: 'POST', path: '/v1/keys', body: { label: 'u', key_type: 'dsa-1024' } },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      [
        'RSA 1000',
        { method: 'POST', path: '/v1/keys', body: { label: 'u', key_type: 'RSA', key_size: 1000 } },
        422,
        'HSM_ERR_KEY_SIZE',
      ],
      [
        'another provider in the envelope',
        {
          method: 'POST',
          path: '/v1/keys',
          body: {
            operation: 'generate_key',
            hsm_provider: 'thales_luna',
            key_specification: { label: 'l', key_type: 'ec-p256' },
          },
        },
        400,
        'HSM_ERR_INVALID_INPUT',
      ],
      ['an unknown route', { path: '/v1/nothing' }, 404, 'HSM_ERR_NOT_FOUND'],
      ['a key that does not exist', { path: '/v1/keys/no-such-key' }, 404, 'HSM_ERR_KEY_NOT_FOUND'],
      ['a job id that is not a UUID', { path: '/v1/jobs/abc' }, 400, 'HSM_ERR_INVALID_INPUT'],
      [
        'a job that does not exist',
        { path: '/v1/jobs/00000000-0000-4000-8000-000000000000' },
        404,
        'HSM_ERR_NOT_FOUND',
      ],
    ];
    for (const [name, req, status, code] of cases) {
      it(`${name} → ${status} ${code}`, async () => {
        const a = await f.send({ ...req, client: f.clients.admin });
        assert.equal(a.status, status, a.text.slice(0, 300));
        assert.equal(problemCode(a), code);
        assert.equal((await f.send({ path: '/healthz', client: f.clients.admin })).status, 200);
      });
    }
    it('no prototype was polluted', () => {
      assert.equal(({} as Record<string, unknown>).admin, undefined);
      assert.equal(({} as Record<string, unknown>).x, undefined);
    });
  });

  it('POST /v1/keys accepts the seed envelope (operation, hsm_provider, key_specification, metadata)', async () => {
    const a = await f.send({
      method: 'POST',
      path: '/v1/keys',
      client: f.clients.admin,
      body: {
        operation: 'generate_key',
        hsm_provider: 'softhsm2',
        key_specification: {
          label: 'envelope-1',
          key_type: 'EC',
          curve: 'P-384',
          attributes: { sign: true, verify: true, extractable: false },
        },
        metadata: {
          purpose: 'issuing-ca',
          expiry_date: '2031-01-01',
          owner: 'pki-team',
          tags: { env: 'test' },
        },
      },
    });
    assert.equal(a.status, 201, a.text);
    assert.equal(a.headers.location, '/v1/keys/envelope-1');
    assert.equal(a.json.type, 'ec-p384');
    assert.equal(a.json.attributes.extractable, false);
    assert.equal(a.json.attributes.sensitive, true);
    assert.deepEqual(a.json.metadata.tags, { env: 'test' });
    assert.equal(a.json.metadata.purpose, 'issuing-ca');
    const again = await f.send({
      method: 'POST',
      path: '/v1/keys',
      client: f.clients.admin,
      body: { label: 'envelope-1', key_type: 'ec-p384' },
    });
    assert.equal(again.status, 409);
    assert.equal(problemCode(again), 'HSM_ERR_KEY_EXISTS');
  });

  it('GET /openapi.json documents every route from its schemas', async () => {
    const a = await f.send({ path: '/openapi.json', client: f.clients.custodian });
    assert.equal(a.status, 200);
    const doc = a.json as { openapi: string; paths: Record<string, Record<string, any>> };
    assert.equal(doc.openapi, '3.1.0');
    for (const [path, method] of [
      ['/v1/keys', 'post'],
      ['/v1/keys', 'get'],
      ['/v1/keys/{label}', 'get'],
      ['/v1/keys/{label}', 'delete'],
      ['/v1/keys/{label}/public', 'get'],
      ['/v1/sign', 'post'],
      ['/v1/sign/batch', 'post'],
      ['/v1/jobs', 'post'],
      ['/v1/jobs/{id}', 'get'],
      ['/healthz', 'get'],
      ['/readyz', 'get'],
      ['/ocsp', 'post'],
      ['/ocsp/{request}', 'get'],
      ['/crl/{file}', 'get'],
      ['/openapi.json', 'get'],
    ] as const) {
      assert.ok(doc.paths[path]?.[method], `${method} ${path} missing`);
    }
    assert.equal(doc.paths['/v1/keys']!.post['x-hsmkit-access'], 'key.create');
    assert.equal(
      doc.paths['/v1/sign/batch']!.post.requestBody.content['application/json'].schema.properties.items
        .maxItems,
      f.batchSize,
    );
    assert.ok(doc.paths['/v1/keys']!.post.requestBody.content['application/json'].schema.oneOf.length === 2);
  });

  it('/metrics on the separate listener passes a strict text-format parser and has every family', async () => {
    // Traffic that produces each family: operations, an error, a denial, a failed login.
    await f.ctx.km.createKey({ label: 'metrics-key', type: 'ec-p256' });
    const ok = await f.send({
      method: 'POST',
      path: '/v1/sign',
      client: f.clients.signer,
      body: { key: 'metrics-key', data: Buffer.from('hello').toString('base64') },
    });
    assert.equal(ok.status, 200, ok.text);
    await f.send({ path: '/v1/keys', client: f.clients.custodian });
    await f.send({ path: '/v1/keys', client: f.tls.client('nobody') });
    await f.send({ path: '/v1/keys', client: f.alice });
    const m = await listenMetrics(f.metrics, '127.0.0.1', 0);
    try {
      const r = await fetchText(m.address);
      assert.equal(r.status, 200);
      assert.match(r.type, /^text\/plain; version=0\.0\.4/);
      const { types, samples } = parsePrometheus(r.text);
      const expected: Array<[string, string]> = [
        ['hsmkit_operation_duration_seconds', 'histogram'],
        ['hsmkit_operations_total', 'counter'],
        ['hsmkit_errors_total', 'counter'],
        ['hsmkit_http_requests_total', 'counter'],
        ['hsmkit_queue_depth', 'gauge'],
        ['hsmkit_member_state', 'gauge'],
        ['hsmkit_security_events_total', 'counter'],
        ['hsmkit_jobs_total', 'counter'],
        ['nodejs_eventloop_lag_seconds', 'gauge'],
        ['hsmkit_session_pool_in_use', 'gauge'],
        ['hsmkit_session_pool_idle', 'gauge'],
        ['hsmkit_session_pool_max', 'gauge'],
        ['hsmkit_breaker_state', 'gauge'],
        ['hsmkit_key_slots_used', 'gauge'],
        ['hsmkit_rng_health_ok', 'gauge'],
        ['hsmkit_rng_health_failures_total', 'counter'],
        ['hsmkit_break_glass_active', 'gauge'],
      ];
      for (const [name, type] of expected) assert.equal(types.get(name), type, name);
      // Per-member readings of the one SoftHSM member: real values, not placeholders.
      const member = (name: string) => samples.find((s) => s.name === name && s.labels.member === 'default');
      assert.ok((member('hsmkit_session_pool_max')?.value ?? 0) > 0, 'session pool max > 0');
      assert.ok((member('hsmkit_key_slots_used')?.value ?? 0) >= 2, 'key slots used counts metrics-key');
      assert.equal(member('hsmkit_rng_health_ok')?.value, 1, 'the RNG sample taken at start passed');
      // One member has no breaker and SoftHSM reports no object limit: those samples are absent.
      assert.ok(!samples.some((s) => s.name === 'hsmkit_breaker_state'));
      assert.ok(!samples.some((s) => s.name === 'hsmkit_key_slots_capacity'));
      const sign = samples.find(
        (s) => s.name === 'hsmkit_operation_duration_seconds_count' && s.labels.operation === 'key.sign',
      );
      assert.ok(
        sign && sign.value >= 1 && sign.labels.key_type === 'ec-p256' && sign.labels.member !== '',
        JSON.stringify(sign),
      );
      const state = samples.filter((s) => s.name === 'hsmkit_member_state');
      assert.deepEqual(
        state.filter((s) => s.value === 1).map((s) => s.labels.state),
        ['up'],
      );
      for (const kind of ['denied', 'policy_violation', 'failed_login', 'mfa_missing']) {
        assert.ok(
          samples.some(
            (s) => s.name === 'hsmkit_security_events_total' && s.labels.kind === kind && s.value >= 1,
          ),
          kind,
        );
      }
      assert.ok(
        samples.some((s) => s.name === 'hsmkit_errors_total' && s.labels.code === 'HSM_ERR_POLICY_VIOLATION'),
      );
      assert.ok(
        !types.has('hsmkit_hsm_temperature_celsius') && !types.has('hsmkit_tamper_state'),
        'absent facts stay absent',
      );
      assert.equal((await fetchText(m.address.replace('/metrics', '/v1/keys'))).status, 404);
    } finally {
      await new Promise((r) => m.server.close(r));
    }
  });

  it('a job queued before a restart runs after it, once, as its submitter', async () => {
    const paused = await f.startApp({ runJobs: false });
    const submit = await call(paused.base, f.tls.ca, {
      method: 'POST',
      path: '/v1/jobs',
      client: f.clients.operator,
      body: { kind: 'key.create', request: { label: 'job-after-restart', key_type: 'RSA', key_size: 2048 } },
    });
    assert.equal(submit.status, 202, submit.text);
    const id = submit.json.id as string;
    assert.equal(submit.headers.location, `/v1/jobs/${id}`);
    await paused.app.close();
    assert.equal((await f.jobs.get(id))!.status, 'queued');

    const restarted = await f.startApp();
    let job: { status: string; result?: { label: string }; error?: unknown } = { status: 'queued' };
    for (let i = 0; i < 200 && (job.status === 'queued' || job.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = (await call(restarted.base, f.tls.ca, { path: `/v1/jobs/${id}`, client: f.clients.operator }))
        .json;
    }
    assert.equal(job.status, 'succeeded', JSON.stringify(job));
    assert.equal(job.result!.label, 'job-after-restart');
    // Another identity does not see it.
    const other = await call(restarted.base, f.tls.ca, { path: `/v1/jobs/${id}`, client: f.clients.admin });
    assert.equal(other.status, 404);
    const creates = await f.ctx.store.db
      .selectFrom('audit_log')
      .select('actor')
      .where('operation', '=', 'key.create')
      .where('correlation_id', '=', id)
      .execute();
    assert.deepEqual(
      creates.map((c) => c.actor),
      ['svc-operator'],
    );
  });

  it('a job left running by a stopped service is failed with HSM_ERR_INTERRUPTED, not re-run', async () => {
    const j = await f.jobs.add({
      id: '11111111-1111-4111-8111-111111111111',
      kind: 'key.create',
      request: { label: 'ghost', key_type: 'ec-p256' },
      actor: 'svc-operator',
      role: 'operator',
    });
    assert.ok(await f.jobs.transition(j.id, 'queued', 'running'));
    const restarted = await f.startApp();
    const a = await call(restarted.base, f.tls.ca, { path: `/v1/jobs/${j.id}`, client: f.clients.operator });
    assert.equal(a.json.status, 'failed');
    assert.equal(a.json.error.code, 'HSM_ERR_INTERRUPTED');
  });
});
