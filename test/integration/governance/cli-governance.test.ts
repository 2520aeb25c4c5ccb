/**
 * The governance commands end to end: the CLI (run from source as its own process) on a SoftHSM
 * dev token made by `hsmkit init --dev`. Checked with tools hsmkit did not write: pkcs11-tool makes
 * a non-compliant key behind hsmkit's back, sqlite edits the audit log, openssl verifies a
 * checkpoint signature. Every output is kept and scanned for the PINs at the end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { openssl, parseListObjects } from '../../support/tools.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RUN = join(ROOT, 'src/cli/run.ts');
const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const USER = userInfo().username;

interface Run {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

let tmp = '';
let home = '';
let userPin = '';
let soPin = '';
const transcript: Run[] = [];

function redact(s: string): string {
  let out = s;
  for (const pin of [userPin, soPin]) if (pin) out = out.split(pin).join('[pin]');
  return out;
}

function fmt(r: Run): string {
  return redact(`hsmkit ${r.args.join(' ')} -> ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

function cli(args: string[], env: Record<string, string> = {}): Run {
  const e: NodeJS.ProcessEnv = { ...process.env, HSMKIT_HOME: home, ...env };
  delete e.HSMKIT_CONFIG;
  if (!('HSMKIT_ROLE' in env)) delete e.HSMKIT_ROLE;
  const r = spawnSync(process.execPath, ['--import', 'tsx', RUN, ...args], {
    cwd: ROOT,
    env: e,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const out: Run = { args, code: r.status, stdout: r.stdout, stderr: r.stderr };
  transcript.push(out);
  return out;
}

function ok<T>(r: Run): T {
  assert.equal(r.code, 0, fmt(r));
  return JSON.parse(r.stdout) as T;
}

function jsonError(r: Run, code: string): { code: string; details?: Record<string, unknown> } {
  assert.notEqual(r.code, 0, fmt(r));
  assert.notEqual(r.code, null, fmt(r));
  const body = JSON.parse(r.stdout) as {
    ok: false;
    error: { code: string; details?: Record<string, unknown> };
  };
  assert.equal(body.error.code, code, fmt(r));
  return body.error;
}

/** pkcs11-tool on the dev token, logged in; output redacted. */
function pkcs11Tool(args: string[]): Run {
  const r = spawnSync(
    'pkcs11-tool',
    ['--module', SOFTHSM_MODULE, '--token-label', 'hsmkit-dev', '--login', '--pin', userPin, ...args],
    {
      env: { ...process.env, SOFTHSM2_CONF: join(home, 'softhsm2.conf') },
      encoding: 'utf8',
    },
  );
  const out = {
    args: ['(pkcs11-tool)', ...args],
    code: r.status,
    stdout: redact(r.stdout),
    stderr: redact(r.stderr),
  };
  transcript.push(out);
  return out;
}

/** A config like the dev one whose store is `db` (absolute paths, usable from any folder). */
function configFor(db: string): string {
  const cfg = parseYaml(readFileSync(join(home, 'hsmkit.yaml'), 'utf8')) as {
    hsm_configuration: { connection: { pin_file: string } };
    store: { path: string };
  };
  cfg.hsm_configuration.connection.pin_file = join(home, cfg.hsm_configuration.connection.pin_file);
  cfg.store.path = db;
  const p = join(tmp, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(p, stringifyYaml(cfg), { mode: 0o600 });
  return p;
}

/** A consistent copy of the store (WAL folded in first), for tampering without touching the original. */
function copyStore(name: string): string {
  const db = new Database(join(home, 'hsmkit.db'));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const dest = join(tmp, name);
  copyFileSync(join(home, 'hsmkit.db'), dest);
  return dest;
}

function sqlite(file: string, ...statements: string[]): void {
  const db = new Database(file);
  for (const s of statements) db.exec(s);
  db.close();
}

const policy = (extra: Record<string, unknown> = {}) =>
  stringifyYaml({
    name: 'cli test policy',
    security_policy: { minimum_key_size: { rsa: 3072, ecdsa: 'P-384' } },
    access: {
      local_users: { [USER]: ['admin', 'security_officer', 'auditor'] },
      roles: {
        admin: [{ operations: ['*'] }],
        security_officer: [
          { operations: ['policy.apply', 'policy.approve', 'policy.show', 'policy.rollback'] },
        ],
        auditor: [{ operations: ['key.list', 'audit.verify', 'audit.export', 'compliance.report'] }],
      },
    },
    tests: [
      {
        name: 'admin creates P-384',
        role: 'admin',
        operation: 'key.create',
        key: { type: 'ec-p384' },
        expect: 'allow',
      },
      {
        name: 'no P-256',
        role: 'admin',
        operation: 'key.create',
        key: { type: 'ec-p256' },
        expect: 'deny',
        rule: 'security_policy.minimum_key_size.ecdsa',
      },
      {
        name: 'auditor cannot sign',
        role: 'auditor',
        operation: 'key.sign',
        key: {},
        algorithm: 'sha384',
        expect: 'deny',
      },
    ],
    ...extra,
  });

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hsmkit-gov-cli-'));
  home = join(tmp, 'home');
  const r = cli(['init', '--dev', '--json']);
  assert.equal(r.code, 0, fmt(r));
  userPin = readFileSync(join(home, 'secrets/user-pin'), 'utf8').trim();
  soPin = readFileSync(join(home, 'secrets/so-pin'), 'utf8').trim();
});

