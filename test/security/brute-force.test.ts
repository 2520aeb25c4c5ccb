/**
 * Brute force (issue 11): over real HTTPS with client certificates,
 * - wrong TOTP codes lock the identity: even the right code is refused (429, Retry-After) while
 *   locked, the lock-out is audited, and it ends by itself after the configured period;
 * - the per-identity rate limit answers 429 with Retry-After, for that identity only;
 * - the HSM PIN is never retried: `hsmkit serve` with a wrong PIN starts with the member
 *   auth_failed, every request fails with HSM_ERR_AUTH, and OpenSC's pkcs11-spy logs exactly one
 *   C_Login for the whole run.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generate } from 'otplib';
import { stringify } from 'yaml';
import { enrolTotp } from '../../src/server/totp-enrolment.js';
import { call } from '../integration/server/https-client.js';
import { type MonitoredApp, startMonitoredApp } from '../integration/server/monitored-app.js';
import {
  openServiceFixture,
  problemCode,
  type ServiceFixture,
} from '../integration/server/service-fixture.js';
import { TlsMaterial } from '../integration/server/tls-material.js';
import { createSoftHsmToken, SOFTHSM_MODULE } from '../support/softhsm.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN = join(ROOT, 'src/cli/run.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('brute force over mutual TLS', () => {
  let f: ServiceFixture;
  let m: MonitoredApp;
  let secret = '';

  before(async () => {
    f = await openServiceFixture({
      rateLimit: { per_second: 1, burst: 5 },
      service: { totp_lockout: { attempts: 3, refill_seconds: 2 } },
    });
    await enrolTotp(f.totp, 'alice');
    secret = (await f.totp.secret('alice'))!;
    m = await startMonitoredApp(f);
  });
  after(async () => {
    await m?.close();
    await f?.close();
  });

  it('three wrong TOTP codes lock alice: the right code is refused 429 while locked, audited, and the lock ends', async () => {
    const good = await generate({ secret });
    const wrong = String((Number(good) + 500_000) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 3; i++) {
      const a = await m.send({ path: '/v1/keys', client: f.alice, headers: { 'x-hsmkit-otp': wrong } });
      assert.equal(a.status, 401, a.text);
      assert.equal(problemCode(a), 'HSM_ERR_UNAUTHENTICATED');
    }
    const locked = await m.send({
      path: '/v1/keys',
      client: f.alice,
      headers: { 'x-hsmkit-otp': await generate({ secret }) },
    });
    assert.equal(locked.status, 429, locked.text);
    assert.equal(problemCode(locked), 'HSM_ERR_RATE_LIMITED');
    const wait = Number(locked.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 2, `Retry-After ${wait}`);
    const rows = await f.ctx.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('actor', '=', 'alice')
      .where('operation', '=', 'service.login')
      .execute();
    assert.equal(rows.filter((r) => r.error_code === 'HSM_ERR_UNAUTHENTICATED').length, 3);
    assert.equal(rows.filter((r) => r.rule === 'service.totp_lockout').length, 1);
    // The lock ends by itself after Retry-After: the right code works again.
    await sleep(wait * 1000 + 300);
    const open = await m.send({
      path: '/v1/keys',
      client: f.alice,
      headers: { 'x-hsmkit-otp': await generate({ secret }) },
    });
    assert.equal(open.status, 200, open.text);
  });

  it('the per-identity rate limit answers 429 with Retry-After, only for that identity, and recovers', async () => {
    const flood = f.tls.client('svc-flood');
    const statuses: number[] = [];
    let retryAfter = 0;
    for (let i = 0; i < 8; i++) {
      const a = await m.send({ path: '/v1/keys', client: flood });
      statuses.push(a.status);
      if (a.status === 429) {
        assert.equal(problemCode(a), 'HSM_ERR_RATE_LIMITED');
        retryAfter = Number(a.headers['retry-after']);
      }
    }
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    assert.ok(
      statuses.slice(5).every((s) => s === 429),
      statuses.join(','),
    );
    assert.ok(retryAfter >= 1, `Retry-After ${retryAfter}`);
    assert.equal((await m.send({ path: '/v1/keys', client: f.clients.auditor })).status, 200);
    await sleep(retryAfter * 1000 + 300);
    assert.equal((await m.send({ path: '/v1/keys', client: flood })).status, 200);
  });
});

describe('the HSM PIN is never retried by hsmkit serve', () => {
  const token = createSoftHsmToken();
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-wrong-pin-'));
  const spyLog = join(dir, `spy-${randomBytes(4).toString('hex')}.log`);
  let serve: ChildProcess | undefined;
  let tls: TlsMaterial;
  let base = '';
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];

  /** OpenSC's PKCS#11 spy module (as test/integration/pkcs11/errors.test.ts finds it). */
  function spyModule(): string {
    let listed: string[] = [];
    try {
      listed = execFileSync('dpkg', ['-L', 'opensc-pkcs11'], { encoding: 'utf8' }).split('\n');
    } catch {
      // Fall back to the usual Debian paths below.
    }
    const found = [
      ...listed.filter((p) => p.endsWith('/pkcs11-spy.so')),
      '/usr/lib/x86_64-linux-gnu/pkcs11-spy.so',
      '/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so',
    ].find((p) => existsSync(p));
    assert.ok(found, 'pkcs11-spy.so (opensc-pkcs11) is installed');
    return found;
  }

  before(async () => {
    tls = new TlsMaterial(dir);
    let wrongPin = randomBytes(8).toString('hex');
    while (wrongPin === token.userPin) wrongPin = randomBytes(8).toString('hex');
    const pinFile = join(dir, 'wrong-pin');
    writeFileSync(pinFile, wrongPin, { mode: 0o600 });
    const config = {
      hsm_configuration: {
        provider: 'softhsm2',
        connection: {
          module: spyModule(),
          token_label: token.label,
          pin_file: pinFile,
          env: { ...token.env, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: spyLog },
        },
      },
      store: { path: join(dir, 'hsmkit.db') },
      service: {
        tls: {
          certificate: tls.serverFiles.certificate,
          key: tls.serverFiles.key,
          client_ca: tls.serverFiles.clientCa,
        },
        identities: [{ name: 'svc-admin', match: 'cn:svc-admin', kind: 'service', roles: ['admin'] }],
        rate_limit: { per_second: 1000, burst: 1000 },
      },
    };
    const configFile = join(dir, 'hsmkit.yaml');
    writeFileSync(configFile, stringify(config), { mode: 0o600 });
    serve = spawn(
      process.execPath,
      ['--import', 'tsx', RUN, '--config', configFile, 'serve', '--tls', '--listen', '127.0.0.1:0', '--json'],
      { cwd: ROOT, env: { ...process.env, HSMKIT_ROLE: '' } },
    );
    serve.stdout!.on('data', (b: Buffer) => stdout.push(b));
    serve.stderr!.on('data', (b: Buffer) => stderr.push(b));
    const until = Date.now() + 60_000;
    while (!/"listening":\s*"[^"]+"/.test(Buffer.concat(stdout).toString())) {
      assert.equal(
        serve.exitCode,
        null,
        `hsmkit serve exited: ${Buffer.concat(stderr).toString().slice(0, 2000)}`,
      );
      assert.ok(Date.now() < until, 'hsmkit serve did not start within 60 s');
      await sleep(100);
    }
    const listening = /"listening":\s*"([^"]+)"/.exec(Buffer.concat(stdout).toString());
    assert.ok(listening, 'hsmkit serve printed no address');
    base = listening[1]!;
  });
  after(async () => {
    if (serve && serve.exitCode === null) {
      const exited = new Promise((r) => serve!.once('close', r));
      process.kill(serve.pid!, 'SIGTERM');
      await exited;
    }
    // The spy log holds the PIN in clear: never print it, and delete it.
    rmSync(spyLog, { force: true });
    token.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with the member auth_failed, and says so on stderr without the PIN', () => {
    const err = Buffer.concat(stderr).toString();
    assert.match(err, /auth_failed/);
    assert.ok(!err.includes(readFileSync(join(dir, 'wrong-pin'), 'utf8')), 'stderr shows the PIN');
  });

  it('every request that needs the HSM fails with 503 HSM_ERR_AUTH, and the token sees exactly one C_Login', async () => {
    const admin = tls.client('svc-admin');
    const digest = Buffer.alloc(32, 7).toString('base64');
    for (let i = 0; i < 15; i++) {
      const a =
        i % 3 === 0
          ? await call(base, tls.ca, { path: '/v1/keys', client: admin })
          : await call(base, tls.ca, {
              method: 'POST',
              path: '/v1/sign',
              client: admin,
              body: { key: 'any', digest },
            });
      assert.equal(a.status, 503, a.text);
      assert.equal(problemCode(a), 'HSM_ERR_AUTH');
      assert.match(a.json.detail, /refused the PIN/);
    }
    // Give a (wrong) background retry time to show up in the log before counting.
    await sleep(1500);
    const text = readFileSync(spyLog, 'utf8');
    const initialises = (text.match(/^\d+: C_Initialize\s*$/gm) ?? []).length;
    const logins = (text.match(/^\d+: C_Login\s*$/gm) ?? []).length;
    assert.ok(initialises >= 1, 'the spy module logged nothing: it was not in the call path');
    assert.equal(logins, 1, 'C_Login was not called exactly once');
  });
});
