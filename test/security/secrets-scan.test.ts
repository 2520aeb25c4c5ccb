/**
 * Secrets hygiene (issue 11): on a fresh token made by `hsmkit init --dev` (random user and SO
 * PINs), run a representative set of CLI commands (success and failure paths, a wrong PIN
 * included) and library operations, then scan everything they left for the PINs: every stdout and
 * stderr, every file under HSMKIT_HOME except the PIN files themselves (store database with -wal
 * and -shm, token files, config, logs), the audit export, and /proc/<pid>/cmdline and environ of
 * the `hsmkit serve` process and the member-host children found through it and through the key
 * manager. Each PIN is searched as UTF-8, UTF-16LE, hex and base64. Nothing may contain one.
 * A hit is reported by file and encoding only: the PIN is never printed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Pkcs11KeyManager } from '../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { Secret } from '../../src/config/secret.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN = join(ROOT, 'src/cli/run.ts');
const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

interface Captured {
  what: string;
  text: Buffer;
}

/** The forms a PIN could take in a file or stream. */
function encodings(pin: string): Array<{ name: string; bytes: Buffer }> {
  const raw = Buffer.from(pin, 'utf8');
  return [
    { name: 'utf8', bytes: raw },
    { name: 'utf16le', bytes: Buffer.from(pin, 'utf16le') },
    { name: 'hex', bytes: Buffer.from(raw.toString('hex')) },
    { name: 'HEX', bytes: Buffer.from(raw.toString('hex').toUpperCase()) },
    { name: 'base64', bytes: Buffer.from(raw.toString('base64').replace(/=+$/, '')) },
  ];
}