after(() => {
  if (!tmp) return;
  // An immutable file left by a failed run would stop the clean-up.
  if (process.getuid?.() === 0) spawnSync('chattr', ['-R', '-i', tmp]);
  rmSync(tmp, { recursive: true, force: true });
});

describe('hsmkit policy', () => {
  it('validate and test: a good policy passes; a bad one exits 2 with a code', () => {
    const good = join(tmp, 'p1.yaml');
    writeFileSync(good, policy());
    assert.equal(ok<{ valid: boolean }>(cli(['policy', 'validate', good, '--json'])).valid, true);
    assert.equal(ok<{ passed: number }>(cli(['policy', 'test', good, '--json'])).passed, 3);
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, 'access: { roles: { admin: [{ operations: [fly] }] } }\n');
    assert.equal(cli(['policy', 'validate', bad, '--json']).code, 2);
    const failing = join(tmp, 'failing.yaml');
    writeFileSync(
      failing,
      policy({
        tests: [
          {
            name: 'wrong',
            role: 'admin',
            operation: 'key.create',
            key: { type: 'ec-p256' },
            expect: 'allow',
          },
        ],
      }),
    );
    jsonError(cli(['policy', 'test', failing, '--json']), 'HSM_ERR_INVALID_INPUT');
    // apply refuses a policy whose tests fail, before anything is stored.
    jsonError(cli(['policy', 'apply', failing, '--json']), 'HSM_ERR_INVALID_INPUT');
  });

  it('apply, refusals under it, dual control, diff and rollback', () => {
    const p1 = join(tmp, 'p1.yaml');
    const v1 = ok<{ status: string; version: number }>(cli(['policy', 'apply', p1, '--json']));
    assert.deepEqual([v1.status, v1.version], ['active', 1]);
    // Under v1: P-256 is refused, naming the rule, and nothing appears on the token.
    const before = parseListObjects(pkcs11Tool(['--list-objects']).stdout).length;
    const refused = jsonError(
      cli(['key', 'generate', '--type', 'ec-p256', '--label', 'weak', '--json']),
      'HSM_ERR_POLICY_VIOLATION',
    );
    assert.equal(refused.details?.rule, 'security_policy.minimum_key_size.ecdsa');
    assert.equal(parseListObjects(pkcs11Tool(['--list-objects']).stdout).length, before);
    jsonError(
      cli(['key', 'generate', '--type', 'ec-p384', '--label', 'by-auditor', '--json'], {
        HSMKIT_ROLE: 'auditor',
      }),
      'HSM_ERR_POLICY_VIOLATION',
    );
    ok(
      cli(['key', 'generate', '--type', 'ec-p384', '--label', 'gov-ec', '--meta', 'purpose=ocsp', '--json']),
    );

    // v2 turns dual control on; v3 then needs a second role's approval.
    const p2 = join(tmp, 'p2.yaml');
    writeFileSync(p2, policy({ governance: { dual_control: true } }));
    assert.equal(ok<{ status: string }>(cli(['policy', 'apply', p2, '--json'])).status, 'active');
    const p3 = join(tmp, 'p3.yaml');
    writeFileSync(
      p3,
      policy({ governance: { dual_control: true }, algorithms: { hashes: ['sha384', 'sha512'] } }),
    );
    const pending = ok<{ status: string; version: number }>(
      cli(['policy', 'apply', p3, '--json'], { HSMKIT_ROLE: 'security_officer' }),
    );
    assert.equal(pending.status, 'pending');
    jsonError(
      cli(['policy', 'apply', p3, '--approve', '--json'], { HSMKIT_ROLE: 'security_officer' }),
      'HSM_ERR_POLICY_VIOLATION',
    );
    const approved = ok<{ status: string; version: number }>(
      cli(['policy', 'apply', p3, '--approve', '--json'], { HSMKIT_ROLE: 'admin' }),
    );
    assert.deepEqual([approved.status, approved.version], ['active', pending.version]);
    // v3 forbids SHA-256 signatures.
    const data = join(tmp, 'data.bin');
    writeFileSync(data, 'hello');
    const sha256 = jsonError(
      cli(['sign', '--key', 'gov-ec', '--in', data, '--out', join(tmp, 's1'), '--json']),
      'HSM_ERR_POLICY_VIOLATION',
    );
    assert.equal(sha256.details?.rule, 'algorithms.hashes');
    ok(cli(['sign', '--key', 'gov-ec', '--in', data, '--out', join(tmp, 's2'), '--alg', 'sha384', '--json']));

    const diff = ok<Array<{ path: string }>>(
      cli(['policy', 'diff', '1', String(approved.version), '--json']),
    );
    assert.deepEqual(diff.map((c) => c.path).sort(), ['algorithms.hashes', 'governance.dual_control']);
    const rolled = ok<{ version: number; rolledBackFrom: number }>(
      cli(['policy', 'rollback', '1', '--json']),
    );
    assert.equal(rolled.rolledBackFrom, 1);
    const shown = ok<{ version: number; history: unknown[] }>(cli(['policy', 'show', '--json']));
    assert.equal(shown.version, rolled.version);
    assert.equal(shown.history.length, rolled.version);
    ok(cli(['sign', '--key', 'gov-ec', '--in', data, '--out', join(tmp, 's3'), '--json']));
  });
});

