/**
 * End-to-end tests of the hsmkit CLI, run from source as a separate process (`node --import tsx
 * src/cli/run.ts`) against a real SoftHSM2 token made by `hsmkit init --dev` in one temporary
 * HSMKIT_HOME. Keys and signatures are checked with tools hsmkit did not write (openssl,
 * pkcs11-tool); positive checks have negative twins (tampered message, wrong PIN) so they can fail.
 * Every stdout/stderr of the file is kept and scanned for the PINs at the end.
 *
 * One CLI run costs 1-2 s of CPU (tsx start-up plus the member-host child), so the suites run
 * concurrently: shared steps (init, key generation, public-key export) are memoised promises that
 * every test awaits, and at most PARALLEL CLI processes run at once. Destructive steps (key
 * delete) and the secrets scan run afterwards, in their own sequential suites.
 */
import assert from 'node:assert/strict';
import { verify as nodeVerify, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type CliResult, concurrencyLimit, runCli, runProcess } from '../../support/cli.js';
import { openssl, parseListObjects } from '../../support/tools.js';

const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const TOKEN_LABEL = 'hsmkit-dev';
/** Most CLI processes running at once (each starts a member-host child too). */
const PARALLEL = 4;

interface KeyJson {
  uri: string;
  label: string;
  id: string;
  type: string;
  family: string;
  token: string;
  attributes: Record<string, boolean>;
  publicKeyPem: string;
  metadata?: {
    purpose?: string;
    owner?: string;
    expiresAt?: string;
    tags?: Record<string, string>;
    status?: string;
  };
}

interface ErrorJson {
  ok: false;
  error: { code: string; message: string; retryable: boolean };
}

interface InitJson {
  created: boolean;
  home: string;
  config: string;
  tokenLabel: string;
  slotId?: string;
}

interface HsmInfoJson {
  member: string;
  module: { path: string };
  token: { label: string; slotId: string; serial: string };
  environment: Record<string, string>;
  mechanisms: Array<{ type: number; name: string }>;
  keyTypes: string[];
  pkcs11Tool: string;
}

interface SignJson {
  key: string;
  algorithm: string;
  format: string;
  bytes: number;
  out: string;
}

let tmp = '';
let home = '';
let work = '';
let userPin = '';
let soPin = '';
/** Every output of every process this file ran, for the secrets scan. */
const transcript: CliResult[] = [];

// ---------------------------------------------------------------------------------------------
// Running processes

/** Replaces the PINs, so an assertion message never prints them. */
function redact(text: string): string {
  let out = text;
  for (const pin of [userPin, soPin]) if (pin.length > 0) out = out.split(pin).join('[pin]');
  return out;
}

