/**
 * `hsmkit backup transfer` between two SoftHSM tokens: the transport key established by the
 * RSA-OAEP ceremony, keys copied with the same CKA_ID and label, sensitive and extractable only
 * under trusted wrapping (checked with pkcs11-tool and read back), each proven by a signature; a
 * target signature made by pkcs11-tool verifies with openssl against the source's public key;
 * a non-extractable key is reported, not copied; `--seal` makes copies non-extractable; audited.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import {
  createSoftHsmToken,
  memberEntries,
  SOFTHSM_MODULE,
  type SoftHsmToken,
} from '../../support/softhsm.js';
import { listObjects, openssl, pkcs11ToolOk } from '../../support/tools.js';
import { cli } from './fixture.js';

describe('hsmkit backup transfer (two SoftHSM tokens)', { timeout: 300_000 }, () => {
  let dir: string;
  let tokens: SoftHsmToken[];
  let config: string;
  const pems = new Map<string, string>();
  const g = () => ['--config', config, '--json'];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsmkit-transfer-'));
    tokens = [createSoftHsmToken('tr-src'), createSoftHsmToken('tr-dst')];
    const members = memberEntries(dir, tokens);
    config = join(dir, 'hsmkit.yaml');
    writeFileSync(
      config,
      stringify({
        hsm_configuration: {
          provider: 'softhsm2',
          connection: { type: 'local', module: SOFTHSM_MODULE, members },
        },
        store: { driver: 'sqlite', path: join(dir, 'hsmkit.db') },
      }),
    );
    const km = await Pkcs11KeyManager.open({ ...tokens[0]!.member(), name: 'm0' });
    try {
      for (const [label, type] of [
        ['pay-rsa', 'rsa-2048'],
        ['pay-ec', 'ec-p384'],
      ] as const) {
        const k = await km.createKey({
          label,
          type,
          protection: { extractable: true, wrapWithTrusted: true },
        });
        pems.set(label, k.publicKeyPem);
      }
      await km.createKey({ label: 'pay-pinned', type: 'ec-p256' });
    } finally {
      await km.close();
    }
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const t of tokens) t.cleanup();
  });

  it('establishes the transport key, copies and proves every key, matches attributes, audits', async () => {
    const r = await cli([
      ...g(),
      'backup',
      'transfer',
      '--keys',
      'pay-*',
      '--from',
      'm0',
      '--to',
      'm1',
      '--establish',
      '--so-pin-file',
      `m0=${join(dir, 'so-pin-0')}`,
      '--so-pin-file',
      `m1=${join(dir, 'so-pin-1')}`,
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.transportKey, { label: 'hsmkit-replication', established: true });
    assert.deepEqual(out.transferred.map((k: { label: string }) => k.label).sort(), ['pay-ec', 'pay-rsa']);
    for (const k of out.transferred) {
      assert.equal(k.verified, true);
      assert.deepEqual(k.target, { extractable: true, wrapWithTrusted: true, sensitive: true });
    }
    assert.deepEqual(
      out.notTransferred.map((n: { label: string }) => n.label),
      ['pay-pinned'],
    );

    // pkcs11-tool: same label and CKA_ID on both tokens; sensitive on the target.
    const src = listObjects(tokens[0]!, 'privkey').filter((o) => o.label?.startsWith('pay-'));
    const dst = listObjects(tokens[1]!, 'privkey').filter((o) => o.label?.startsWith('pay-'));
    assert.deepEqual(
      dst.map((o) => [o.label, o.id]).sort(),
      src
        .filter((o) => o.label !== 'pay-pinned')
        .map((o) => [o.label, o.id])
        .sort(),
    );
    for (const o of dst) assert.ok(o.access.includes('sensitive'), `${o.label}: ${o.access.join(',')}`);

    // An independent signature: pkcs11-tool signs on the target, openssl verifies with the source's key.
    const id = dst.find((o) => o.label === 'pay-rsa')!.id!;
    const data = join(dir, 'data.bin');
    writeFileSync(data, 'transfer check');
    writeFileSync(join(dir, 'pay-rsa.pem'), pems.get('pay-rsa')!);
    pkcs11ToolOk(tokens[1]!, [
      '--sign',
      '--id',
      id,
      '-m',
      'SHA256-RSA-PKCS',
      '-i',
      data,
      '-o',
      join(dir, 'sig.bin'),
    ]);
    const v = openssl([
      'dgst',
      '-sha256',
      '-verify',
      join(dir, 'pay-rsa.pem'),
      '-signature',
      join(dir, 'sig.bin'),
      data,
    ]);
    assert.equal(v.status, 0, v.stdout + v.stderr);

    // Again with --seal and without --establish: the transport key is shared now.
    const s = await cli([
      ...g(),
      'backup',
      'transfer',
      '--keys',
      'pay-ec',
      '--from',
      'm0',
      '--to',
      'm1',
      '--seal',
    ]);
    assert.equal(s.code, 0, s.stderr + s.stdout);
    const sealed = JSON.parse(s.stdout).transferred[0];
    assert.equal(sealed.created, false);
    assert.equal(sealed.target.extractable, false);
    const ec = listObjects(tokens[1]!, 'privkey').find((o) => o.label === 'pay-ec')!;
    assert.ok(ec.access.includes('sensitive') && !ec.access.includes('extractable'), ec.access.join(','));

    for (const x of [r, s]) {
      for (const t of tokens) assert.doesNotMatch(x.stdout + x.stderr, new RegExp(t.soPin));
    }
    const db = new Database(join(dir, 'hsmkit.db'), { readonly: true });
    try {
      const rows = db
        .prepare(
          "SELECT operation, result, key_uri FROM audit_log WHERE operation IN ('key.export', 'key.create')",
        )
        .all() as Array<{ operation: string; result: string; key_uri: string | null }>;
      const exported = rows.filter((x) => x.operation === 'key.export' && x.result === 'ok');
      // One record per exported key and run (pay-pinned is never exported): pay-ec, pay-rsa, pay-ec.
      assert.deepEqual(
        exported.map((x) => /object=([^;]+)/.exec(x.key_uri ?? '')?.[1]),
        ['pay-ec', 'pay-rsa', 'pay-ec'],
      );
      // The ceremony's transport key (recorded without a key URI: it is made on both tokens), and
      // the audit key the cluster's first checkpoint made.
      assert.deepEqual(
        rows
          .filter((x) => x.operation === 'key.create' && x.result === 'ok')
          .map((x) => /object=([^;]+)/.exec(x.key_uri ?? '')?.[1] ?? '(none)')
          .sort(),
        ['(none)', 'hsmkit-audit'],
      );
    } finally {
      db.close();
    }
  });
});
