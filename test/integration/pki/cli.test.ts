/**
 * End-to-end: the PKI commands of the hsmkit CLI, run as separate processes (`node --import tsx
 * src/cli/run.ts`) on a `hsmkit init --dev` SoftHSM token, and `hsmkit serve` as a child process
 * queried by `openssl ocsp -url`. EC-P384 CAs here; every CA key type is covered in-process by
 * lifecycle.test.ts. Output files are never overwritten; no output ever contains a PIN.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compactVerify, importX509 } from 'jose';
import { CLI_ENTRY, type CliResult, concurrencyLimit, REPO_ROOT, runCli } from '../../support/cli.js';
import { openssl } from '../../support/tools.js';

let tmp = '';
let home = '';
let w = '';
const transcript: CliResult[] = [];
let server: ChildProcess | undefined;
let port = 0;

/** Most CLI processes at once: each also starts a member host, and the token is one file store. */
const PARALLEL = 4;
const limited = concurrencyLimit(PARALLEL);

function cli(...args: string[]): Promise<CliResult> {
  return limited(() =>
    runCli(args, { env: { HSMKIT_HOME: home }, unsetEnv: ['HSMKIT_CONFIG'], timeoutMs: 120_000, transcript }),
  );
}

function fmt(r: CliResult): string {
  return `hsmkit ${r.args.join(' ')} -> ${r.code}\n${r.stdout}\n${r.stderr}`;
}

async function ok<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  const r = await cli(...args, '--json');
  assert.equal(r.code, 0, fmt(r));
  return JSON.parse(r.stdout) as T;
}

async function fails(code: string, ...args: string[]): Promise<void> {
  const r = await cli(...args, '--json');
  assert.notEqual(r.code, 0, fmt(r));
  assert.equal(JSON.parse(r.stdout).error.code, code, fmt(r));
  assert.ok(!`${r.stdout}${r.stderr}`.includes('    at '), `stack printed: ${fmt(r)}`);
}

