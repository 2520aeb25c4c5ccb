/**
 * `hsmkit … --server`: the CLI as a child process against a real service (mutual TLS with client
 * certificates made by openssl, a SoftHSM token). Signatures made through the service are checked
 * with openssl against the public key `key public` fetched; denials, missing or untrusted client
 * certificates and a missing TOTP code must come back as the same HSM_ERR_* codes as locally.
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { enrolTotp } from '../../../src/server/totp-enrolment.js';
import { openssl } from '../../support/tools.js';
import { openServiceFixture, type ServiceFixture } from '../server/service-fixture.js';
import {
  type ClientFiles,
  cli,
  clientFiles,
  errorCode,
  json,
  ok,
  remoteArgs,
  scratch,
  transcript,
} from './support.js';

let f: ServiceFixture;
let dir: string;
let caFile: string;
let files: Record<'operator' | 'signer' | 'auditor' | 'alice' | 'rogue', ClientFiles>;
let totpUri: string;
let totpSecret: string;

const as = (who: keyof typeof files, ...args: string[]) =>
  cli([...remoteArgs(f, caFile, files[who]), ...args]);

before(async () => {
  f = await openServiceFixture();
  dir = scratch();
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, f.tls.ca);
  files = {
    operator: clientFiles(dir, 'operator', f.clients.operator),
    signer: clientFiles(dir, 'signer', f.clients.signer),
    auditor: clientFiles(dir, 'auditor', f.clients.auditor),
    alice: clientFiles(dir, 'alice', f.alice),
    rogue: clientFiles(dir, 'rogue', f.tls.client('svc-operator', undefined, true)),
  };
  totpUri = await enrolTotp(f.totp, 'alice');
  totpSecret = (await f.totp.secret('alice'))!;
});

after(async () => {
  await f?.close();
});

describe('keys and signing through the service', () => {
  const label = `remote-ec-${process.pid}`;
  const msg = () => join(dir, 'message.txt');

  it('key generate (operator) prints the API’s key view; key show prints the same text as locally', async () => {
    const gen = json(
      ok(
        await as(
          'operator',
          '--json',
          'key',
          'generate',
          '--type',
          'ec-p256',
          '--label',
          label,
          '--meta',
          'owner=pki',
        ),
      ),
    );
    assert.equal(gen.label, label);
    assert.equal(gen.type, 'ec-p256');
    assert.equal(gen.metadata.owner, 'pki');
    assert.match(gen.public_key_pem, /BEGIN PUBLIC KEY/);
    const show = ok(await as('operator', 'key', 'show', label)).stdout;
    assert.match(show, new RegExp(`^label\\s+${label}$`, 'm'));
    assert.match(show, /^type\s+ec-p256$/m);
    assert.match(show, /^owner\s+pki$/m);
    const list = ok(await as('operator', 'key', 'list', '--prefix', 'remote-ec-')).stdout;
    assert.match(list, new RegExp(`^${label}\\s+ec-p256`, 'm'));
  });

  it('sign (signer) makes a signature openssl verifies with the key from key public; a tampered message fails', async () => {
    const pub = join(dir, 'remote.pub.pem');
    ok(await as('signer', 'key', 'public', label, '--out', pub));
    writeFileSync(msg(), 'signed through the hsmkit service\n');
    const sig = join(dir, 'message.sig');
    const r = json(ok(await as('signer', '--json', 'sign', '--key', label, '--in', msg(), '--out', sig)));
    assert.equal(r.algorithm, 'ECDSA-SHA256');
    const good = openssl(['dgst', '-sha256', '-verify', pub, '-signature', sig, msg()]);
    assert.equal(good.status, 0, good.stderr);
    assert.match(good.stdout, /Verified OK/);
    const tampered = join(dir, 'tampered.txt');
    writeFileSync(tampered, 'signed through the hsmkit service!\n');
    assert.notEqual(openssl(['dgst', '-sha256', '-verify', pub, '-signature', sig, tampered]).status, 0);
  });

  it('sign-batch (signer) signs several files in chunks of --batch-size; each verifies with openssl', async () => {
    const pub = join(dir, 'remote.pub.pem');
    const ins = [1, 2, 3].map((i) => {
      const p = join(dir, `batch-${i}.txt`);
      writeFileSync(p, `batch item ${i}\n`);
      return p;
    });
    const out = join(dir, 'sigs');
    const r = json(
      ok(
        await as(
          'signer',
          '--json',
          'sign-batch',
          '--key',
          label,
          '--alg',
          'sha384',
          '--batch-size',
          '2',
          '--out-dir',
          out,
          ...ins.flatMap((p) => ['--in', p]),
        ),
      ),
    );
    assert.equal(r.items.length, 3);
    for (const [i, p] of ins.entries()) {
      const sig = join(out, `batch-${i + 1}.txt.sig`);
      assert.equal(r.items[i].out, sig);
      const v = openssl(['dgst', '-sha384', '-verify', pub, '-signature', sig, p]);
      assert.equal(v.status, 0, v.stderr);
      // Each signature belongs to its own file, not to a neighbour's.
      assert.notEqual(
        openssl(['dgst', '-sha384', '-verify', pub, '-signature', sig, ins[(i + 1) % 3]!]).status,
        0,
      );
    }
  });

  it('a denied operation (auditor generating a key) exits non-zero with HSM_ERR_POLICY_VIOLATION', async () => {
    const r = await as('auditor', 'key', 'generate', '--type', 'ec-p256', '--label', `denied-${process.pid}`);
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), 'HSM_ERR_POLICY_VIOLATION');
    const j = json(await as('auditor', '--json', 'key', 'delete', label, '--yes'));
    assert.equal(j.ok, false);
    assert.equal(j.error.code, 'HSM_ERR_POLICY_VIOLATION');
    // The key is still there.
    ok(await as('operator', 'key', 'show', label));
  });

  it('an unknown key is HSM_ERR_KEY_NOT_FOUND (exit 1), as locally', async () => {
    const r = await as('operator', 'key', 'show', 'no-such-key');
    assert.equal(r.code, 1);
    assert.equal(errorCode(r), 'HSM_ERR_KEY_NOT_FOUND');
  });

  it('key delete --yes (operator) removes the key', async () => {
    const victim = `remote-victim-${process.pid}`;
    ok(await as('operator', 'key', 'generate', '--type', 'ec-p256', '--label', victim));
    const d = ok(await as('operator', 'key', 'delete', victim, '--yes'));
    assert.match(d.stdout, /Deleted key/);
    assert.equal(errorCode(await as('operator', 'key', 'show', victim)), 'HSM_ERR_KEY_NOT_FOUND');
  });
});

describe('jobs', () => {
  it('job submit --wait runs a key.create job to the end; the key exists afterwards', async () => {
    const label = `job-key-${process.pid}`;
    const j = json(
      ok(
        await as(
          'operator',
          '--json',
          'job',
          'submit',
          '--kind',
          'key.create',
          '--type',
          'ec-p256',
          '--label',
          label,
          '--wait',
        ),
      ),
    );
    assert.equal(j.status, 'succeeded');
    assert.equal(j.result.label, label);
    ok(await as('operator', 'key', 'show', label));
  });

  it('job submit, then job show and job wait by id; a failing job exits with its own code', async () => {
    const req = join(dir, 'job-request.json');
    writeFileSync(req, JSON.stringify({ label: `job-key-${process.pid}`, key_type: 'ec-p256' }));
    const sub = json(ok(await as('operator', '--json', 'job', 'submit', '--request', req)));
    assert.match(sub.id, /^[0-9a-f-]{36}$/);
    const shown = json(ok(await as('operator', '--json', 'job', 'show', sub.id)));
    assert.equal(shown.id, sub.id);
    // The label exists already (the test above), so the job fails with the key manager's code.
    const w = await as('operator', 'job', 'wait', sub.id, '--timeout', '60');
    assert.notEqual(w.code, 0);
    assert.equal(errorCode(w), 'HSM_ERR_KEY_EXISTS');
    // Another identity does not see the job at all.
    assert.equal(errorCode(await as('signer', 'job', 'show', sub.id)), 'HSM_ERR_NOT_FOUND');
  });
});

describe('connection, authentication and refusals', () => {
  it('server health reports live and ready with the member state', async () => {
    const h = json(ok(await cli([...remoteArgs(f, caFile, files.auditor), '--json', 'server', 'health'])));
    assert.equal(h.live, 'ok');
    assert.equal(h.ready, 'ready');
    assert.deepEqual(Object.values(h.members), ['up']);
  });

  it('no client certificate: HSM_ERR_UNAUTHENTICATED naming --client-cert', async () => {
    const r = await cli([...remoteArgs(f, caFile), 'key', 'list']);
    assert.notEqual(r.code, 0);
    assert.equal(errorCode(r), 'HSM_ERR_UNAUTHENTICATED', r.stderr);
    assert.match(r.stderr, /--client-cert/);
  });

  it('a client certificate from an untrusted CA: HSM_ERR_UNAUTHENTICATED, refused at TLS', async () => {
    const r = await as('rogue', 'key', 'list');
    assert.notEqual(r.code, 0);
    assert.equal(errorCode(r), 'HSM_ERR_UNAUTHENTICATED', r.stderr);
  });

  it('a server certificate the CLI does not trust: HSM_ERR_CONFIG naming --server-ca', async () => {
    const r = await cli([
      '--server',
      f.base,
      '--client-cert',
      files.operator.cert,
      '--client-key',
      files.operator.key,
      'key',
      'list',
    ]);
    assert.equal(errorCode(r), 'HSM_ERR_CONFIG', r.stderr);
    assert.match(r.stderr, /--server-ca/);
  });

  it('a client key readable by others is refused before connecting, and its content is not printed', async () => {
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, readFileSync(files.operator.key));
    chmodSync(loose, 0o644);
    const r = await cli([
      ...remoteArgs(f, caFile),
      '--client-cert',
      files.operator.cert,
      '--client-key',
      loose,
      'key',
      'list',
    ]);
    assert.equal(r.code, 2);
    assert.equal(errorCode(r), 'HSM_ERR_INVALID_INPUT');
    assert.match(r.stderr, /chmod 600/);
    assert.equal(statSync(files.operator.key).mode & 0o777, 0o600);
  });

  it('the human operator without a TOTP code: 401 HSM_ERR_MFA_REQUIRED; with --totp-file it works', async () => {
    const r = await as('alice', 'key', 'list');
    assert.equal(errorCode(r), 'HSM_ERR_MFA_REQUIRED', r.stderr);
    assert.equal(r.code, 2);
    const totpFile = join(dir, 'alice.otpauth');
    writeFileSync(totpFile, `${totpUri}\n`, { mode: 0o600 });
    ok(await cli([...remoteArgs(f, caFile, files.alice), '--totp-file', totpFile, 'key', 'list']));
    const wrong = await cli([...remoteArgs(f, caFile, files.alice), 'key', 'list'], {
      HSMKIT_TOTP: '000000',
    });
    assert.equal(errorCode(wrong), 'HSM_ERR_UNAUTHENTICATED', wrong.stderr);
  });

  it('--role the identity does not hold is refused with HSM_ERR_POLICY_VIOLATION', async () => {
    const r = await cli([...remoteArgs(f, caFile, files.operator), '--role', 'admin', 'key', 'list']);
    assert.equal(errorCode(r), 'HSM_ERR_POLICY_VIOLATION', r.stderr);
  });

  it('commands without an API route refuse --server with HSM_ERR_INVALID_INPUT naming the command', async () => {
    for (const args of [
      ['init', '--dev'],
      ['serve', '--tls'],
      ['hsm', 'info'],
      ['compliance', 'report'],
    ]) {
      const r = await cli([...remoteArgs(f, caFile, files.operator), ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(errorCode(r), 'HSM_ERR_INVALID_INPUT');
      assert.match(r.stderr, new RegExp(`"hsmkit ${args[0]}`));
    }
    // HSMKIT_SERVER counts as --server.
    const env = await cli(['hsm', 'info'], { HSMKIT_SERVER: f.base });
    assert.equal(errorCode(env), 'HSM_ERR_INVALID_INPUT');
  });

  it('service-only commands without --server say so', async () => {
    const r = await cli(['job', 'show', '00000000-0000-0000-0000-000000000000']);
    assert.equal(errorCode(r), 'HSM_ERR_INVALID_INPUT');
    assert.match(r.stderr, /--server/);
  });
});

describe('idempotency', () => {
  it('every POST the CLI sent carried its own Idempotency-Key (recorded per caller by the service)', async () => {
    const rows = await f.ctx.store.db
      .selectFrom('idempotency_key')
      .select(['identity', 'key', 'status'])
      .where('identity', '=', 'svc-signer')
      .execute();
    // The signer POSTed one sign and two batch calls above, each with a fresh UUID key.
    assert.ok(rows.length >= 3, `${rows.length} keys recorded`);
    for (const r of rows)
      assert.match(r.key, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(new Set(rows.map((r) => r.key)).size, rows.length);
  });
});

describe('secrets', () => {
  it('no CLI output holds the TOTP secret or a client private key', () => {
    const keyBody = (p: string) => readFileSync(p, 'utf8').split('\n')[1]!;
    const secrets = [totpSecret, keyBody(files.operator.key), keyBody(files.alice.key)];
    for (const r of transcript) {
      for (const s of secrets) {
        assert.ok(
          !r.stdout.includes(s) && !r.stderr.includes(s),
          `a secret leaked in: hsmkit ${r.args.join(' ')}`,
        );
      }
    }
    assert.ok(transcript.length > 10);
  });
});
