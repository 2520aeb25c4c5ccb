/**
 * `hsmkit ceremony` end to end as separate processes on a `hsmkit init --dev` token: custodians
 * are registered, approve on their own SoftHSM tokens with `ceremony approve --config`, and the
 * run is SIGKILLed right after its key-generation step is recorded. The re-run does not generate
 * a second key (pkcs11-tool counts them) and the root certificate uses the one key; openssl
 * verifies it and `ceremony verify` accepts the transcript, and refuses it with one byte changed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import type { Challenge } from '../../../src/ceremony/challenge.js';
import { hsmkitPaths } from '../../../src/config/home.js';
import { CLI_ENTRY, type CliResult, REPO_ROOT, runCli } from '../../support/cli.js';
import { SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { listObjects, openssl } from '../../support/tools.js';
import { CUSTODIAN_KEY, type Custodian, makeCustodian } from './support.js';

let tmp = '';
let home = '';
let work = '';
let custodians: Custodian[] = [];
const confs = new Map<string, string>();

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, HSMKIT_HOME: home };
  delete e.HSMKIT_CONFIG;
  return e;
}

function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, { env: { HSMKIT_HOME: home }, unsetEnv: ['HSMKIT_CONFIG'], timeoutMs: 120_000 });
}

const fmt = (r: CliResult) => `hsmkit ${r.args.join(' ')} -> ${r.code}\n${r.stdout}\n${r.stderr}`;

async function ok<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  const r = await cli(...args, '--json');
  assert.equal(r.code, 0, fmt(r));
  return JSON.parse(r.stdout) as T;
}

async function fails(code: string, ...args: string[]): Promise<void> {
  const r = await cli(...args, '--json');
  assert.notEqual(r.code, 0, fmt(r));
  assert.equal(JSON.parse(r.stdout).error.code, code, fmt(r));
}

/** A custodian's own hsmkit config: their token, their PIN file, their store. */
function custodianConfig(c: Custodian): string {
  const dir = join(tmp, `card-${c.name}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'pin'), `${c.token.userPin}\n`, { mode: 0o600 });
  const file = join(dir, 'hsmkit.yaml');
  writeFileSync(
    file,
    [
      'hsm_configuration:',
      '  provider: softhsm2',
      '  connection:',
      '    type: local',
      `    module: ${SOFTHSM_MODULE}`,
      `    token_label: ${c.token.label}`,
      `    pin_file: ${join(dir, 'pin')}`,
      `    env: { SOFTHSM2_CONF: ${c.token.conf} }`,
      `store: { driver: sqlite, path: ${join(dir, 'hsmkit.db')} }`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

/** The dev token as the pkcs11-tool helpers see it. */
function devToken(): SoftHsmToken {
  const p = hsmkitPaths({ HSMKIT_HOME: home });
  return {
    label: 'hsmkit-dev',
    env: { SOFTHSM2_CONF: p.softhsmConf },
    userPin: readFileSync(p.userPinFile, 'utf8').trim(),
    soPin: readFileSync(p.soPinFile, 'utf8').trim(),
  } as unknown as SoftHsmToken;
}

/** Status of a step in the ceremony store, read the way an observer would (read-only). */
function stepStatus(id: string, step: number): string | undefined {
  const db = new SqliteDatabase(hsmkitPaths({ HSMKIT_HOME: home }).database, {
    readonly: true,
    fileMustExist: true,
  });
  try {
    const row = db
      .prepare('select status from ceremony_step where ceremony_id = ? and step = ?')
      .get(id, step) as { status: string } | undefined;
    return row?.status;
  } catch {
    return undefined; // the table may not exist yet
  } finally {
    db.close();
  }
}

const SCRIPT = `version: 1
ceremony: { id: cli-root, type: root-ca }
participants:
  - { name: alice, role: custodian }
  - { name: bob, role: custodian }
  - { name: carol, role: custodian }
quorum: { m: 2, n: 3 }
window: { not_before: "2020-01-01T00:00:00Z", not_after: "2099-01-01T00:00:00Z" }
sites: [vault-east]
steps:
  - action: generate-key
    params: { label: cli-root-key, type: ec-p384 }
  - action: create-root-ca
    params: { name: cli-root, key: cli-root-key, subject: "CN=CLI Ceremony Root", validity: 10y, output: root.pem }
outputs: [root.pem, root.jws]
transcript: root.jws
`;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hsmkit-ceremony-cli-'));
  home = join(tmp, 'home');
  work = join(tmp, 'work');
  mkdirSync(work);
  writeFileSync(join(work, 'root.yaml'), SCRIPT);
  const [init, ...made] = await Promise.all([
    cli('init', '--dev'),
    makeCustodian('alice'),
    makeCustodian('bob'),
    makeCustodian('carol'),
  ]);
  assert.equal(init.code, 0, fmt(init));
  custodians = made;
  for (const c of custodians) {
    confs.set(c.name, custodianConfig(c));
    writeFileSync(join(tmp, `${c.name}.pub.pem`), c.publicKeyPem);
  }
});

after(async () => {
  for (const c of custodians) {
    await c.km.close();
    c.token.cleanup();
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('hsmkit ceremony', () => {
  it('resumes a SIGKILLed ceremony without a second key generation', async () => {
    for (const c of custodians) {
      await ok(
        'ceremony',
        'custodian',
        'add',
        '--name',
        c.name,
        '--public-key',
        join(tmp, `${c.name}.pub.pem`),
      );
    }
    await fails(
      'HSM_ERR_INVALID_INPUT',
      'ceremony',
      'custodian',
      'add',
      '--name',
      'alice',
      '--public-key',
      join(tmp, 'bob.pub.pem'),
    );
    const script = join(work, 'root.yaml');
    const first = await ok<{ status: string; step: number; challengePath: string }>(
      'ceremony',
      'run',
      script,
      '--non-interactive',
    );
    assert.deepEqual([first.status, first.step], ['awaiting_approval', 1]);

    // Two custodians approve step 1 on their own tokens with the approval tool.
    await Promise.all(
      ['alice', 'carol'].map((name) =>
        ok(
          'ceremony',
          'approve',
          '--challenge',
          first.challengePath,
          '--key',
          CUSTODIAN_KEY,
          '--custodian',
          name,
          '--site',
          'vault-east',
          '--config',
          confs.get(name)!,
        ),
      ),
    );

    // Run, and kill it the moment the key-generation step is recorded (step 2 then waits).
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI_ENTRY, 'ceremony', 'run', script, '--non-interactive', '--wait', '120'],
      {
        cwd: REPO_ROOT,
        env: env(),
        stdio: 'ignore',
      },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_c, sig) => resolve(sig)),
    );
    const deadline = Date.now() + 90_000;
    while (stepStatus('cli-root', 1) !== 'done') {
      assert.ok(Date.now() < deadline && child.exitCode === null, 'the run did not record step 1');
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.equal(listObjects(devToken(), 'privkey').filter((o) => o.label === 'cli-root-key').length, 1);

    // The re-run resumes at step 2: it asks for approvals, it does not generate again.
    const resumed = await ok<{ status: string; step: number; challengePath: string }>(
      'ceremony',
      'run',
      script,
      '--non-interactive',
    );
    assert.deepEqual([resumed.status, resumed.step], ['awaiting_approval', 2]);
    const challenge = JSON.parse(readFileSync(resumed.challengePath, 'utf8')) as Challenge;
    for (const c of custodians.filter((x) => x.name !== 'carol')) {
      const approval = await c.approve(challenge, 'vault-east');
      writeFileSync(
        join(work, 'approvals', `cli-root.step-2.${c.name}.approval.json`),
        JSON.stringify(approval),
      );
    }
    const done = await ok<{ status: string; transcriptPath: string }>(
      'ceremony',
      'run',
      script,
      '--non-interactive',
    );
    assert.equal(done.status, 'completed');

    // Exactly one key with the label, and the certificate certifies it.
    const keys = listObjects(devToken(), 'privkey').filter((o) => o.label === 'cli-root-key');
    assert.equal(keys.length, 1);
    const rootPem = join(work, 'root.pem');
    const r = openssl(['verify', '-CAfile', rootPem, rootPem]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const v = await ok<{ valid: boolean; keys: string[]; approvals: number }>(
      'ceremony',
      'verify',
      done.transcriptPath,
      '--script',
      script,
    );
    assert.equal(v.valid, true);
    assert.equal(v.approvals, 4);
    const rootKeyUri = v.keys.find((k) => k.includes('cli-root-key'))!;
    // CKA_ID in the URI: %XX escapes or plain characters (RFC 7512), as hex.
    const idHex = (/id=([^;?]+)/.exec(rootKeyUri)![1]!.match(/%[0-9a-fA-F]{2}|./g) ?? [])
      .map((t) => (t.length === 3 ? t.slice(1) : t.charCodeAt(0).toString(16).padStart(2, '0')))
      .join('')
      .toLowerCase();
    assert.equal(keys[0]!.id, idHex, 'the transcript key is the one key on the token');
    const certKey = openssl(['x509', '-in', rootPem, '-noout', '-pubkey']).stdout.trim();
    const transcript = JSON.parse(
      Buffer.from(readFileSync(done.transcriptPath, 'utf8').split('.')[1]!, 'base64url').toString('utf8'),
    ) as { keys: Array<{ uri: string; publicKeyPem: string }> };
    assert.equal(transcript.keys.find((k) => k.uri === rootKeyUri)!.publicKeyPem.trim(), certKey);

    const jws = readFileSync(done.transcriptPath, 'utf8');
    const at = Math.floor(jws.length / 3);
    writeFileSync(
      join(work, 'tampered.jws'),
      jws.slice(0, at) + (jws[at] === 'A' ? 'B' : 'A') + jws.slice(at + 1),
    );
    await fails('HSM_ERR_TRANSCRIPT_INVALID', 'ceremony', 'verify', join(work, 'tampered.jws'));
    await fails('HSM_ERR_CEREMONY_STATE', 'ceremony', 'run', script, '--non-interactive');
    for (const run of [first, resumed, done, v])
      assert.ok(!JSON.stringify(run).includes(custodians[0]!.token.userPin));
  });
});