function sslOk(args: string[]): string {
  const r = openssl(args);
  assert.equal(r.status, 0, `openssl ${args.join(' ')}\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

const p = (name: string) => join(w, name);

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= fn();
    return pending;
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function startServe(): Promise<void> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, HSMKIT_HOME: home };
    delete env.HSMKIT_CONFIG;
    server = spawn(
      process.execPath,
      ['--import', 'tsx', CLI_ENTRY, 'serve', '--listen', `127.0.0.1:${port}`, '--json'],
      { cwd: REPO_ROOT, env },
    );
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60_000);
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"listening"')) {
        clearTimeout(timer);
        transcript.push({ args: ['serve'], code: 0, stdout: out, stderr: '' });
        resolve();
      }
    });
    server.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    server.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hsmkit-pki-cli-'));
  home = join(tmp, 'home');
  w = mkdtempSync(join(tmp, 'work-'));
  port = await freePort();
  const init = await cli('init', '--dev');
  assert.equal(init.code, 0, fmt(init));
});

after(() => {
  // Only the process this file started, by its pid.
  if (server?.pid !== undefined && server.exitCode === null) process.kill(server.pid, 'SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('hsmkit PKI commands', { concurrency: true }, () => {
  let leafSerial = '';

  const setup = once(async () => {
    const root = await ok(
      'ca',
      'init',
      '--name',
      'root',
      '--subject',
      'CN=CLI Root,O=hsmkit',
      '--key-type',
      'ec-p384',
      '--validity',
      '20y',
      '--out',
      p('root.pem'),
    );
    assert.match(String(root.serial), /^[0-9a-f]{1,32}$/);
    assert.equal(root.out, p('root.pem'));
    await ok(
      'ca',
      'init',
      '--name',
      'inter',
      '--parent',
      'root',
      '--subject',
      'CN=CLI Issuing,O=hsmkit',
      '--key-type',
      'ec-p384',
      '--path-len',
      '0',
      '--out',
      p('inter.pem'),
    );
    await Promise.all(
      [
        ['leaf', 'ec-p256'],
        ['cs', 'ec-p384'],
        ['ds', 'ec-p384'],
      ].map(([l, t]) => ok('key', 'generate', '--type', t!, '--label', l!)),
    );
    await Promise.all([
      ok(
        'csr',
        'create',
        '--key',
        'leaf',
        '--subject',
        'CN=www.example.test',
        '--san',
        'dns:www.example.test,ip:127.0.0.1',
        '--out',
        p('leaf.csr'),
      ),
      ok('csr', 'create', '--key', 'cs', '--subject', 'CN=Code Signer', '--out', p('cs.csr')),
      ok(
        'csr',
        'create',
        '--key',
        'ds',
        '--subject',
        'CN=Doc Signer',
        '--san',
        'email:docs@example.test',
        '--out',
        p('ds.csr'),
        '--der',
      ),
    ]);
    assert.match(sslOk(['req', '-verify', '-noout', '-in', p('leaf.csr')]), /verify OK/);
    assert.match(sslOk(['req', '-verify', '-noout', '-inform', 'DER', '-in', p('ds.csr')]), /verify OK/);
    const [leaf] = await Promise.all([
      ok<{ serial: string; keyUri: string }>(
        'cert',
        'issue',
        '--ca',
        'inter',
        '--csr',
        p('leaf.csr'),
        '--profile',
        'tls-server',
        '--validity',
        '90d',
        '--out',
        p('leaf.pem'),
      ),
      ok(
        'cert',
        'issue',
        '--ca',
        'inter',
        '--csr',
        p('cs.csr'),
        '--profile',
        'code-signing',
        '--out',
        p('cs.pem'),
      ),
      ok(
        'cert',
        'issue',
        '--ca',
        'inter',
        '--csr',
        p('ds.csr'),
        '--profile',
        'document-signing',
        '--out',
        p('ds.pem'),
      ),
    ]);
    leafSerial = leaf.serial;
    assert.match(leaf.keyUri, /^pkcs11:.*object=leaf/);
    for (const c of ['leaf', 'cs', 'ds']) {
      assert.match(
        sslOk(['verify', '-CAfile', p('root.pem'), '-untrusted', p('inter.pem'), p(`${c}.pem`)]),
        /: OK/,
      );
    }
  });

  it('ca init (root, intermediate), csr create, cert issue: openssl verifies chain and CSRs', async () => {
    await setup();
  });

  it('refuses to overwrite an output file, before anything is signed', async () => {
    await setup();
    const before = readFileSync(p('root.pem'));
    await fails(
      'HSM_ERR_INVALID_INPUT',
      'ca',
      'init',
      '--name',
      'root2',
      '--subject',
      'CN=x',
      '--key-type',
      'ec-p384',
      '--out',
      p('root.pem'),
    );
    await fails(
      'HSM_ERR_INVALID_INPUT',
      'cert',
      'issue',
      '--ca',
      'inter',
      '--csr',
      p('leaf.csr'),
      '--profile',
      'tls-server',
      '--out',
      p('leaf.pem'),
    );
    assert.deepEqual(readFileSync(p('root.pem')), before);
    const cas = await ok<Array<{ name: string }>>('ca', 'list');
    assert.deepEqual(
      cas.map((c) => c.name),
      ['inter', 'root'],
    );
  });

  it('bad input exits with its code: unknown profile, validity above cap, garbage CSR', async () => {
    await setup();
    writeFileSync(p('garbage.csr'), 'not a csr');
    await fails(
      'HSM_ERR_INVALID_INPUT',
      'cert',
      'issue',
      '--ca',
      'inter',
      '--csr',
      p('leaf.csr'),
      '--profile',
      'nope',
      '--out',
      p('x1.pem'),
    );
    await fails(
      'HSM_ERR_POLICY',
      'cert',
      'issue',
      '--ca',
      'inter',
      '--csr',
      p('leaf.csr'),
      '--profile',
      'tls-server',
      '--validity',
      '2y',
      '--out',
      p('x2.pem'),
    );
    await fails(
      'HSM_ERR_INVALID_INPUT',
      'cert',
      'issue',
      '--ca',
      'inter',
      '--csr',
      p('garbage.csr'),
      '--profile',
      'tls-server',
      '--out',
      p('x3.pem'),
    );
  });

  it('cert issue with several --csr issues a batch into --out-dir', async () => {
    await setup();
    for (const n of ['b1', 'b2']) {
      const r = openssl([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        p(`${n}.key`),
        '-subj',
        `/CN=${n}.example.test`,
        '-addext',
        `subjectAltName=DNS:${n}.example.test`,
        '-out',
        p(`${n}.csr`),
      ]);
      assert.equal(r.status, 0, r.stderr);
    }
    const out = await ok<{ issued: number; results: Array<{ out: string }> }>(
      'cert',
      'issue',
      '--ca',
      'inter',
      '--profile',
      'tls-server',
      '--csr',
      p('b1.csr'),
      '--csr',
      p('b2.csr'),
      '--out-dir',
      w,
    );
    assert.equal(out.issued, 2);
    for (const r of out.results)
      assert.match(sslOk(['verify', '-CAfile', p('root.pem'), '-untrusted', p('inter.pem'), r.out]), /: OK/);
  });

  it('hsmkit serve: openssl ocsp -url reports good, then revoked after cert revoke; CRLs verify', async () => {
    await setup();
    await startServe();
    const ocsp = [
      'ocsp',
      '-issuer',
      p('inter.pem'),
      '-cert',
      p('leaf.pem'),
      '-url',
      `http://127.0.0.1:${port}/ocsp`,
      '-CAfile',
      p('root.pem'),
    ];
    const good = sslOk(ocsp);
    assert.match(good, /Response verify OK/);
    assert.match(good, new RegExp(`${p('leaf.pem')}: good`));
    assert.doesNotMatch(good, /WARNING: no nonce/);
    const rev = await ok<{ status: string; reason: string }>(
      'cert',
      'revoke',
      leafSerial,
      '--reason',
      'keyCompromise',
    );
    assert.equal(rev.status, 'revoked');
    const revoked = sslOk(ocsp);
    assert.match(revoked, /Response verify OK/);
    assert.match(revoked, new RegExp(`${p('leaf.pem')}: revoked`));
    assert.match(revoked, /Reason: keyCompromise/);
    // The pre-signed path (no nonce) sees the revocation too.
    assert.match(sslOk([...ocsp, '-no_nonce']), /: revoked/);

    const crl = await ok<{ crlNumber: number; entries: number }>(
      'crl',
      'generate',
      '--ca',
      'inter',
      '--out',
      p('inter.crl'),
    );
    assert.equal(crl.entries, 1);
    assert.match(sslOk(['crl', '-in', p('inter.crl'), '-CAfile', p('inter.pem'), '-noout']), /verify OK/);
    const check = openssl([
      'verify',
      '-crl_check',
      '-CAfile',
      p('root.pem'),
      '-untrusted',
      p('inter.pem'),
      '-CRLfile',
      p('inter.crl'),
      p('leaf.pem'),
    ]);
    assert.notEqual(check.status, 0);
    assert.match(check.stdout + check.stderr, /certificate revoked/);
    const published = await fetch(`http://127.0.0.1:${port}/crl/inter.crl`);
    assert.equal(published.status, 200);
    writeFileSync(p('published.crl'), Buffer.from(await published.arrayBuffer()));
    assert.match(
      sslOk(['crl', '-inform', 'DER', '-in', p('published.crl'), '-CAfile', p('inter.pem'), '-noout']),
      /verify OK/,
    );
  });

  const codesigned = once(async () => {
    await setup();
    writeFileSync(p('artifact.bin'), Buffer.alloc(64 * 1024, 7));
    const r = await ok<{ out: string; signingTime: string }>(
      'codesign',
      '--key',
      'cs',
      '--cert',
      p('cs.pem'),
      '--chain',
      p('inter.pem'),
      '--in',
      p('artifact.bin'),
      '--out',
      p('artifact.p7s'),
      '--detached',
    );
    assert.ok(Date.parse(r.signingTime) > 0);
    const verify = [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'PEM',
      '-in',
      p('artifact.p7s'),
      '-CAfile',
      p('root.pem'),
      '-purpose',
      'any',
      '-out',
      '/dev/null',
    ];
    assert.match(sslOk([...verify, '-content', p('artifact.bin')]), /Verification successful/);
    writeFileSync(p('artifact.bad'), Buffer.concat([Buffer.alloc(64 * 1024 - 1, 7), Buffer.from([8])]));
    assert.notEqual(openssl([...verify, '-content', p('artifact.bad')]).status, 0);
  });

  it('codesign: openssl cms -verify with the artefact succeeds; a tampered artefact fails', () =>
    codesigned());

  it('docsign: JWS (x5c) verifies with jose and docverify; CMS verifies with docverify and openssl', async () => {
    await setup();
    writeFileSync(p('report.json'), JSON.stringify({ audit: 'Q3', ok: true }));
    writeFileSync(p('report.txt'), 'quarterly audit report\n');
    const [jws] = await Promise.all([
      ok<{ format: string }>(
        'docsign',
        '--key',
        'ds',
        '--cert',
        p('ds.pem'),
        '--chain',
        p('inter.pem'),
        '--in',
        p('report.json'),
        '--out',
        p('report.jws'),
      ),
      ok(
        'docsign',
        '--key',
        'ds',
        '--cert',
        p('ds.pem'),
        '--chain',
        p('inter.pem'),
        '--in',
        p('report.txt'),
        '--out',
        p('report.p7s'),
      ),
    ]);
    assert.equal(jws.format, 'jws');
    const token = readFileSync(p('report.jws'), 'utf8');
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
    const key = await importX509(
      `-----BEGIN CERTIFICATE-----\n${header.x5c[0]}\n-----END CERTIFICATE-----`,
      header.alg,
    );
    assert.deepEqual(JSON.parse(Buffer.from((await compactVerify(token, key)).payload).toString()), {
      audit: 'Q3',
      ok: true,
    });
    const [v1, v2] = await Promise.all([
      ok<{ format: string }>(
        'docverify',
        '--sig',
        p('report.jws'),
        '--in',
        p('report.json'),
        '--ca',
        p('root.pem'),
      ),
      ok<{ format: string }>(
        'docverify',
        '--sig',
        p('report.p7s'),
        '--in',
        p('report.txt'),
        '--ca',
        p('root.pem'),
      ),
    ]);
    assert.equal(v1.format, 'jws');
    assert.equal(v2.format, 'cms');
    assert.match(
      sslOk([
        'cms',
        '-verify',
        '-binary',
        '-inform',
        'PEM',
        '-in',
        p('report.p7s'),
        '-content',
        p('report.txt'),
        '-CAfile',
        p('root.pem'),
        '-out',
        '/dev/null',
      ]),
      /successful/,
    );
    writeFileSync(p('report2.txt'), 'quarterly audit report (edited)\n');
    await fails(
      'HSM_ERR_INVALID_INPUT',
      'docverify',
      '--sig',
      p('report.p7s'),
      '--in',
      p('report2.txt'),
      '--ca',
      p('root.pem'),
    );
  });

  it('cert renew --rekey: new HSM key, old key archived, chain verifies', async () => {
    // Re-keying archives the key codesign uses, so it runs after codesign.
    await codesigned();
    const issued = await ok<{ serial: string }>(
      'cert',
      'issue',
      '--ca',
      'inter',
      '--csr',
      p('cs.csr'),
      '--profile',
      'code-signing',
      '--out',
      p('cs2.pem'),
    );
    const r = await ok<{ serial: string; renewedFrom: string; newKeyUri: string; archivedKeyUri: string }>(
      'cert',
      'renew',
      issued.serial,
      '--rekey',
      '--new-key-label',
      'cs-2',
      '--out',
      p('cs3.pem'),
    );
    assert.equal(r.renewedFrom, issued.serial);
    assert.match(r.newKeyUri, /object=cs-2/);
    assert.match(
      sslOk(['verify', '-CAfile', p('root.pem'), '-untrusted', p('inter.pem'), p('cs3.pem')]),
      /: OK/,
    );
    const old = await ok<{ metadata: { status: string; tags: Record<string, string> } }>(
      'key',
      'show',
      r.archivedKeyUri,
    );
    assert.equal(old.metadata.status, 'archived');
    assert.equal(old.metadata.tags.replacedBy, r.newKeyUri);
    // Archived means archived on every path, not only in the PKI layer: a raw signature is refused.
    writeFileSync(p('after-rekey.txt'), 'signed with an archived key?\n');
    await fails(
      'HSM_ERR_POLICY_VIOLATION',
      'sign',
      '--key',
      r.archivedKeyUri,
      '--in',
      p('after-rekey.txt'),
      '--out',
      p('after-rekey.sig'),
    );
    assert.ok(!existsSync(p('after-rekey.sig')), 'no signature file written');
  });
});

describe('afterwards', () => {
  it('no output printed a PIN', () => {
    const pin = readFileSync(join(home, 'secrets/user-pin'), 'utf8').trim();
    const so = readFileSync(join(home, 'secrets/so-pin'), 'utf8').trim();
    for (const r of transcript) {
      assert.ok(
        !r.stdout.includes(pin) &&
          !r.stderr.includes(pin) &&
          !r.stdout.includes(so) &&
          !r.stderr.includes(so),
        'a PIN was printed',
      );
    }
  });
});
