/**
 * `hsmkit backup` from the CLI on SoftHSM: KEK 2-of-3, create, verify, a flipped byte refused
 * with the entry named, kek import + restore into a second member, drill with RTO 1 ms exits
 * non-zero. The audit log records each operation.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { runCli as cli } from '../../support/cli.js';
import {
  createSoftHsmToken,
  memberEntries,
  SOFTHSM_MODULE,
  type SoftHsmToken,
} from '../../support/softhsm.js';
import { listObjects } from '../../support/tools.js';

describe('hsmkit backup (CLI)', { timeout: 300_000 }, () => {
  let dir: string;
  let tokens: SoftHsmToken[];
  let config: string;
  const g = () => ['--config', config, '--json'];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsmkit-backup-cli-'));
    tokens = [createSoftHsmToken('bk-main'), createSoftHsmToken('bk-spare')];
    const members = memberEntries(dir, tokens);
    for (const name of ['alice', 'bob', 'carol']) {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      writeFileSync(join(dir, `${name}.pub.pem`), publicKey.export({ type: 'spki', format: 'pem' }));
      writeFileSync(join(dir, `${name}.key.pem`), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        mode: 0o600,
      });
    }
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
        ['svc-rsa', 'rsa-2048'],
        ['svc-ec', 'ec-p256'],
        ['svc-ed', 'ed25519'],
      ] as const) {
        await km.createKey({ label, type, protection: { extractable: true, wrapWithTrusted: true } });
      }
    } finally {
      await km.close();
    }
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const t of tokens) t.cleanup();
  });

  it('kek create, backup create/verify, tamper, kek import + restore, drill over the RTO', async () => {
    const kek = join(dir, 'kek.json');
    const c = await cli([
      ...g(),
      'backup',
      'kek',
      'create',
      '--custodian',
      `alice=${join(dir, 'alice.pub.pem')}`,
      '--custodian',
      `bob=${join(dir, 'bob.pub.pem')}`,
      '--custodian',
      `carol=${join(dir, 'carol.pub.pem')}`,
      '--threshold',
      '2',
      '--out',
      kek,
      '--so-pin-file',
      join(dir, 'so-pin-0'),
    ]);
    assert.equal(c.code, 0, c.stderr);
    const file = join(dir, 'keys.backup.json');
    // The bootstrap policy trusts the backup KEK as a wrapping key, so the CLI backs the keys up.
    const b = await cli([...g(), 'backup', 'create', '--keys', 'svc-*', '--out', file]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout + b.stderr, /ed25519/i, 'the Ed25519 key is reported as not backed up');
    const v = await cli([...g(), 'backup', 'verify', file]);
    assert.equal(v.code, 0, v.stderr);

    const text = readFileSync(file, 'utf8');
    const parsed = JSON.parse(text);
    const blob: string = parsed.entries[1].wrapped.blob;
    const at = text.indexOf(blob) + 10;
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, text.slice(0, at) + (text[at] === 'a' ? 'b' : 'a') + text.slice(at + 1));
    const tv = await cli([...g(), 'backup', 'verify', bad]);
    assert.notEqual(tv.code, 0);
    assert.match(tv.stderr + tv.stdout, /HSM_ERR_BACKUP_INVALID/);
    assert.match(tv.stderr + tv.stdout, new RegExp(`entry 2 \\\\?"${parsed.entries[1].label}`));

    const shares = ['--share-key', join(dir, 'alice.key.pem'), '--share-key', join(dir, 'carol.key.pem')];
    const ki = await cli([
      ...g(),
      'backup',
      'kek',
      'import',
      kek,
      '--to',
      'm1',
      '--so-pin-file',
      join(dir, 'so-pin-1'),
      ...shares,
    ]);
    assert.equal(ki.code, 0, ki.stderr);
    const tr = await cli([...g(), 'backup', 'restore', bad, '--to', 'm1']);
    assert.notEqual(tr.code, 0);
    assert.match(tr.stderr + tr.stdout, /HSM_ERR_BACKUP_INVALID/);
    // (the CLI opens both members as a cluster, whose health checks make each member's hsmkit-health key)
    assert.deepEqual(
      listObjects(tokens[1]!, 'privkey').filter((o) => !o.label?.startsWith('hsmkit-')),
      [],
      'nothing imported',
    );
    const r = await cli([...g(), 'backup', 'restore', file, '--to', 'm1', '--seal']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).restored.length, 2);
    for (const o of listObjects(tokens[1]!, 'privkey').filter((x) => x.label?.startsWith('svc-'))) {
      assert.ok(o.access.includes('sensitive') && !o.access.includes('extractable'), o.access.join(','));
    }

    const d = await cli([...g(), 'backup', 'drill', file, '--kek', kek, ...shares, '--rto-ms', '1']);
    assert.notEqual(d.code, 0);
    // The drill's result, then the coded error (both JSON on stdout with --json).
    const drill = JSON.parse(d.stdout.slice(0, d.stdout.indexOf('\n}\n') + 2));
    assert.match(d.stdout, /recovery drill took/);
    assert.equal(drill.withinRto, false);
    assert.equal(drill.verified, 2);
    assert.ok(drill.measuredMs > 1);

    // Every operation left an audit record (ok or denied), read from the store.
    const db = new Database(join(dir, 'hsmkit.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT operation, result AS outcome FROM audit_log').all() as Array<{
        operation: string;
        outcome: string;
      }>;
      const seen = new Set(rows.map((r) => `${r.operation}:${r.outcome}`));
      for (const k of ['key.create:ok', 'key.export:ok', 'key.import:ok', 'key.import:error'])
        assert.ok(seen.has(k), `${k} in ${[...seen].join(',')}`);
    } finally {
      db.close();
    }
  });
});
