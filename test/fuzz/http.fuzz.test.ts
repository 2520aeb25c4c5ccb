/**
 * Fuzz: the HTTP service (`buildApp(...).inject()`) over a real SoftHSM CA — the OCSP responder's
 * request parser (POST /ocsp and GET /ocsp/{base64}), JSON bodies to every route, and CSR
 * issuance. What must hold: an OCSP answer for anything sent to /ocsp (malformedRequest for
 * malformed requests, never internalError, never a 5xx), a 4xx with an error code for anything
 * else, bounded time and memory, no polluted prototype, and nothing persisted (every store table
 * byte-for-byte unchanged).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import * as pkijs from 'pkijs';
import { Pkcs11KeyManager } from '../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { initCa } from '../../src/pki/ca.js';
import { issueFromCsr } from '../../src/pki/issue.js';
import { OcspResponder } from '../../src/pki/ocsp/ocsp-responder.js';
import { toPem } from '../../src/pki/pem.js';
import { createPkiDeps, type PkiDeps } from '../../src/pki/pki-deps.js';
import { defaultPkiPolicy } from '../../src/pki/policy.js';
import { buildApp } from '../../src/server/app.js';
import { CrlPublisher } from '../../src/server/crl-publisher.js';
import { Store } from '../../src/store/store.js';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm.js';
import { openssl } from '../support/tools.js';
import { derTree, mutationsOf } from './support/der-arbitraries.js';
import {
  assertPrototypeClean,
  Bounds,
  checkCorpus,
  corpus,
  describeInput,
  fuzzParams,
  HUGE_INPUT_LIMITS,
  hugeString,
  PROTOTYPE_KEYS,
  typedOutcomeAsync,
} from './support/harness.js';

const OCSP = { successful: 0, malformedRequest: 1, internalError: 2, unauthorized: 6 } as const;

/** responseStatus of a DER OCSPResponse. */
function ocspStatus(der: Buffer): number {
  const r = pkijs.OCSPResponse.fromBER(new Uint8Array(der));
  return r.responseStatus.valueBlock.valueDec;
}

