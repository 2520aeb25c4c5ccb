/**
 * The audit endpoints over mutual TLS: an export fetched through the API is written out as the
 * folder `hsmkit audit export` makes and verified offline by the CLI (`hsmkit audit verify
 * --export`, a separate process) and its checkpoint signatures by openssl; a changed record is
 * caught. `POST /v1/audit/verify` checks the stored chain and names the first broken record.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openssl } from '../../support/tools.js';
import { openServiceFixture, problemCode, type ServiceFixture } from './service-fixture.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** `hsmkit audit verify --export DIR` from source, as its own process; exit code and output. */
function cliVerify(dir: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/run.ts'), 'audit', 'verify', '--export', dir, '--json'],
      { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

describe('audit API over mutual TLS', () => {
  let f: ServiceFixture;
  let work: string;

  /** Writes an export document's files into a new folder. */
  const writeExport = (
    doc: { files: Array<{ name: string; encoding: string; content: string }> },
    name: string,
  ) => {
    const dir = join(work, name);
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    for (const file of doc.files) {
      writeFileSync(join(dir, file.name), Buffer.from(file.content, file.encoding as BufferEncoding));
    }
    return dir;
  };

  before(async () => {
    f = await openServiceFixture({ rateLimit: { per_second: 50, burst: 200 } });
    work = mkdtempSync(join(tmpdir(), 'hsmkit-audit-api-'));
    // Some history: a key, signatures and a refusal, all through the API.
    await f.ctx.km.createKey({ label: 'audited', type: 'ec-p256' });
    const digest = Buffer.alloc(32, 7).toString('base64');
    for (let i = 0; i < 3; i++) {
      const a = await f.send({
        method: 'POST',
        path: '/v1/sign',
        client: f.clients.signer,
        body: { key: 'audited', digest },
      });
      assert.equal(a.status, 200, a.text);
    }
    assert.equal((await f.send({ path: '/v1/keys', client: f.clients.custodian })).status, 403);
  });
  after(async () => {
    await f?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('GET /v1/audit/export: the whole log verifies offline (CLI process) and each checkpoint with openssl', async () => {
    const a = await f.send({ path: '/v1/audit/export', client: f.clients.auditor });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.format, 'hsmkit-audit-export');
    assert.equal(a.json.manifest.anchored, true);
    assert.ok(a.json.manifest.records >= 5);
    const dir = writeExport(a.json, 'full');
    const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, a.json.manifest.records);
    assert.ok(
      lines.some((l) => JSON.parse(l).actor === 'svc-custodian' && JSON.parse(l).result === 'denied'),
    );

    const v = await cliVerify(dir);
    assert.equal(v.code, 0, v.out);
    const report = JSON.parse(v.out);
    assert.equal(report.ok, true);
    assert.equal(report.records, a.json.manifest.records);
    assert.ok(report.checkpoints >= 1, 'the export starts with a fresh checkpoint');

    const sigs = a.json.files.filter((x: { name: string }) => x.name.endsWith('.sig'));
    assert.ok(sigs.length >= 1);
    for (const s of sigs) {
      const base = join(dir, s.name.replace(/\.sig$/, ''));
      const r = openssl([
        'dgst',
        '-sha384',
        '-verify',
        join(dir, 'audit-public-key.pem'),
        '-signature',
        `${base}.sig`,
        `${base}.json`,
      ]);
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /Verified OK/);
    }

    // A changed record is caught by the same offline verifier.
    const tampered = writeExport(a.json, 'tampered');
    const rec = JSON.parse(lines[2]!);
    rec.actor = 'mallory';
    const changed = [...lines];
    changed[2] = JSON.stringify(rec);
    writeFileSync(join(tampered, 'audit.jsonl'), `${changed.join('\n')}\n`);
    const bad = await cliVerify(tampered);
    assert.notEqual(bad.code, 0, bad.out);
    assert.match(bad.out, /HSM_ERR_AUDIT_CHAIN/);
  });

  it('a range export (from_seq/to_seq) verifies unanchored', async () => {
    const a = await f.send({
      path: '/v1/audit/export?from_seq=2&to_seq=4',
      client: f.clients.security_officer,
    });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.manifest.firstSeq, 2);
    assert.equal(a.json.manifest.lastSeq, 4);
    assert.equal(a.json.manifest.anchored, false);
    const v = await cliVerify(writeExport(a.json, 'range'));
    assert.equal(v.code, 0, v.out);
    assert.equal(JSON.parse(v.out).records, 3);
  });

  it('POST /v1/audit/verify: valid, then names the first record changed in the store', async () => {
    const a = await f.send({ method: 'POST', path: '/v1/audit/verify', client: f.clients.auditor, body: {} });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.valid, true);
    assert.ok(a.json.records >= 5);
    assert.equal(a.json.first_bad, undefined);

    await f.ctx.store.db.updateTable('audit_log').set({ actor: 'mallory' }).where('seq', '=', 3).execute();
    const b = await f.send({ method: 'POST', path: '/v1/audit/verify', client: f.clients.auditor, body: {} });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.json.valid, false);
    assert.equal(b.json.first_bad.seq, 3);
  });

  it('bad input is a 4xx problem with a code, and the service keeps answering', async () => {
    for (const path of [
      '/v1/audit/export?from_seq=0',
      '/v1/audit/export?from_seq=5&to_seq=2',
      '/v1/audit/export?from_seq=abc',
      '/v1/audit/export?since=1',
    ]) {
      const a = await f.send({ path, client: f.clients.auditor });
      assert.equal(a.status, 400, `${path}: ${a.text}`);
      assert.equal(problemCode(a), 'HSM_ERR_INVALID_INPUT');
    }
    const v = await f.send({
      method: 'POST',
      path: '/v1/audit/verify',
      client: f.clients.auditor,
      body: { deep: true },
    });
    assert.equal(v.status, 400);
    assert.equal(problemCode(v), 'HSM_ERR_INVALID_INPUT');
    const denied = await f.send({ path: '/v1/audit/export', client: f.clients.operator });
    assert.equal(denied.status, 403);
    assert.equal(problemCode(denied), 'HSM_ERR_POLICY_VIOLATION');
    assert.equal((await f.send({ path: '/healthz', client: f.clients.auditor })).status, 200);
  });
});
