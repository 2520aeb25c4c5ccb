/**
 * Backup storage: the filesystem adapter (0600, never overwrites, digest checked) and the S3
 * adapter against a local s3rver started here, through the CLI: a real backup file uploaded,
 * listed, downloaded, `backup verify` passes on the download; an object changed in the bucket is
 * refused on download. Credentials come from the environment and never appear in output.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { S3BackupStorage } from '../../../src/adapters/s3/s3-backup-storage.js';
import { FileBackupStorage } from '../../../src/backup/storage/file-backup-storage.js';
import { HsmError } from '../../../src/errors/index.js';
import { type BackupFixture, cli, makeBackupFixture } from './fixture.js';

// s3rver's fixed development credentials; given to the CLI through the environment only.
const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HsmError, String(err));
    return err.code;
  }
  return 'no error';
}

describe('backup storage', { timeout: 300_000 }, () => {
  let fx: BackupFixture;
  let s3: S3rver;
  let endpoint: string;

  before(async () => {
    fx = await makeBackupFixture('bk-store');
    mkdirSync(join(fx.dir, 's3'));
    s3 = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory: join(fx.dir, 's3'),
      configureBuckets: [{ name: 'b', configs: [] }],
    });
    const { address, port } = await s3.run();
    endpoint = `http://${address}:${port}`;
  });

  after(async () => {
    await s3?.close();
    fx?.cleanup();
  });

  it('filesystem: 0600 objects, never overwritten, a changed object refused', async () => {
    const dir = join(fx.dir, 'fs');
    mkdirSync(dir);
    const st = new FileBackupStorage(dir);
    const data = readFileSync(fx.backup);
    const put = await st.put('a.backup.json', data);
    assert.equal(put.size, data.length);
    assert.equal(statSync(join(dir, 'a.backup.json')).mode & 0o777, 0o600);
    assert.deepEqual(await st.get('a.backup.json'), data);
    assert.equal(await codeOf(st.put('a.backup.json', Buffer.from('x'))), 'HSM_ERR_INVALID_INPUT');
    assert.deepEqual(await st.get('a.backup.json'), data, 'the first object is intact');
    assert.equal(await codeOf(st.put('../escape', data)), 'HSM_ERR_INVALID_INPUT');
    assert.equal(await codeOf(st.get('missing.json')), 'HSM_ERR_NOT_FOUND');
    assert.deepEqual(
      (await st.list()).map((o) => [o.name, o.sha256]),
      [['a.backup.json', put.sha256]],
    );
    const changed = Buffer.from(data);
    changed[100] = changed[100] === 0x41 ? 0x42 : 0x41;
    writeFileSync(join(dir, 'a.backup.json'), changed);
    assert.equal(await codeOf(st.get('a.backup.json')), 'HSM_ERR_BACKUP_INVALID');
    await st.delete('a.backup.json');
    assert.deepEqual(await st.list(), []);
  });

  it('S3 through the CLI: upload, list, download, verify; a changed object is refused', async () => {
    const g = ['--config', fx.config, '--json'];
    const s3flags = ['--s3-endpoint', endpoint];
    const up = await cli([...g, 'backup', 'upload', fx.backup, '--to', 's3://b/nightly', ...s3flags], S3_ENV);
    assert.equal(up.code, 0, up.stderr + up.stdout);
    assert.equal(JSON.parse(up.stdout).name, 'keys.backup.json');
    const again = await cli(
      [...g, 'backup', 'upload', fx.backup, '--to', 's3://b/nightly', ...s3flags],
      S3_ENV,
    );
    assert.notEqual(again.code, 0, 'an existing object is never overwritten');

    const ls = await cli([...g, 'backup', 'list', '--from', 's3://b/nightly', ...s3flags], S3_ENV);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(
      JSON.parse(ls.stdout).objects.map((o: { name: string }) => o.name),
      ['keys.backup.json'],
    );

    const out = join(fx.dir, 'downloaded.json');
    const dl = await cli(
      [...g, 'backup', 'download', 'keys.backup.json', '--from', 's3://b/nightly', '--out', out, ...s3flags],
      S3_ENV,
    );
    assert.equal(dl.code, 0, dl.stderr + dl.stdout);
    assert.deepEqual(readFileSync(out), readFileSync(fx.backup));
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const v = await cli([...g, 'backup', 'verify', out]);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(JSON.parse(v.stdout).entries, 2);

    // Someone replaces the object in the bucket, keeping its recorded digest.
    const text = readFileSync(fx.backup, 'utf8');
    const raw = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const digest = JSON.parse(up.stdout).sha256 as string;
    await raw.send(
      new PutObjectCommand({
        Bucket: 'b',
        Key: 'nightly/keys.backup.json',
        Body: text.replace('"svc-ec"', '"svc-EC"'),
        Metadata: { sha256: digest },
      }),
    );
    raw.destroy();
    const bad = await cli(
      [
        ...g,
        'backup',
        'download',
        'keys.backup.json',
        '--from',
        's3://b/nightly',
        '--out',
        `${out}.2`,
        ...s3flags,
      ],
      S3_ENV,
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout + bad.stderr, /HSM_ERR_BACKUP_INVALID/);
    assert.match(bad.stdout + bad.stderr, /recorded SHA-256/);
    for (const r of [up, again, ls, dl, bad]) assert.doesNotMatch(r.stdout + r.stderr, /S3RVER/);

    // Credentials in the URL are refused without being echoed.
    const cred = await cli([...g, 'backup', 'list', '--from', 's3://AKIA:hunter2@b/nightly', ...s3flags]);
    assert.notEqual(cred.code, 0);
    assert.doesNotMatch(cred.stdout + cred.stderr, /hunter2/);
  });

  it('S3 adapter directly: round trip with the digest checked, missing object, delete', async () => {
    const st = new S3BackupStorage({
      bucket: 'b',
      prefix: 'direct',
      endpoint,
      region: 'us-east-1',
    });
    const prev = { ...process.env };
    Object.assign(process.env, S3_ENV);
    try {
      const data = readFileSync(fx.backup);
      await st.put('x.json', data);
      assert.deepEqual(await st.get('x.json'), data);
      assert.equal(await codeOf(st.get('nope.json')), 'HSM_ERR_NOT_FOUND');
      await st.delete('x.json');
      assert.deepEqual(await st.list(), []);
    } finally {
      st.close();
      process.env = prev;
    }
  });
});
