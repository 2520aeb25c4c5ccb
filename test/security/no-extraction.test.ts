/**
 * No extraction (issue 11): no API route and no CLI command gives out a private key in clear.
 * - API: every route of the OpenAPI document, every method, is called (real mutual TLS, admin
 *   role, so RBAC is not what refuses) with export-looking parameters — `export`, `extractable`,
 *   `format: pkcs8`, `include_private`, `private_key`, … in the query and the body — and with plain
 *   valid requests; every response is scanned for private keys: any `PRIVATE KEY` PEM, and any
 *   base64 or hex blob that node's OpenSSL parses as a PKCS#8, SEC1 or PKCS#1 private key.
 * - CLI: the whole command tree (buildProgram) is swept: no command or option offers private-key
 *   output except the documented ones (an allow-list with the reason each is safe), and every
 *   leaf command given `--export`/`--out-private`/`--include-private` is refused by the parser
 *   with nothing written.
 * - Token: afterwards pkcs11-tool shows every private key still sensitive and never extractable.
 * "All HSMs down → key generation fails, no software key" is test/integration/cluster/replication.test.ts.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram, main } from '../../src/cli/main.js';
import { openServiceFixture, type ServiceFixture } from '../integration/server/service-fixture.js';
import { listObjects } from '../support/tools.js';

/** Query parameters and body fields a caller might try to get a key out with. */
const EXPORT_FIELDS: Record<string, unknown> = {
  export: true,
  extractable: true,
  format: 'pkcs8',
  include_private: true,
  private: true,
  private_key: true,
  raw: true,
  encoding: 'pem',
  wrap: false,
  out_private: '/tmp/x.pem',
};

/** True when `text` holds a private key: a PEM block, or a base64/hex DER blob OpenSSL parses. */
export function holdsPrivateKey(text: string): boolean {
  if (/PRIVATE KEY-----/.test(text)) return true;
  const blobs = [
    ...[...text.matchAll(/[A-Za-z0-9+/_-]{60,}={0,2}/g)].map((m) => Buffer.from(m[0], 'base64')),
    ...[...text.matchAll(/\b(?:[0-9a-fA-F]{2}){40,}\b/g)].map((m) => Buffer.from(m[0], 'hex')),
  ];
  for (const der of blobs) {
    for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
      try {
        createPrivateKey({ key: der, format: 'der', type });
        return true;
      } catch {
        // not a private key of this form
      }
    }
  }
  return false;
}

/** Every leaf command of the CLI, as its words (`key generate`). */
function leaves(cmd: Command, prefix: string[] = []): Array<{ words: string[]; cmd: Command }> {
  const out: Array<{ words: string[]; cmd: Command }> = [];
  for (const sub of cmd.commands) {
    const words = [...prefix, sub.name()];
    if (sub.commands.length === 0) out.push({ words, cmd: sub });
    else out.push(...leaves(sub, words));
  }
  return out;
}

/**
 * Commands and options whose names look like key output but give none in clear; each says why.
 * A new entry needs a reason here and a test of its own.
 */
const CLI_ALLOWED: Record<string, string> = {
  'audit export': 'exports audit records (no key material)',
  'backup export': 'keys wrapped under the HSM-resident KEK (AES-KWP), never in clear',
  '--client-key': 'input: the TLS client key file the CLI uses for --server',
  '--key': 'input: a label or URI naming an HSM key',
  '--key-label': 'input: the label of a new HSM key',
  '--key-type': 'input: the type of a new HSM key',
  'audit verify --export': 'input: an audit export folder to verify offline',
};

const LOOKS_LIKE_EXPORT = /export|private|pkcs8|pkcs12|pfx|extract|unwrap|plain|clear/i;

