/**
 * Audit retention (issue 6): records past retention are exported, the archive statement is signed
 * in the HSM by the audit key (verified here with OpenSSL), and only then removed; the kept chain
 * still verifies from its anchor; a removal outside retention, or a forged anchor, does not.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { AuditLog } from '../../../src/audit/audit-log.js';
import type { AuditEntry } from '../../../src/audit/audit-record.js';
import { archiveExpired, verifyStoredChain } from '../../../src/audit/retention.js';
import { HsmError } from '../../../src/errors/index.js';
import { AuditLogRepository } from '../../../src/store/audit-log-repository.js';
import { Store } from '../../../src/store/store.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';

function entry(timestamp: string, i: number): AuditEntry {
  return {
    timestamp,
    actor: 'tester',
    role: 'admin',
    authMethod: 'local',
    operation: 'key.sign',
    paramsDigest: String(i).padStart(64, '0'),
    result: 'ok',
    latencyMs: 1,
    correlationId: 'retention-test',
  };
}

describe('audit retention', () => {
  let token: SoftHsmToken;
  let km: Pkcs11KeyManager;
  let dir: string;
  let store: Store;
  let repo: AuditLogRepository;
  let signer: { keyUri: string; sign(p: Uint8Array): Promise<Uint8Array> };
  let pem: string;

  before(async () => {
    token = createSoftHsmToken();
    km = await Pkcs11KeyManager.open(token.member());
    const key = await km.createKey({ label: 'hsmkit-audit', type: 'ec-p384' });
    pem = key.publicKeyPem;
    signer = {
      keyUri: key.uri,
      sign: (payload) =>
        km.sign({ key: key.uri, data: payload, algorithm: { scheme: 'ecdsa', hash: 'sha384' } }),
    };
    dir = mkdtempSync(join(tmpdir(), 'hsmkit-retention-'));
    store = await Store.openSqlite(join(dir, 'hsmkit.db'));
    repo = new AuditLogRepository(store.db, 'sqlite');
    const log = new AuditLog(repo);
    for (let i = 1; i <= 10; i++)
      await log.append(entry(`2020-01-${String(i).padStart(2, '0')}T00:00:00.000Z`, i));
    await log.checkpoint(signer, {
      actor: 'tester',
      role: 'admin',
      authMethod: 'local',
      correlationId: 'retention-test',
    });
    for (let i = 11; i <= 15; i++) await log.append(entry(new Date().toISOString(), i));
  });

  after(async () => {
    await store?.close();
    await km?.close();
    rmSync(dir, { recursive: true, force: true });
    token?.cleanup();
  });

  it('archives what is past retention, signed in the HSM, and the kept chain still verifies', async () => {
    const out = join(dir, 'archive-1');
    const result = await archiveExpired(repo, {
      cutoff: '2021-01-01T00:00:00.000Z',
      outDir: out,
      publicKeyPem: pem,
      signer,
    });
    // The checkpoint over 1..10 was written now, so it is kept (and still signs record 10's hash).
    assert.equal(result.archived, 10, 'records 1..10');
    assert.equal(result.throughSeq, 10);
    const verified = execFileSync(
      'openssl',
      [
        'dgst',
        '-sha384',
        '-verify',
        join(out, 'audit-public-key.pem'),
        '-signature',
        join(out, 'archive.sig'),
        join(out, 'archive.json'),
      ],
      { encoding: 'utf8' },
    );
    assert.match(verified, /Verified OK/);
    const kept = await repo.list();
    assert.deepEqual(
      kept.map((r) => r.seq),
      [11, 12, 13, 14, 15, 16],
    );
    const anchor = await repo.archiveAnchor();
    assert.equal(verifyStoredChain(kept, pem, anchor).ok, true);
    // The archived records still verify offline as an export.
    const again = await archiveExpired(repo, {
      cutoff: '2021-01-01T00:00:00.000Z',
      outDir: join(dir, 'archive-2'),
      publicKeyPem: pem,
      signer,
    });
    assert.equal(again.archived, 0, 'nothing left past retention');
  });

  it('a removal outside retention, or a forged anchor, breaks verification', async () => {
    const kept = await repo.list();
    const anchor = (await repo.archiveAnchor())!;
    const withoutFirst = kept.slice(1);
    const r1 = verifyStoredChain(withoutFirst, pem, anchor);
    assert.equal(r1.ok, false);
    assert.equal(r1.firstBreak?.reason, 'archive_anchor');
    const r2 = verifyStoredChain(kept, pem, { ...anchor, lastHash: '0'.repeat(64) });
    assert.equal(r2.ok, false);
    assert.equal(r2.firstBreak?.seq, anchor.throughSeq + 1);
  });

  it('a tampered archive statement fails OpenSSL; a broken chain is never archived', async () => {
    const out = join(dir, 'archive-1');
    writeFileSync(join(dir, 'forged.json'), '{"type":"hsmkit.audit.archive","throughSeq":99}');
    assert.throws(() =>
      execFileSync(
        'openssl',
        [
          'dgst',
          '-sha384',
          '-verify',
          join(out, 'audit-public-key.pem'),
          '-signature',
          join(out, 'archive.sig'),
          join(dir, 'forged.json'),
        ],
        {
          stdio: 'ignore',
        },
      ),
    );
    await store.db.updateTable('audit_log').set({ actor: 'mallory' }).where('seq', '=', 13).execute();
    await assert.rejects(
      archiveExpired(repo, {
        cutoff: new Date(Date.now() + 60_000).toISOString(),
        outDir: join(dir, 'archive-3'),
        publicKeyPem: pem,
        signer,
      }),
      (err: unknown) => HsmError.is(err, 'HSM_ERR_AUDIT_CHAIN'),
    );
    assert.deepEqual(
      (await repo.list()).map((r) => r.seq),
      [11, 12, 13, 14, 15, 16],
      'nothing was removed',
    );
  });
});