describe('hsmkit compliance report', () => {
  it('catches an extractable key made with pkcs11-tool, reading the token, and exits non-zero', () => {
    const gen = pkcs11Tool([
      '--keypairgen',
      '--key-type',
      'EC:secp384r1',
      '--label',
      'rogue',
      '--id',
      '0102',
      '--extractable',
      '--usage-sign',
    ]);
    assert.equal(gen.code, 0, gen.stderr);
    const r = cli(['compliance', 'report', '--json']);
    assert.equal(r.code, 2, fmt(r));
    const err = jsonError(r, 'HSM_ERR_NONCOMPLIANT');
    const report = err.details?.report as { violations: Array<{ label: string; kind: string }> };
    const rogue = report.violations
      .filter((v) => v.label === 'rogue')
      .map((v) => v.kind)
      .sort();
    assert.ok(rogue.includes('extractable'), JSON.stringify(report.violations));
    assert.ok(rogue.includes('no_metadata'), JSON.stringify(report.violations));
    assert.ok(
      !report.violations.some((v) => v.label === 'gov-ec' || v.label === 'hsmkit-audit'),
      JSON.stringify(report.violations),
    );
    const html = join(tmp, 'report.html');
    assert.notEqual(cli(['compliance', 'report', '--html', '--out', html]).code, 0);
    assert.match(readFileSync(html, 'utf8'), /rogue/);
    assert.equal(pkcs11Tool(['--delete-object', '--type', 'privkey', '--id', '0102']).code, 0);
    assert.equal(pkcs11Tool(['--delete-object', '--type', 'pubkey', '--id', '0102']).code, 0);
    ok(cli(['compliance', 'report', '--json']));
  });
});