/** Every file under `dir` (recursively). */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...walk(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/** Child PIDs of `pid` (all threads), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // the process is gone
  }
  return out;
}

describe('secrets scan: no PIN in any output, store, export, log or process record', () => {
  let home: string;
  let work: string;
  let pins: Array<{ name: string; pin: string }>;
  const captured: Captured[] = [];
  const exitCodes: Array<{ args: string; code: number | null }> = [];

  function cli(args: string[], configPath?: string): Promise<number | null> {
    const env: NodeJS.ProcessEnv = { ...process.env, HSMKIT_HOME: home };
    if (configPath) env.HSMKIT_CONFIG = configPath;
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', RUN, ...args], { cwd: ROOT, env });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('close', (code) => {
        captured.push({ what: `stdout of hsmkit ${args.join(' ')}`, text: Buffer.concat(out) });
        captured.push({ what: `stderr of hsmkit ${args.join(' ')}`, text: Buffer.concat(err) });
        exitCodes.push({ args: args.join(' '), code });
        resolve(code);
      });
    });
  }

  function procRecords(pid: number, who: string): void {
    for (const f of ['cmdline', 'environ']) {
      try {
        captured.push({ what: `/proc/${pid}/${f} (${who})`, text: readFileSync(`/proc/${pid}/${f}`) });
      } catch {
        // exited meanwhile
      }
    }
  }

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'hsmkit-secrets-home-'));
    work = mkdtempSync(join(tmpdir(), 'hsmkit-secrets-work-'));
    assert.equal(await cli(['init', '--dev', '--json']), 0);
    pins = [
      { name: 'user PIN', pin: readFileSync(join(home, 'secrets/user-pin'), 'utf8').trim() },
      { name: 'SO PIN', pin: readFileSync(join(home, 'secrets/so-pin'), 'utf8').trim() },
      { name: 'wrong PIN', pin: `W${Math.random().toString(36).slice(2, 12)}x` },
    ];
    for (const p of pins) assert.ok(p.pin.length >= 4);
  });

  after(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('runs CLI commands (success, refusal, wrong PIN) and library operations', async () => {
    writeFileSync(join(work, 'msg.txt'), 'hello secrets');
    writeFileSync(
      join(work, 'req.json'),
      JSON.stringify({
        label: 'scan-req',
        key_type: 'EC',
        curve: 'P-256',
        metadata: { purpose: 'test', owner: 'qa' },
      }),
    );
    // Independent commands run side by side (the store and token take concurrent CLI processes).
    const groups: string[][][] = [
      [
        ['hsm', 'info', '--json'],
        ['key', 'generate', '--type', 'ec-p256', '--label', 'scan-a', '--meta', 'purpose=test'],
        ['key', 'generate', '--request', join(work, 'req.json'), '--json'],
        ['key', 'generate', '--type', 'rsa-1234', '--label', 'bad-size'],
      ],
      [
        ['key', 'show', 'scan-a', '--json'],
        ['sign', '--key', 'scan-a', '--in', join(work, 'msg.txt'), '--out', join(work, 'msg.sig')],
        ['sign', '--key', 'no-such-key', '--in', join(work, 'msg.txt'), '--out', join(work, 'x.sig')],
        [
          'ca',
          'init',
          '--name',
          'scan-ca',
          '--subject',
          'CN=Scan CA',
          '--key-type',
          'ec-p256',
          '--out',
          join(work, 'ca.pem'),
        ],
      ],
      [
        ['compliance', 'report', '--json'],
        ['audit', 'export', '--out', join(work, 'export')],
      ],
    ];
    for (const group of groups) await Promise.all(group.map((args) => cli(args)));
    const code = (prefix: string) => exitCodes.find((e) => e.args.startsWith(prefix))?.code;
    assert.equal(code('key generate --type ec-p256'), 0);
    assert.equal(code('key generate --request'), 0);
    assert.equal(code('key generate --type rsa-1234'), 2, 'a refused request exits 2');
    assert.equal(code('sign --key scan-a'), 0);
    assert.equal(code('ca init'), 0);
    assert.equal(code('audit export'), 0);
    assert.ok(existsSync(join(work, 'export', 'audit.jsonl')));

    // A wrong PIN: the same config with a pin_file holding another value. Refused, once.
    const wrongPin = join(work, 'wrong-pin');
    writeFileSync(wrongPin, pins[2]!.pin, { mode: 0o600 });
    const config = readFileSync(join(home, 'hsmkit.yaml'), 'utf8').replace(
      'pin_file: secrets/user-pin',
      `pin_file: ${wrongPin}`,
    );
    const wrongConfig = join(home, 'wrong-pin.yaml');
    writeFileSync(wrongConfig, config.replace('path: hsmkit.db', `path: ${join(home, 'hsmkit.db')}`), {
      mode: 0o600,
    });
    assert.notEqual(await cli(['key', 'list', '--json'], wrongConfig), 0);
    rmSync(wrongConfig);

    // A running service: its /proc records and its member hosts' (children of the serve process).
    const serve: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', RUN, 'serve', '--listen', '127.0.0.1:0', '--json'],
      {
        cwd: ROOT,
        env: { ...process.env, HSMKIT_HOME: home },
      },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    serve.stdout!.on('data', (b: Buffer) => out.push(b));
    serve.stderr!.on('data', (b: Buffer) => err.push(b));
    const until = Date.now() + 60_000;
    while (!Buffer.concat(out).toString().includes('listening') && serve.exitCode === null) {
      assert.ok(Date.now() < until, 'hsmkit serve did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    const servePid = serve.pid!;
    procRecords(servePid, 'hsmkit serve');
    const hosts = childrenOf(servePid);
    for (const pid of hosts) procRecords(pid, 'member host of hsmkit serve');
    const exited = new Promise((r) => serve.once('close', r));
    process.kill(servePid, 'SIGTERM');
    await exited;
    captured.push({ what: 'stdout of hsmkit serve', text: Buffer.concat(out) });
    captured.push({ what: 'stderr of hsmkit serve', text: Buffer.concat(err) });
    assert.ok(hosts.length >= 1, 'found the member host of hsmkit serve');

    // Library use: the key manager's member hosts (their PIDs from the key manager).
    const km = await Pkcs11KeyManager.open({
      name: 'scan',
      module: SOFTHSM_MODULE,
      tokenLabel: 'hsmkit-dev',
      pin: new Secret(pins[0]!.pin, 'test'),
      env: { SOFTHSM2_CONF: join(home, 'softhsm2.conf') },
      hostProcesses: 2,
    });
    try {
      await km.sign({ key: 'scan-a', data: Buffer.from('library') });
      // The second host starts in the background after the first is ready.
      await km.member.allHostsStarted();
      assert.equal(km.member.hostPids.length, 2);
      for (const pid of km.member.hostPids) procRecords(pid, 'member host (library)');
      captured.push({
        what: 'key manager error JSON',
        text: Buffer.from(
          JSON.stringify(await km.sign({ key: 'nope', data: Buffer.from('x') }).catch((e) => e)),
        ),
      });
    } finally {
      await km.close();
    }
  });

  it('no PIN in any stdout/stderr, /proc record, store file (incl. -wal/-shm), token file, audit export or log', () => {
    const files = [...walk(home), ...walk(work)].filter(
      (f) => !f.endsWith('/secrets/user-pin') && !f.endsWith('/secrets/so-pin') && !f.endsWith('/wrong-pin'),
    );
    for (const f of files) captured.push({ what: relative(tmpdir(), f), text: readFileSync(f) });
    const kinds = new Set(files.map((f) => f.replace(/.*\//, '').replace(/^[0-9a-f-]{36}/, '<uuid>')));
    for (const must of ['hsmkit.db', 'audit.jsonl', 'manifest.json', 'hsmkit.yaml']) {
      assert.ok(kinds.has(must), `scanned ${must}`);
    }
    const hits: string[] = [];
    for (const c of captured) {
      for (const p of pins) {
        for (const e of encodings(p.pin)) {
          if (c.text.includes(e.bytes)) hits.push(`${p.name} (${e.name}) in ${c.what}`);
        }
      }
    }
    console.log(
      `secrets scan: ${captured.length} streams/files/records scanned (${files.length} files, ${captured.filter((c) => c.what.startsWith('/proc')).length} /proc records), ${hits.length} hits`,
    );
    assert.deepEqual(hits, []);
  });

  it('scripts/scan-secrets.sh agrees: clean on the captured log, a hit (without printing the PIN) on a control file', () => {
    const log = join(work, 'captured.log');
    writeFileSync(
      log,
      Buffer.concat(
        captured.map((c) => Buffer.concat([Buffer.from(`== ${c.what}\n`), c.text, Buffer.from('\n')])),
      ),
    );
    const env = { ...process.env, HSMKIT_SCAN_SECRETS: pins.map((p) => p.pin).join('\n') };
    const clean = spawnSync('bash', [join(ROOT, 'scripts/scan-secrets.sh'), log, join(home, 'hsmkit.db')], {
      env,
      encoding: 'utf8',
    });
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    const control = join(work, 'control.log');
    writeFileSync(control, `oops ${Buffer.from(pins[0]!.pin).toString('base64')} leaked\n`);
    const dirty = spawnSync('bash', [join(ROOT, 'scripts/scan-secrets.sh'), control], {
      env,
      encoding: 'utf8',
    });
    assert.equal(dirty.status, 1);
    assert.match(dirty.stdout, /control\.log: secret #1 \(base64\)/);
    for (const p of pins)
      assert.ok(!`${dirty.stdout}${dirty.stderr}`.includes(p.pin), 'the script printed a PIN');
  });
});