describe('fuzz: HTTP service (OCSP, JSON bodies, CSR issuance) on a SoftHSM CA', () => {
  let token: SoftHsmToken;
  let work: string;
  let dbPath: string;
  let store: Store;
  let km: Pkcs11KeyManager;
  let deps: PkiDeps;
  let responder: OcspResponder;
  let app: FastifyInstance;
  /** Valid requests for the issued certificate: without and with a nonce. */
  const seeds: Buffer[] = [];

  before(async () => {
    token = createSoftHsmToken();
    work = mkdtempSync(join(tmpdir(), 'hsmkit-fuzz-http-'));
    dbPath = join(work, 'store', 'hsmkit.db');
    store = await Store.openSqlite(dbPath);
    km = await Pkcs11KeyManager.open(token.member({ hostProcesses: 1 }) as never, { store: store.keys });
    deps = createPkiDeps(km, store, defaultPkiPolicy());
    const ca = await initCa(deps, { name: 'fuzz-ca', subject: 'CN=Fuzz CA,O=hsmkit', keyType: 'ec-p256' });
    const csr = corpus('csr').find((f) => f.name === 'valid-p256.pem.input')!.bytes;
    const leaf = await issueFromCsr(deps, { ca: 'fuzz-ca', csr, profile: 'tls-server' });
    const caPem = join(work, 'ca.pem');
    const leafPem = join(work, 'leaf.pem');
    writeFileSync(caPem, toPem(new Uint8Array(ca.certificate.rawData), 'CERTIFICATE'));
    writeFileSync(leafPem, toPem(new Uint8Array(leaf.certificate.rawData), 'CERTIFICATE'));
    for (const extra of [['-no_nonce'], []]) {
      const out = join(work, `req${seeds.length}.der`);
      const r = openssl(['ocsp', '-issuer', caPem, '-cert', leafPem, '-reqout', out, ...extra]);
      assert.equal(r.status, 0, r.stderr);
      seeds.push(Buffer.from(await import('node:fs').then((fs) => fs.readFileSync(out))));
    }
    responder = new OcspResponder(deps, { refreshMs: 3_600_000 });
    await responder.refresh();
    app = buildApp({ ocsp: responder, crl: new CrlPublisher(deps) });
    await app.ready();
    // The first GET of a CA's CRL generates, signs and stores it (by design); do it now so the
    // "nothing persisted" snapshots below see only what hostile input could change.
    assert.equal((await app.inject({ method: 'GET', url: '/crl/fuzz-ca.crl' })).statusCode, 200);
  });

  after(async () => {
    responder?.stop();
    await app?.close();
    await km?.close();
    await store?.close();
    token?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  /** Every row of every table, read through a second (read-only) connection. */
  function snapshot(): string {
    const db = new SqliteDatabase(dbPath, { readonly: true, fileMustExist: true });
    try {
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all() as Array<{ name: string }>;
      const out: Record<string, unknown[]> = {};
      for (const { name } of tables) out[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all();
      return JSON.stringify(out, (_k, v) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
    } finally {
      db.close();
    }
  }

  async function post(body: Uint8Array, type = 'application/ocsp-request') {
    return app.inject({
      method: 'POST',
      url: '/ocsp',
      headers: { 'content-type': type },
      payload: Buffer.from(body),
    });
  }

  async function get(der: Uint8Array) {
    const b64 = encodeURIComponent(Buffer.from(der).toString('base64'));
    return app.inject({ method: 'GET', url: `/ocsp/${b64}` });
  }

  /** An OCSP answer: HTTP 200, the OCSP media type, and a parseable OCSPResponse. */
  function ocspAnswer(
    res: { statusCode: number; headers: Record<string, unknown>; rawPayload: Buffer },
    input: () => string,
  ): number {
    assert.equal(
      res.statusCode,
      200,
      `HTTP ${res.statusCode} for ${input()}: ${res.rawPayload.toString('utf8', 0, 200)}`,
    );
    assert.equal(res.headers['content-type'], 'application/ocsp-response');
    return ocspStatus(res.rawPayload);
  }

  it('valid requests (openssl, with and without nonce) are answered successful', async () => {
    for (const seed of seeds) {
      assert.equal(
        ocspAnswer(await post(seed), () => 'seed'),
        OCSP.successful,
      );
      assert.equal(
        ocspAnswer(await get(seed), () => 'seed'),
        OCSP.successful,
      );
    }
  });

  it('committed corpus over GET: every malformed request is answered malformedRequest', async () => {
    const before = snapshot();
    const wrong: string[] = [];
    for (const file of corpus('ocsp')) {
      const status = ocspAnswer(await get(file.bytes), () => file.name);
      if (status !== OCSP.malformedRequest) wrong.push(`${file.name}: OCSP status ${status}`);
    }
    // trailing-garbage.der: a valid request followed by 3 bytes is parsed (pkijs fromBER ignores
    // what follows the first element), so it is answered as a request, not as malformed.
    assert.deepEqual(wrong, []);
    assert.equal(snapshot(), before, 'the store changed');
  });

  it('committed corpus over POST: every malformed request is answered malformedRequest (docs/pki.md: "> 16 KiB … get malformedRequest")', async () => {
    const wrong: string[] = [];
    for (const file of corpus('ocsp')) {
      const res = await post(file.bytes);
      if (res.statusCode !== 200)
        wrong.push(`${file.name}: HTTP ${res.statusCode} ${res.body.slice(0, 120)}`);
      else if (ocspStatus(res.rawPayload) !== OCSP.malformedRequest)
        wrong.push(`${file.name}: OCSP status ${ocspStatus(res.rawPayload)}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('mutated valid requests (POST and GET): an OCSP answer, never internalError, nothing persisted', async () => {
    const before = snapshot();
    const bounds = new Bounds('OCSP(mutated)');
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 1).chain((i) => mutationsOf(seeds[i]!)),
        fc.boolean(),
        async (der, viaGet) => {
          const res = await bounds.runAsync(() => (viaGet ? get(der) : post(der)));
          const status = ocspAnswer(res, () => describeInput(der));
          seen.set(status, (seen.get(status) ?? 0) + 1);
          assert.ok(
            status === OCSP.successful || status === OCSP.malformedRequest || status === OCSP.unauthorized,
            `OCSP status ${status} for ${describeInput(der)}`,
          );
        },
      ),
      fuzzParams(),
    );
    console.log('OCSP(mutated) statuses', JSON.stringify([...seen]), JSON.stringify(bounds.finish()));
    assert.equal(snapshot(), before, 'the store changed');
    assertPrototypeClean();
  });

  it('random DER trees, bytes and URL text: an OCSP answer (malformedRequest or unauthorized)', async () => {
    const bounds = new Bounds('OCSP(random)');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          derTree.map((d) => ({ kind: 'post' as const, d })),
          fc.uint8Array({ maxLength: 200 }).map((d) => ({ kind: 'get' as const, d })),
          fc.string({ unit: 'binary', maxLength: 80 }).map((s) => ({ kind: 'url' as const, s })),
        ),
        async (input) => {
          const res = await bounds.runAsync(() => {
            if (input.kind === 'post') return post(input.d);
            if (input.kind === 'get') return get(input.d);
            return app.inject({ method: 'GET', url: `/ocsp/${encodeURI(input.s).replace(/[?#]/g, '%3F')}` });
          });
          const status = ocspAnswer(res, () => JSON.stringify(input).slice(0, 300));
          assert.ok(
            status === OCSP.malformedRequest || status === OCSP.unauthorized,
            `OCSP status ${status}`,
          );
        },
      ),
      fuzzParams(),
    );
    bounds.finish();
  });

  // ------------------------------------------------------------------ JSON bodies to every route

  const ROUTES = ['/ocsp', '/ocsp/MAo=', '/crl/fuzz-ca.crl', '/crl/x.crl', '/', '/api/v1/keys', '/metrics'];
  const METHODS = ['POST', 'PUT', 'PATCH', 'DELETE', 'GET'] as const;
  const hostileJson = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
    fc.dictionary(fc.constantFrom(...PROTOTYPE_KEYS), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1 }).map(
      (d) =>
        `{${Object.entries(d)
          .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`)
          .join(',')}}`,
    ),
    fc.integer({ min: 1, max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
    fc.integer({ min: 1, max: 5_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
    fc.constantFrom('1e999999', '-1e999999', '123456789012345678901234567890', '{"n":1e400}', '{', '', 'nul'),
  );
  const contentType = fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/ocsp-request',
    'application/xml',
  );

  /** The error code of a 4xx JSON body, whichever shape carries it. */
  function errorCode(body: string): string | undefined {
    try {
      const j = JSON.parse(body) as { code?: unknown; error?: { code?: unknown } };
      const code = j.error?.code ?? j.code;
      return typeof code === 'string' ? code : undefined;
    } catch {
      return undefined;
    }
  }

  interface Answer {
    route: string;
    method: string;
    type: string;
    statusCode: number;
    code?: string;
  }
  const answers: Answer[] = [];

  it('JSON bodies (deep nesting, huge numbers, prototype keys) to every route: no 5xx, bounded, nothing persisted', async () => {
    const before = snapshot();
    const bounds = new Bounds('routes(JSON)');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.constantFrom(...METHODS),
        contentType,
        hostileJson,
        async (route, method, type, body) => {
          const res = await bounds.runAsync(() =>
            app.inject(
              method === 'GET'
                ? { method, url: route }
                : { method, url: route, headers: { 'content-type': type }, payload: body },
            ),
          );
          assert.ok(
            res.statusCode < 500,
            `${method} ${route} (${type}) → HTTP ${res.statusCode}: ${res.body.slice(0, 200)}`,
          );
          if (res.statusCode === 200 && route.startsWith('/ocsp')) {
            assert.equal(res.headers['content-type'], 'application/ocsp-response');
          } else if (res.statusCode >= 400) {
            const code = errorCode(res.body);
            answers.push({ route, method, type, statusCode: res.statusCode, ...(code ? { code } : {}) });
          }
          assertPrototypeClean();
        },
      ),
      fuzzParams(),
    );
    bounds.finish();
    assert.equal(snapshot(), before, 'the store changed');
  });

  it('committed JSON corpus (prototype keys, deep nesting, huge numbers, invalid UTF-8) to every route: no 5xx', async () => {
    const before = snapshot();
    for (const file of corpus('server')) {
      for (const route of ROUTES) {
        for (const method of ['POST', 'PUT'] as const) {
          const res = await app.inject({
            method,
            url: route,
            headers: { 'content-type': 'application/json' },
            payload: file.bytes,
          });
          assert.ok(res.statusCode < 500, `${method} ${route} ${file.name} → HTTP ${res.statusCode}`);
          if (res.statusCode >= 400) {
            const code = errorCode(res.body);
            answers.push({
              route,
              method,
              type: 'application/json',
              statusCode: res.statusCode,
              ...(code ? { code } : {}),
            });
          }
        }
      }
    }
    assertPrototypeClean();
    assert.equal(snapshot(), before, 'the store changed');
  });

  it('10 MB bodies and URLs: refused in bounded time and memory, no 5xx', async () => {
    const big = hugeString();
    const stats: unknown[] = [];
    for (const req of [
      {
        method: 'POST' as const,
        url: '/ocsp',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ s: big }),
      },
      {
        method: 'POST' as const,
        url: '/ocsp',
        headers: { 'content-type': 'application/ocsp-request' },
        payload: Buffer.from(big),
      },
      {
        method: 'POST' as const,
        url: '/api/v1/keys',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ label: big }),
      },
      { method: 'GET' as const, url: `/ocsp/${big.slice(0, 1024 * 1024)}` },
      { method: 'GET' as const, url: `/crl/${big.slice(0, 1024 * 1024)}.crl` },
    ]) {
      const bounds = new Bounds('routes(10 MB)', HUGE_INPUT_LIMITS);
      const res = await bounds.runAsync(() => app.inject(req));
      assert.ok(res.statusCode < 500, `${req.method} ${req.url.slice(0, 40)} → ${res.statusCode}`);
      if (res.statusCode >= 400) {
        const code = errorCode(res.body);
        answers.push({
          route: req.url.slice(0, 20),
          method: req.method,
          type: String(req.headers?.['content-type'] ?? ''),
          statusCode: res.statusCode,
          ...(code ? { code } : {}),
        });
      }
      stats.push(bounds.finish());
    }
    console.log('routes(10 MB)', JSON.stringify(stats));
  });

  it('every 4xx answer carries an hsmkit error code ({ ok: false, error: { code: "HSM_ERR_…" } }, docs/errors.md)', () => {
    // Collected by the two tests above; grouped so the report lists each distinct miss once.
    assert.ok(answers.length > 0);
    const misses = new Map<string, number>();
    for (const a of answers) {
      if (a.code?.startsWith('HSM_ERR_')) continue;
      const key = `${a.statusCode} ${a.code ?? '(no code)'} e.g. ${a.method} ${a.route} ${a.type}`;
      const group = [...misses.keys()].find((k) => k.startsWith(`${a.statusCode} ${a.code ?? '(no code)'} `));
      misses.set(group ?? key, (misses.get(group ?? key) ?? 0) + 1);
    }
    assert.deepEqual(
      [...misses].map(([k, n]) => `${k} (${n}×)`),
      [],
    );
  });

  // ------------------------------------------------------------------ CSR issuance

  it('CSR issuance from every malformed corpus CSR: HSM_ERR_INVALID_INPUT, nothing signed, nothing stored', async () => {
    const before = snapshot();
    await checkCorpus('csr', async (file) => {
      if (file.valid) return true; // valid seeds would (legitimately) issue and store a certificate
      const out = await typedOutcomeAsync(
        () => issueFromCsr(deps, { ca: 'fuzz-ca', csr: file.bytes, profile: 'tls-server' }),
        ['HSM_ERR_INVALID_INPUT'],
        () => file.name,
      );
      return out.ok;
    });
    assert.equal(snapshot(), before, 'the store changed');
  });

  it('CSR issuance from mutated CSRs: a certificate for the seed key, or a typed refusal that stores nothing', async () => {
    const seed = corpus('csr').find((f) => f.name === 'valid-rsa2048.der.input')!.bytes;
    const bounds = new Bounds('issueFromCsr(mutated)');
    let issued = 0;
    await fc.assert(
      fc.asyncProperty(mutationsOf(seed), async (csr) => {
        const before = snapshot();
        const out = await bounds.runAsync(() =>
          typedOutcomeAsync(
            () => issueFromCsr(deps, { ca: 'fuzz-ca', csr, profile: 'tls-server' }),
            ['HSM_ERR_INVALID_INPUT', 'HSM_ERR_POLICY'],
            () => describeInput(csr),
          ),
        );
        if (out.ok) issued++;
        else assert.equal(snapshot(), before, `a refused CSR changed the store: ${out.error.code}`);
      }),
      fuzzParams({ numRuns: 1000 }),
    );
    console.log(`issueFromCsr(mutated): ${issued} issued`, JSON.stringify(bounds.finish()));
  });
});