describe('hsmkit audit', () => {
  it('verify passes on the clean log; export verifies offline and with openssl', () => {
    const report = ok<{ ok: boolean; records: number; checkpoints: number }>(
      cli(['audit', 'verify', '--json']),
    );
    assert.equal(report.ok, true);
    assert.ok(report.records > 20 && report.checkpoints > 5, JSON.stringify(report));
    const out = join(tmp, 'export');
    ok(cli(['audit', 'export', '--out', out, '--json']));
    assert.equal(ok<{ ok: boolean }>(cli(['audit', 'verify', '--export', out, '--json'])).ok, true);
    const sigs = readdirSync(join(out, 'checkpoints')).filter((f) => f.endsWith('.sig'));
    assert.ok(sigs.length > 5);
    for (const sig of sigs.slice(-2)) {
      const n = sig.replace('.sig', '');
      const r = openssl([
        'dgst',
        '-sha384',
        '-verify',
        join(out, 'audit-public-key.pem'),
        '-signature',
        join(out, 'checkpoints', sig),
        join(out, 'checkpoints', `${n}.json`),
      ]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /Verified OK/);
      // The negative twin: another payload does not verify.
      const forged = join(tmp, `forged-${n}.json`);
      writeFileSync(
        forged,
        readFileSync(join(out, 'checkpoints', `${n}.json`), 'utf8').replace('"seq":', '"seq":1'),
      );
      assert.notEqual(
        openssl([
          'dgst',
          '-sha384',
          '-verify',
          join(out, 'audit-public-key.pem'),
          '-signature',
          join(out, 'checkpoints', sig),
          forged,
        ]).status,
        0,
      );
    }
    // An edited line in the export is caught offline too.
    const lines = readFileSync(join(out, 'audit.jsonl'), 'utf8').split('\n');
    lines[4] = lines[4]!.replace(`"actor":"${USER}"`, '"actor":"mallory"');
    writeFileSync(join(out, 'audit.jsonl'), lines.join('\n'));
    const broken = jsonError(cli(['audit', 'verify', '--export', out, '--json']), 'HSM_ERR_AUDIT_CHAIN');
    assert.equal(broken.details?.seq, 5);
  });

  const tampers: Array<[string, (f: string) => void, number, string]> = [
    ['an edited field', (f) => sqlite(f, "update audit_log set actor = 'mallory' where seq = 7"), 7, 'hash'],
    ['a deleted record', (f) => sqlite(f, 'delete from audit_log where seq = 7'), 7, 'sequence'],
    [
      'two re-ordered records',
      (f) =>
        sqlite(
          f,
          'update audit_log set seq = -1 where seq = 7',
          'update audit_log set seq = 7 where seq = 8',
          'update audit_log set seq = 8 where seq = -1',
        ),
      7,
      'hash',
    ],
  ];
  for (const [name, tamper, seq, reason] of tampers) {
    it(`verify fails after ${name} in the database and names record ${seq}`, () => {
      const db = copyStore(`tamper-${reason}-${seq}-${name.length}.db`);
      tamper(db);
      const err = jsonError(
        cli(['audit', 'verify', '--config', configFor(db), '--json']),
        'HSM_ERR_AUDIT_CHAIN',
      );
      assert.equal(err.details?.seq, seq);
      assert.equal(err.details?.reason, reason);
      const human = cli(['audit', 'verify', '--config', configFor(db)]);
      assert.match(
        human.stderr,
        new RegExp(`^hsmkit: HSM_ERR_AUDIT_CHAIN: audit log broken at record ${seq}:`, 'm'),
      );
    });
  }

  it('fails closed: with the store file read-only a signing request is refused and no signature is written', () => {
    const db = copyStore('readonly.db');
    const config = configFor(db);
    const data = join(tmp, 'ro-data.bin');
    writeFileSync(data, 'x');
    const sig = join(tmp, 'ro.sig');
    chmodSync(db, 0o444);
    // chmod does not stop root: make the file immutable as well (SQLite then opens it read-only).
    if (process.getuid?.() === 0) assert.equal(spawnSync('chattr', ['+i', db]).status, 0, 'chattr +i failed');
    try {
      const r = cli([
        'sign',
        '--config',
        config,
        '--key',
        'gov-ec',
        '--in',
        data,
        '--out',
        sig,
        '--alg',
        'sha384',
        '--json',
      ]);
      jsonError(r, 'HSM_ERR_AUDIT');
      assert.equal(existsSync(sig), false, 'a signature was written');
    } finally {
      if (process.getuid?.() === 0) spawnSync('chattr', ['-i', db]);
      chmodSync(db, 0o600);
    }
  });
});

describe('secrets', () => {
  it('no PIN in any output, in the audit log, or anywhere in the store files', () => {
    assert.ok(transcript.length > 30, `only ${transcript.length} runs`);
    for (const r of transcript) {
      for (const pin of [userPin, soPin])
        assert.ok(
          !r.stdout.includes(pin) && !r.stderr.includes(pin),
          `a PIN in the output of ${redact(r.args.join(' '))}`,
        );
    }
    const files = [
      join(home, 'hsmkit.db'),
      join(home, 'hsmkit.db-wal'),
      ...readdirSync(tmp)
        .filter((f) => f.endsWith('.db'))
        .map((f) => join(tmp, f)),
    ];
    for (const f of files.filter((x) => existsSync(x))) {
      const bytes = readFileSync(f);
      for (const pin of [userPin, soPin]) assert.ok(!bytes.includes(pin), `a PIN is stored in ${f}`);
    }
    const db = new Database(join(home, 'hsmkit.db'), { readonly: true });
    const dump = JSON.stringify(db.prepare('select * from audit_log').all());
    db.close();
    for (const pin of [userPin, soPin]) assert.ok(!dump.includes(pin));
    // Signed data never appears, only its hash: the test message "hello" is not in the log.
    assert.ok(!dump.includes(Buffer.from('hello').toString('hex')) && !dump.includes('"hello"'));
  });
});