/** A result, for assertion messages (PINs redacted). */
function fmt(r: CliResult): string {
  return redact(`hsmkit ${r.args.join(' ')} -> exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** Gates every process of the file: at most PARALLEL at once. */
const limited = concurrencyLimit(PARALLEL);

/** Runs the CLI from source with HSMKIT_HOME set to this file's home (and no HSMKIT_CONFIG). */
function cli(...args: string[]): Promise<CliResult> {
  return limited(() =>
    runCli(args, { env: { HSMKIT_HOME: home }, unsetEnv: ['HSMKIT_CONFIG'], timeoutMs: 60_000, transcript }),
  );
}

/** Runs several CLI invocations (concurrently, within PARALLEL); results in the order given. */
function cliAll(list: string[][]): Promise<CliResult[]> {
  return Promise.all(list.map((args) => cli(...args)));
}

/** Memoises an async step so several tests can await it. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}

// ---------------------------------------------------------------------------------------------
// Assertions

function assertNoStack(r: CliResult): void {
  assert.ok(
    !r.stderr.includes('    at ') && !r.stdout.includes('    at '),
    `stack trace printed:\n${fmt(r)}`,
  );
}

/** Parses a successful `--json` run. */
function okJson<T>(r: CliResult): T {
  assert.equal(r.code, 0, fmt(r));
  assertNoStack(r);
  return JSON.parse(r.stdout) as T;
}

/** Human error form: `hsmkit: CODE: message` on stderr, nothing on stdout, no stack. */
function assertHumanError(r: CliResult, code: string, exit?: number): void {
  assert.notEqual(r.code, null, `killed: ${fmt(r)}`);
  assert.notEqual(r.code, 0, fmt(r));
  if (exit !== undefined) assert.equal(r.code, exit, fmt(r));
  assert.match(r.stderr, new RegExp(`^hsmkit: ${code}: \\S`, 'm'), fmt(r));
  assert.equal(r.stdout, '', fmt(r));
  assertNoStack(r);
}

/** JSON error form: `{"ok":false,"error":{"code":…}}` on stdout, no stack. */
function assertJsonError(r: CliResult, code: string, exit?: number): ErrorJson['error'] {
  assert.notEqual(r.code, null, `killed: ${fmt(r)}`);
  assert.notEqual(r.code, 0, fmt(r));
  if (exit !== undefined) assert.equal(r.code, exit, fmt(r));
  assertNoStack(r);
  let body: ErrorJson;
  try {
    body = JSON.parse(r.stdout) as ErrorJson;
  } catch {
    assert.fail(`--json error output is not JSON:\n${fmt(r)}`);
  }
  assert.equal(body.ok, false, fmt(r));
  assert.equal(body.error.code, code, fmt(r));
  assert.equal(typeof body.error.message, 'string');
  return body.error;
}

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

/** A path in the work folder, written when `data` is given. */
function file(name: string, data?: string | Uint8Array): string {
  const p = join(work, name);
  if (data !== undefined) writeFileSync(p, data);
  return p;
}

// ---------------------------------------------------------------------------------------------
// pkcs11-tool, through the command line `hsm info` prints

/** Splits a POSIX shell line made of plain words and '…' single-quoted parts. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const re = /\s*((?:[^\s']+|'[^']*')+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) words.push(m[1]!.replace(/'([^']*)'/g, '$1'));
  return words;
}

/**
 * Runs the pkcs11-tool line `hsm info` printed, with `--pin <user PIN>` added after `--login`.
 * The PIN never reaches a message or the transcript's argument list.
 */
async function runPkcs11ToolHint(): Promise<CliResult> {
  const { line } = await hsmInfo();
  const words = shellWords(line);
  const env: NodeJS.ProcessEnv = { ...process.env };
  while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0]!)) {
    const w = words.shift()!;
    const eq = w.indexOf('=');
    env[w.slice(0, eq)] = w.slice(eq + 1);
  }
  assert.equal(words[0], 'pkcs11-tool', line);
  const args = words.slice(1);
  const login = args.indexOf('--login');
  assert.ok(login >= 0, `the pkcs11-tool line has no --login: ${line}`);
  const withPin = [...args.slice(0, login + 1), '--pin', userPin, ...args.slice(login + 1)];
  const r = await limited(() =>
    runProcess('pkcs11-tool', withPin, {
      env,
      timeoutMs: 60_000,
      transcript,
      recordArgs: ['(pkcs11-tool)', ...args],
    }),
  );
  assert.equal(r.code, 0, redact(`pkcs11-tool exit ${r.code}: ${r.stderr}`));
  return r;
}

// ---------------------------------------------------------------------------------------------
// Shared steps

const META = ['--meta', 'purpose=root-ca', '--meta', 'owner=pki', '--meta', 'env=dev', '--json'];
const GENERATED = [
  { label: 'cli-ec-p384', type: 'ec-p384', family: 'ec' },
  { label: 'cli-rsa-3072', type: 'rsa-3072', family: 'rsa' },
  { label: 'cli-ed25519', type: 'ed25519', family: 'eddsa' },
] as const;
const EC = 'cli-ec-p384';
const RSA = 'cli-rsa-3072';
const ED = 'cli-ed25519';
const REQUEST_LABEL = 'from-request';

/** `init --dev --json` in the fresh home; reads the PINs. */
const initHome = once(async () => {
  const r = await cli('init', '--dev', '--json');
  if (r.code === 0) {
    userPin = readFileSync(join(home, 'secrets/user-pin'), 'utf8').trim();
    soPin = readFileSync(join(home, 'secrets/so-pin'), 'utf8').trim();
  }
  assert.equal(r.code, 0, `init --dev failed; nothing else can run:\n${fmt(r)}`);
  return r;
});

/** `hsm info --json` and `hsm info`, and the pkcs11-tool line of the human form. */
const hsmInfo = once(async () => {
  await initHome();
  const [json, human] = await cliAll([
    ['hsm', 'info', '--json'],
    ['hsm', 'info'],
  ]);
  const lines = human!.stdout.split('\n');
  const line = lines.find((l) => /pkcs11-tool/.test(l) && /--module/.test(l))?.trim() ?? '';
  return { json: json!, human: human!, line };
});

/** The three keys of GENERATED, generated concurrently with --meta. */
const generated = once(async () => {
  await initHome();
  const results = await cliAll(
    GENERATED.map((g) => ['key', 'generate', '--type', g.type, '--label', g.label, ...META]),
  );
  const keys = new Map<string, KeyJson>();
  for (const [i, g] of GENERATED.entries()) keys.set(g.label, okJson<KeyJson>(results[i]!));
  return { results, keys };
});

async function key(label: string): Promise<KeyJson> {
  const k = (await generated()).keys.get(label);
  assert.ok(k, `${label} was not generated`);
  return k;
}

/** A key generated from a Key Generation Request file. */
const requested = once(async () => {
  await initHome();
  const req = file(
    'req.json',
    JSON.stringify({
      label: REQUEST_LABEL,
      key_type: 'RSA',
      key_size: 2048,
      attributes: { extractable: false, sensitive: true },
      metadata: { purpose: 'tls', expiry_date: '2031-01-01', owner: 'pki', tags: { team: 'a' } },
    }),
  );
  return okJson<KeyJson>(await cli('key', 'generate', '--request', req, '--json'));
});

/** `key public <label> --out <label>.pub.pem` for the three keys. */
const publicKeys = once(async () => {
  await generated();
  const outs = GENERATED.map((g) => join(work, `${g.label}.pub.pem`));
  const results = await cliAll(GENERATED.map((g, i) => ['key', 'public', g.label, '--out', outs[i]!]));
  for (const r of results) assert.equal(r.code, 0, fmt(r));
  return new Map(GENERATED.map((g, i) => [g.label, outs[i]!]));
});

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hsmkit-cli-test-'));
  home = join(tmp, 'home');
  work = mkdtempSync(join(tmp, 'work-'));
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe('hsmkit CLI on a SoftHSM2 dev token', { concurrency: true }, () => {
  describe('init --dev', () => {
    it('creates the config and PIN files with private modes and prints no PIN', async () => {
      const r = await initHome();
      const out = okJson<InitJson>(r);
      assert.equal(out.created, true);
      assert.equal(out.config, join(home, 'hsmkit.yaml'));
      assert.equal(out.tokenLabel, TOKEN_LABEL);
      for (const f of ['hsmkit.yaml', 'secrets/user-pin', 'secrets/so-pin']) {
        assert.ok(existsSync(join(home, f)), `${f} missing`);
        assert.equal(mode(join(home, f)), '600', `${f} mode`);
      }
      assert.equal(mode(join(home, 'secrets')), '700', 'secrets folder mode');
      assert.ok(userPin.length >= 8 && soPin.length >= 8, 'PINs too short');
      assert.notEqual(userPin, soPin);
      for (const pin of [userPin, soPin]) {
        assert.ok(!r.stdout.includes(pin) && !r.stderr.includes(pin), 'init printed a PIN');
      }
    });

    it('a second run exits 0 and changes nothing', async () => {
      await initHome();
      const files = ['hsmkit.yaml', 'softhsm2.conf', 'secrets/user-pin', 'secrets/so-pin'].map((f) =>
        join(home, f),
      );
      const before = files.map((f) => readFileSync(f, 'utf8'));
      const r = await cli('init', '--dev');
      assert.equal(r.code, 0, fmt(r));
      assert.match(r.stdout, /Already initialised: .*hsmkit\.yaml .*Nothing changed\./);
      assert.deepEqual(
        files.map((f) => readFileSync(f, 'utf8')),
        before,
      );
      assert.equal(mode(join(home, 'secrets/user-pin')), '600');
    });
  });

  describe('hsm info', () => {
    it('--json: module path, token label, slot, environment, mechanisms, key types', async () => {
      const { json } = await hsmInfo();
      const reports = okJson<HsmInfoJson[]>(json);
      assert.equal(reports.length, 1);
      const r = reports[0]!;
      assert.equal(r.module.path, SOFTHSM_MODULE);
      assert.equal(r.token.label, TOKEN_LABEL);
      assert.match(r.token.slotId, /^\d+$/);
      assert.equal(r.environment.SOFTHSM2_CONF, join(home, 'softhsm2.conf'));
      assert.ok(Array.isArray(r.mechanisms) && r.mechanisms.length > 0, 'no mechanisms');
      assert.ok(
        r.mechanisms.some((m) => m.name === 'CKM_ECDSA'),
        'CKM_ECDSA missing',
      );
      for (const t of ['ed25519', 'ec-p384', 'rsa-3072'])
        assert.ok(r.keyTypes.includes(t), `keyTypes lack ${t}`);
    });

    it('the slot id init --dev reported is the one the token has', async () => {
      const init = JSON.parse((await initHome()).stdout) as InitJson;
      const info = okJson<HsmInfoJson[]>((await hsmInfo()).json)[0]!;
      assert.equal(init.slotId, info.token.slotId, 'init --dev --json reported a different slot id');
    });

    it('the human form prints a pkcs11-tool command line for the same token', async () => {
      const { human, json, line } = await hsmInfo();
      assert.equal(human.code, 0, fmt(human));
      assertNoStack(human);
      assert.match(human.stdout, new RegExp(`^module\\s+${SOFTHSM_MODULE.replace(/\./g, '\\.')}$`, 'm'));
      assert.match(human.stdout, /^token\s+hsmkit-dev /m);
      assert.ok(line !== '', `no pkcs11-tool line in:\n${human.stdout}`);
      assert.equal(line, okJson<HsmInfoJson[]>(json)[0]!.pkcs11Tool);
      assert.ok(line.startsWith(`SOFTHSM2_CONF=${join(home, 'softhsm2.conf')} pkcs11-tool `), line);
      assert.match(line, / --module \/usr\/lib\/softhsm\/libsofthsm2\.so /);
      assert.match(line, / --token-label hsmkit-dev /);
      assert.match(line, / --login /);
    });

    it('that pkcs11-tool line lists the keys hsmkit generated, sensitive and never extractable', async () => {
      const [{ keys }, fromRequest] = await Promise.all([generated(), requested()]);
      const objects = parseListObjects((await runPkcs11ToolHint()).stdout);
      for (const k of [...keys.values(), fromRequest]) {
        const priv = objects.find((o) => o.kind === 'private' && o.label === k.label);
        const pub = objects.find((o) => o.kind === 'public' && o.label === k.label);
        assert.ok(priv, `pkcs11-tool shows no private key "${k.label}"`);
        assert.ok(pub, `pkcs11-tool shows no public key "${k.label}"`);
        assert.equal(priv.id, k.id);
        assert.equal(pub.id, k.id);
        assert.ok(priv.access.includes('sensitive'), priv.access.join());
        assert.ok(priv.access.includes('never extractable'), priv.access.join());
        assert.deepEqual(priv.usage, ['sign']);
      }
    });
  });

  describe('key generate', () => {
    it('ec-p384, rsa-3072 and ed25519 with --meta: attributes and metadata', async () => {
      const { keys } = await generated();
      for (const g of GENERATED) {
        const k = keys.get(g.label)!;
        assert.equal(k.label, g.label);
        assert.equal(k.type, g.type);
        assert.equal(k.family, g.family);
        assert.match(k.id, /^[0-9a-f]{2,}$/);
        assert.ok(k.uri.startsWith(`pkcs11:token=${TOKEN_LABEL};object=${g.label};`), k.uri);
        assert.equal(k.attributes.sensitive, true);
        assert.equal(k.attributes.extractable, false);
        assert.equal(k.attributes.token, true);
        assert.equal(k.attributes.sign, true);
        assert.match(k.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
        assert.equal(k.metadata?.purpose, 'root-ca');
        assert.equal(k.metadata?.owner, 'pki');
        assert.deepEqual(k.metadata?.tags, { env: 'dev' });
      }
      assert.equal(new Set([...keys.values()].map((k) => k.id)).size, GENERATED.length, 'CKA_IDs repeat');
    });

    it('--request: a Key Generation Request file', async () => {
      const k = await requested();
      assert.equal(k.label, REQUEST_LABEL);
      assert.equal(k.type, 'rsa-2048');
      assert.equal(k.attributes.sensitive, true);
      assert.equal(k.attributes.extractable, false);
      assert.equal(k.attributes.token, true);
      assert.equal(k.metadata?.purpose, 'tls');
      assert.equal(k.metadata?.owner, 'pki');
      assert.ok(k.metadata?.expiresAt?.startsWith('2031-01-01'), k.metadata?.expiresAt);
      assert.deepEqual(k.metadata?.tags, { team: 'a' });
    });

    it('--request: bad JSON, an unknown field, key_size 1000 exit 2 with a code', async () => {
      await initHome();
      const cases: Array<[string, string, string]> = [
        ['bad-json.json', '{"label":"r-bad","key_type":"RSA",', 'HSM_ERR_INVALID_INPUT'],
        [
          'unknown-field.json',
          JSON.stringify({ label: 'r-unknown', key_type: 'RSA', key_size: 2048, colour: 'red' }),
          'HSM_ERR_INVALID_INPUT',
        ],
        [
          'small.json',
          JSON.stringify({ label: 'r-small', key_type: 'RSA', key_size: 1000 }),
          'HSM_ERR_KEY_SIZE',
        ],
      ];
      const paths = cases.map(([name, text]) => file(name, text));
      const results = await cliAll([
        ...paths.map((p) => ['key', 'generate', '--request', p, '--json']),
        ['key', 'generate', '--request', paths[0]!],
      ]);
      for (const [i, [, , code]] of cases.entries()) assertJsonError(results[i]!, code, 2);
      assert.match(assertJsonError(results[1]!, 'HSM_ERR_INVALID_INPUT').message, /colour/);
      assertHumanError(results[3]!, 'HSM_ERR_INVALID_INPUT', 2);
    });

    it('--request: a missing file is bad input (exit 2), not an internal error', async () => {
      await initHome();
      const r = await cli('key', 'generate', '--request', join(work, 'no-such-request.json'), '--json');
      assertJsonError(r, 'HSM_ERR_INVALID_INPUT', 2);
    });
  });

  describe('key list / show / public', () => {
    it('key list --json lists every generated key', async () => {
      const [{ keys }, fromRequest] = await Promise.all([generated(), requested()]);
      const list = okJson<KeyJson[]>(await cli('key', 'list', '--json'));
      for (const k of [...keys.values(), fromRequest]) {
        const found = list.find((l) => l.label === k.label);
        assert.ok(found, `key list lacks ${k.label}`);
        assert.equal(found.uri, k.uri);
        assert.equal(found.id, k.id);
        assert.equal(found.type, k.type);
      }
    });

    it('key show <label> --json and key show <uri>', async () => {
      const ec = await key(EC);
      const [byLabel, byUri] = await cliAll([
        ['key', 'show', EC, '--json'],
        ['key', 'show', ec.uri],
      ]);
      const shown = okJson<KeyJson>(byLabel!);
      assert.equal(shown.uri, ec.uri);
      assert.equal(shown.id, ec.id);
      assert.equal(shown.type, 'ec-p384');
      assert.equal(shown.attributes.extractable, false);
      assert.equal(shown.metadata?.purpose, 'root-ca');
      assert.deepEqual(shown.metadata?.tags, { env: 'dev' });
      assert.equal(shown.publicKeyPem, ec.publicKeyPem);
      assert.equal(byUri!.code, 0, fmt(byUri!));
      assert.match(byUri!.stdout, new RegExp(`^label\\s+${EC}$`, 'm'));
      assert.match(byUri!.stdout, new RegExp(`^id\\s+${ec.id}$`, 'm'));
      assert.match(byUri!.stdout, /^purpose\s+root-ca$/m);
    });

    it('key public --out writes a PEM openssl accepts, the one key generate returned', async () => {
      const outs = await publicKeys();
      for (const g of GENERATED) {
        const out = outs.get(g.label)!;
        assert.equal(readFileSync(out, 'utf8'), (await key(g.label)).publicKeyPem);
        const check = openssl(['pkey', '-pubin', '-in', out, '-noout']);
        assert.equal(check.status, 0, check.stderr);
      }
    });

    it('key public --out refuses an existing file (exit 2) unless --force', async () => {
      await generated();
      const out = file('overwrite.pem', 'not a key\n');
      const refused = await cli('key', 'public', EC, '--out', out);
      assertHumanError(refused, 'HSM_ERR_INVALID_INPUT', 2);
      assert.match(refused.stderr, /--force/);
      assert.equal(readFileSync(out, 'utf8'), 'not a key\n', 'the file was replaced');
      const forced = await cli('key', 'public', EC, '--out', out, '--force', '--json');
      assert.equal(okJson<{ out: string }>(forced).out, out);
      assert.equal(readFileSync(out, 'utf8'), (await key(EC)).publicKeyPem);
      assert.equal(openssl(['pkey', '-pubin', '-in', out, '-noout']).status, 0);
    });
  });

  describe('sign', () => {
    it('EC, RSA and Ed25519 signatures verify with openssl; a tampered message does not', async () => {
      await generated();
      const msg = file('msg.txt', `hsmkit CLI test message ${randomBytes(8).toString('hex')}\n`);
      const msgBytes = readFileSync(msg);
      const bad = Buffer.from(msgBytes);
      bad[3]! ^= 0x01;
      const tampered = file('msg-tampered.txt', bad);
      const sig = (name: string) => join(work, `sig-${name}`);
      const sign = (k: string, name: string, ...extra: string[]) => [
        'sign',
        '--key',
        k,
        '--in',
        msg,
        '--out',
        sig(name),
        ...extra,
        '--json',
      ];
      const [results, pubs] = await Promise.all([
        cliAll([
          sign(EC, 'ec-default'),
          sign(EC, 'ec-384', '--alg', 'sha384'),
          sign(EC, 'ec-raw', '--format', 'raw'),
          sign(RSA, 'rsa-pss', '--alg', 'RSA-PSS-SHA256'),
          sign(RSA, 'rsa-default'),
          sign(ED, 'ed'),
        ]),
        publicKeys(),
      ]);
      const [ecDefault, ec384, ecRaw, rsaPss, rsaDefault, ed] = results.map((r) => okJson<SignJson>(r));
      assert.equal(ecDefault!.algorithm, 'ECDSA-SHA256');
      assert.equal(ecDefault!.format, 'der');
      assert.equal(ec384!.algorithm, 'ECDSA-SHA384');
      assert.equal(ecRaw!.format, 'raw');
      assert.equal(ecRaw!.bytes, 96);
      assert.equal(readFileSync(sig('ec-raw')).length, 96);
      assert.equal(rsaPss!.algorithm, 'RSA-PSS-SHA256');
      assert.equal(rsaPss!.bytes, 384);
      assert.equal(rsaDefault!.algorithm, 'RSA-PKCS1-SHA256');
      assert.equal(ed!.algorithm, 'EdDSA');
      assert.equal(ed!.bytes, 64);
      assert.equal(ecDefault!.key, (await key(EC)).uri);

      const ecPub = pubs.get(EC)!;
      const rsaPub = pubs.get(RSA)!;
      const dgst = (hash: string, pub: string, s: string, m: string, pss = false) => {
        const args = ['dgst', `-${hash}`, '-verify', pub, '-signature', s];
        if (pss) args.push('-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest');
        return openssl([...args, m]).status;
      };
      const edVerify = (s: string, m: string) =>
        openssl(['pkeyutl', '-verify', '-pubin', '-inkey', pubs.get(ED)!, '-rawin', '-in', m, '-sigfile', s])
          .status;

      assert.equal(dgst('sha256', ecPub, sig('ec-default'), msg), 0, 'EC SHA-256');
      assert.notEqual(dgst('sha256', ecPub, sig('ec-default'), tampered), 0, 'tampered EC SHA-256 verified');
      assert.notEqual(
        dgst('sha384', ecPub, sig('ec-default'), msg),
        0,
        'SHA-256 signature verified as SHA-384',
      );
      assert.equal(dgst('sha384', ecPub, sig('ec-384'), msg), 0, 'EC SHA-384');
      assert.notEqual(dgst('sha384', ecPub, sig('ec-384'), tampered), 0, 'tampered EC SHA-384 verified');
      assert.equal(dgst('sha256', rsaPub, sig('rsa-pss'), msg, true), 0, 'RSA-PSS');
      assert.notEqual(dgst('sha256', rsaPub, sig('rsa-pss'), tampered, true), 0, 'tampered RSA-PSS verified');
      assert.notEqual(dgst('sha256', rsaPub, sig('rsa-pss'), msg), 0, 'PSS verified as PKCS#1 v1.5');
      assert.equal(dgst('sha256', rsaPub, sig('rsa-default'), msg), 0, 'RSA PKCS#1 v1.5');
      assert.notEqual(dgst('sha256', rsaPub, sig('rsa-default'), tampered), 0, 'tampered RSA verified');
      assert.equal(edVerify(sig('ed'), msg), 0, 'Ed25519');
      assert.notEqual(edVerify(sig('ed'), tampered), 0, 'tampered Ed25519 verified');

      // --format raw on P-384: r||s, 48 + 48 bytes, that verify as IEEE P1363.
      const ecPem = readFileSync(ecPub, 'utf8');
      const raw = readFileSync(sig('ec-raw'));
      assert.ok(nodeVerify('sha256', msgBytes, { key: ecPem, dsaEncoding: 'ieee-p1363' }, raw), 'raw EC');
      assert.ok(
        !nodeVerify('sha256', bad, { key: ecPem, dsaEncoding: 'ieee-p1363' }, raw),
        'tampered raw EC',
      );
    });
  });

  describe('bad input: an HSM_ERR_* code, never a stack trace', () => {
    it('in the human form (stderr) and the --json form', async () => {
      await generated();
      const empty = file('empty.bin', '');
      const msg = file('bad-input-msg.txt', 'x');
      const longLabel = 'l'.repeat(200);
      const cases: Array<{ args: string[]; code: string; exit?: number }> = [
        {
          args: ['key', 'generate', '--type', 'dsa-1024', '--label', 'bad-dsa'],
          code: 'HSM_ERR_INVALID_INPUT',
          exit: 2,
        },
        {
          args: ['key', 'generate', '--type', 'rsa-1000', '--label', 'bad-rsa'],
          code: 'HSM_ERR_KEY_SIZE',
          exit: 2,
        },
        {
          args: ['key', 'generate', '--type', 'ec-p256', '--label', EC],
          code: 'HSM_ERR_KEY_EXISTS',
          exit: 2,
        },
        {
          args: ['key', 'generate', '--type', 'ml-dsa-65', '--label', 'cli-pq'],
          code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
        },
        {
          args: ['key', 'generate', '--type', 'ec-p256', '--label', longLabel],
          code: 'HSM_ERR_INVALID_INPUT',
          exit: 2,
        },
        { args: ['key', 'show', 'pkcs11:object=%ZZ'], code: 'HSM_ERR_INVALID_URI', exit: 2 },
        {
          args: ['sign', '--key', EC, '--in', join(work, 'no-such-file'), '--out', join(work, 'never-1')],
          code: 'HSM_ERR_INVALID_INPUT',
          exit: 2,
        },
        {
          args: ['sign', '--key', EC, '--in', empty, '--out', join(work, 'never-2')],
          code: 'HSM_ERR_INVALID_INPUT',
          exit: 2,
        },
        { args: ['key', 'show', 'nosuchkey'], code: 'HSM_ERR_KEY_NOT_FOUND', exit: 1 },
        { args: ['key', 'generate', '--label', 'no-type'], code: 'HSM_ERR_INVALID_INPUT', exit: 2 },
        {
          args: ['sign', '--key', EC, '--out', join(work, 'never-3')],
          code: 'HSM_ERR_INVALID_INPUT',
          exit: 2,
        },
        {
          args: ['sign', '--in', msg, '--out', join(work, 'never-4')],
          code: 'HSM_ERR_INVALID_INPUT',
          exit: 2,
        },
      ];
      const results = await cliAll([...cases.map((c) => c.args), ...cases.map((c) => [...c.args, '--json'])]);
      for (const [i, c] of cases.entries()) {
        assertHumanError(results[i]!, c.code, c.exit);
        assertJsonError(results[i + cases.length]!, c.code, c.exit);
      }
      for (const n of [1, 2, 3, 4])
        assert.ok(!existsSync(join(work, `never-${n}`)), `never-${n} was written`);

      const list = okJson<KeyJson[]>(await cli('key', 'list', '--json'));
      const labels = list.map((k) => k.label);
      for (const absent of ['cli-pq', 'bad-dsa', 'bad-rsa', longLabel, 'no-type']) {
        assert.ok(!labels.includes(absent), `"${absent.slice(0, 20)}" is on the token`);
      }
      assert.equal(
        list.find((k) => k.label === EC)?.id,
        (await key(EC)).id,
        'the duplicate label replaced the key',
      );
    });

    it('a missing argument exits 2 without a stack trace', async () => {
      const r = await cli('key', 'show');
      assert.equal(r.code, 2, fmt(r));
      assertNoStack(r);
      assert.match(r.stderr, /missing required argument/);
    });

    it('a missing argument with --json prints a JSON error with a code', async () => {
      assertJsonError(await cli('key', 'show', '--json'), 'HSM_ERR_INVALID_INPUT', 2);
    });
  });

  describe('key delete without --yes', () => {
    it('fails when stdin is not a TTY and deletes nothing', async () => {
      const k = await requested();
      const [refused, refusedJson] = await cliAll([
        ['key', 'delete', REQUEST_LABEL],
        ['key', 'delete', REQUEST_LABEL, '--json'],
      ]);
      assertHumanError(refused!, 'HSM_ERR_INVALID_INPUT', 2);
      assert.match(refused!.stderr, /--yes/);
      assertJsonError(refusedJson!, 'HSM_ERR_INVALID_INPUT', 2);
      assert.equal(okJson<KeyJson>(await cli('key', 'show', REQUEST_LABEL, '--json')).id, k.id);
    });
  });

  describe('PIN files', () => {
    /** A copy of hsmkit.yaml with absolute paths, whose pin_file is `pinFile`. */
    function configWithPinFile(name: string, pinFile: string): string {
      const cfg = parseYaml(readFileSync(join(home, 'hsmkit.yaml'), 'utf8')) as {
        hsm_configuration: { connection: { pin_file: string } };
        store: { path: string };
      };
      cfg.hsm_configuration.connection.pin_file = pinFile;
      cfg.store.path = join(home, 'hsmkit.db');
      const p = join(work, name);
      writeFileSync(p, stringifyYaml(cfg), { mode: 0o600 });
      return p;
    }

    it('a wrong PIN gives HSM_ERR_AUTH; the right one still works (token not locked)', async () => {
      await generated();
      let wrong = randomBytes(12).toString('hex');
      while (wrong === userPin) wrong = randomBytes(12).toString('hex');
      const pinFile = join(work, 'wrong-pin');
      writeFileSync(pinFile, `${wrong}\n`, { mode: 0o600 });
      chmodSync(pinFile, 0o600);
      const config = configWithPinFile('wrong-pin.yaml', pinFile);
      const [human, json] = await cliAll([
        ['key', 'list', '--config', config],
        ['key', 'list', '--config', config, '--json'],
      ]);
      assertHumanError(human!, 'HSM_ERR_AUTH');
      assertJsonError(json!, 'HSM_ERR_AUTH');
      for (const r of [human!, json!])
        assert.ok(!`${r.stdout}${r.stderr}`.includes(wrong), 'wrong PIN printed');

      const list = okJson<KeyJson[]>(await cli('key', 'list', '--json'));
      assert.ok(
        list.some((k) => k.label === EC),
        'the right PIN no longer lists the keys',
      );
    });

    it('a PIN file readable by others gives HSM_ERR_CONFIG', async () => {
      await initHome();
      const pinFile = join(work, 'open-pin');
      writeFileSync(pinFile, `${randomBytes(12).toString('hex')}\n`);
      chmodSync(pinFile, 0o644);
      const config = configWithPinFile('open-pin.yaml', pinFile);
      const [human, json] = await cliAll([
        ['key', 'list', '--config', config],
        ['key', 'list', '--config', config, '--json'],
      ]);
      assertHumanError(human!, 'HSM_ERR_CONFIG');
      assert.match(human!.stderr, /chmod 600/);
      assertJsonError(json!, 'HSM_ERR_CONFIG');
    });
  });
});

describe('key delete --yes', () => {
  it('destroys the key: key show gives HSM_ERR_KEY_NOT_FOUND, pkcs11-tool lists no such object', async () => {
    const k = await requested();
    const del = okJson<{ deleted: string; label: string }>(
      await cli('key', 'delete', REQUEST_LABEL, '--yes', '--json'),
    );
    assert.equal(del.deleted, k.uri);
    assert.equal(del.label, REQUEST_LABEL);

    const [show, showJson, tool] = await Promise.all([
      cli('key', 'show', REQUEST_LABEL),
      cli('key', 'show', k.uri, '--json'),
      runPkcs11ToolHint(),
    ]);
    assertHumanError(show, 'HSM_ERR_KEY_NOT_FOUND', 1);
    assertJsonError(showJson, 'HSM_ERR_KEY_NOT_FOUND', 1);
    const objects = parseListObjects(tool.stdout);
    assert.deepEqual(
      objects.filter((o) => o.label === REQUEST_LABEL || o.id === k.id).map((o) => o.heading),
      [],
      'the deleted key is still on the token',
    );
    assert.ok(
      objects.some((o) => o.label === EC && o.kind === 'private'),
      'other keys vanished too',
    );
  });
});

describe('secrets', () => {
  it('no PIN appears in any output of this file, nor in the config, store or SoftHSM conf', () => {
    assert.ok(userPin !== '' && soPin !== '', 'the PINs were never read');
    assert.ok(transcript.length > 40, `only ${transcript.length} runs recorded`);
    for (const r of transcript) {
      for (const [name, pin] of [
        ['user PIN', userPin],
        ['SO PIN', soPin],
      ] as const) {
        assert.ok(
          !r.stdout.includes(pin) && !r.stderr.includes(pin),
          `the ${name} appears in the output of: ${redact(r.args.join(' '))}`,
        );
      }
    }
    for (const f of ['hsmkit.yaml', 'softhsm2.conf', 'hsmkit.db', 'hsmkit.db-wal']) {
      const p = join(home, f);
      if (!existsSync(p)) continue;
      const bytes = readFileSync(p);
      assert.ok(!bytes.includes(userPin) && !bytes.includes(soPin), `a PIN is stored in ${f}`);
    }
  });
});