describe('no extraction: no API route or CLI command yields a private key in clear', () => {
  let f: ServiceFixture;
  before(async () => {
    f = await openServiceFixture({ rateLimit: { per_second: 5000, burst: 5000 } });
    for (const [label, key_type] of [
      ['nx-p256', 'ec-p256'],
      ['nx-rsa', 'rsa-2048'],
      ['nx-ed', 'ed25519'],
    ]) {
      const a = await f.send({
        method: 'POST',
        path: '/v1/keys',
        client: f.clients.admin,
        body: { label, key_type },
      });
      assert.equal(a.status, 201, a.text);
      assert.equal(holdsPrivateKey(a.text), false);
    }
  });
  after(async () => f?.close());

  it('holdsPrivateKey finds keys in every form it looks for (the scan can fail)', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const der8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    const sec1 = privateKey.export({ format: 'der', type: 'sec1' });
    assert.equal(holdsPrivateKey(pem), true);
    assert.equal(holdsPrivateKey(JSON.stringify({ k: der8.toString('base64') })), true);
    assert.equal(holdsPrivateKey(JSON.stringify({ k: sec1.toString('hex') })), true);
    assert.equal(holdsPrivateKey(JSON.stringify({ k: der8.toString('base64url') })), true);
    const pub = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(0, 20).toString('base64');
    assert.equal(holdsPrivateKey(pub), false);
  });

  it('every route × method with export-looking parameters: no private key in any response', async () => {
    const doc = (await f.send({ path: '/openapi.json', client: f.clients.admin })).json as {
      paths: Record<string, Record<string, unknown>>;
    };
    const fill = (p: string) =>
      p.replace(/\{([^}]+)\}/g, (_, name: string) =>
        name === 'label'
          ? 'nx-p256'
          : name === 'id'
            ? randomUUID()
            : name === 'serial'
              ? '0a1b2c'
              : 'nx-p256',
      );
    const query = new URLSearchParams(
      Object.entries(EXPORT_FIELDS).map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    const bodies: unknown[] = [
      EXPORT_FIELDS,
      { key: 'nx-p256', ...EXPORT_FIELDS },
      { label: 'nx-p256', format: 'pkcs8' },
      { key: 'nx-p256', digest: Buffer.alloc(32, 1).toString('base64'), format: 'pkcs8' },
      { label: 'nx-new', key_type: 'ec-p256', attributes: { extractable: true, sensitive: false } },
      { kind: 'key.export', request: { label: 'nx-p256' } },
    ];
    let calls = 0;
    const leaks: string[] = [];
    const routes = Object.entries(doc.paths);
    assert.ok(routes.length >= 8, `the OpenAPI document lists the routes (${routes.length})`);
    for (const [path, methods] of routes) {
      for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
        const p = fill(path);
        const tries =
          method === 'GET' || method === 'DELETE'
            ? [{ method, path: `${p}?${query}` }]
            : bodies.map((body) => ({ method, path: p, body }));
        for (const t of tries) {
          if (method === 'DELETE') continue; // deleting keys proves nothing about extraction
          const a = await f.send({ ...t, client: f.clients.admin });
          calls++;
          if (holdsPrivateKey(a.text)) leaks.push(`${method} ${path} → ${a.status}`);
        }
      }
    }
    // Plain valid requests that succeed, scanned too.
    for (const label of ['nx-p256', 'nx-rsa', 'nx-ed']) {
      for (const c of [
        { path: `/v1/keys/${label}` },
        { path: `/v1/keys/${label}/public` },
        { path: '/v1/keys' },
        {
          method: 'POST',
          path: '/v1/sign',
          body: { key: label, data: Buffer.from('no extraction').toString('base64') },
        },
      ]) {
        const a = await f.send({ ...c, client: f.clients.admin });
        assert.ok(a.status < 300, `${c.path}: ${a.status} ${a.text.slice(0, 200)}`);
        calls++;
        if (holdsPrivateKey(a.text)) leaks.push(`${c.method ?? 'GET'} ${c.path}`);
      }
    }
    assert.deepEqual(leaks, [], 'responses holding a private key');
    console.log('no-extraction API', JSON.stringify({ routes: routes.length, calls }));
  });

  it('the CLI offers no private-key output beyond the allow-list, and refuses export flags', async () => {
    const program = buildProgram();
    const all = leaves(program);
    assert.ok(all.length >= 30, `the command tree is read (${all.length} leaves)`);
    const offered: string[] = [];
    for (const { words, cmd } of all) {
      const name = words.join(' ');
      if (LOOKS_LIKE_EXPORT.test(name) && !CLI_ALLOWED[name]) offered.push(name);
      for (const o of cmd.options) {
        const long = o.long ?? '';
        if (LOOKS_LIKE_EXPORT.test(long) && !CLI_ALLOWED[`${name} ${long}`] && !CLI_ALLOWED[long])
          offered.push(`${name} ${long}`);
      }
    }
    assert.deepEqual(
      offered,
      [],
      'commands or options that look like key export and are not on the allow-list',
    );

    // Every leaf with an export flag: the parser refuses it before anything runs (exit 2).
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    let refused = 0;
    try {
      process.stdout.write = capture as typeof process.stdout.write;
      process.stderr.write = capture as typeof process.stderr.write;
      for (const { words } of all) {
        for (const flag of [['--export'], ['--out-private', '/tmp/nx-never.pem'], ['--include-private']]) {
          const code = await main([
            'node',
            'hsmkit',
            '--json',
            '--config',
            '/nonexistent.yaml',
            ...words,
            ...flag,
          ]);
          if (code === 2) refused++;
          else throw new Error(`hsmkit ${words.join(' ')} ${flag[0]} exited ${code}`);
        }
      }
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
    assert.equal(refused, all.length * 3);
    assert.equal(holdsPrivateKey(written.join('')), false);
  });

  it('pkcs11-tool: every private key on the token is still sensitive and never extractable', () => {
    const privs = listObjects(f.token, 'privkey');
    assert.ok(privs.length >= 3);
    for (const o of privs) {
      assert.ok(o.access.includes('sensitive'), `${o.label}: ${o.access.join(', ')}`);
      assert.ok(!o.access.includes('extractable'), `${o.label}: ${o.access.join(', ')}`);
    }
  });
});
