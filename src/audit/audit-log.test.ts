import assert from 'node:assert/strict';
import { sign as cryptoSign, generateKeyPairSync } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openFreshTestStore } from '../../test/support/postgres.js';
import { HsmError } from '../errors/index.js';
import { AuditLogRepository } from '../store/audit-log-repository.js';
import { Store } from '../store/store.js';
import { AuditLog } from './audit-log.js';
import { type AuditEntry, paramsDigest } from './audit-record.js';
import type { CheckpointSigner } from './checkpoint.js';
import { verifyChain } from './verify-chain.js';

// A software stand-in for the HSM audit key: this unit test is about the chain, not the HSM
// (test/integration/governance signs checkpoints in SoftHSM and verifies them with OpenSSL).
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const signer: CheckpointSigner = {
  keyUri: 'pkcs11:object=hsmkit-audit;type=private',
  sign: async (p) => cryptoSign('sha384', p, { key: privateKey, dsaEncoding: 'der' }),
};

function entry(n: number): AuditEntry {
  return {
    timestamp: new Date().toISOString(),
    actor: 'alice',
    role: 'admin',
    authMethod: 'local',
    operation: 'key.sign',
    keyUri: `pkcs11:object=k${n}`,
    paramsDigest: paramsDigest({ n }),
    result: 'ok',
    latencyMs: 1,
    correlationId: 'c',
  };
}

describe('audit log', () => {
  let store: Store;
  let log: AuditLog;
  const base = { actor: 'alice', role: 'admin', authMethod: 'local', correlationId: 'c' };
  beforeEach(async () => {
    await store?.close();
    // In memory, or on PostgreSQL when test/integration/store/postgres.test.ts runs this suite.
    store = process.env.HSMKIT_TEST_POSTGRES_URL ? await openFreshTestStore('') : await Store.openMemory();
    log = new AuditLog(new AuditLogRepository(store.db));
  });

  it('200 concurrent appends make one valid chain with no gap', async () => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(entry(i))));
    const records = await log.store.list();
    assert.deepEqual(
      records.map((r) => r.seq),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.equal(verifyChain(records, PEM).ok, true);
  });

  it('concurrent appends are group-committed: fewer writes than records, in order, each caller its own record', async () => {
    const repo = new AuditLogRepository(store.db);
    let writes = 0;
    const counting = Object.assign(Object.create(repo) as AuditLogRepository, {
      append: (seal: Parameters<AuditLogRepository['append']>[0]) => {
        writes++;
        return repo.append(seal);
      },
      appendMany: (seals: Parameters<AuditLogRepository['appendMany']>[0]) => {
        writes++;
        return repo.appendMany(seals);
      },
    });
    const grouped = new AuditLog(counting);
    const recs = await Promise.all(Array.from({ length: 300 }, (_, i) => grouped.append(entry(i))));
    assert.ok(writes < 300, `${writes} writes for 300 records`);
    // Each caller got the record of its own entry, and the chain follows arrival order.
    assert.deepEqual(
      recs.map((r) => r.paramsDigest),
      recs.map((_, i) => entry(i).paramsDigest),
    );
    assert.deepEqual(
      recs.map((r) => r.seq),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    assert.equal(verifyChain(await repo.list(), PEM).ok, true);
  });

  it('a failed group write fails every append in it with HSM_ERR_AUDIT and writes none of them', async () => {
    const repo = new AuditLogRepository(store.db);
    await log.append(entry(0));
    const failing = Object.assign(Object.create(repo) as AuditLogRepository, {
      appendMany: async () => {
        throw new Error('disk full');
      },
      append: async () => {
        throw new Error('disk full');
      },
    });
    const broken = new AuditLog(failing);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => broken.append(entry(i))));
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(HsmError.is((r as PromiseRejectedResult).reason, 'HSM_ERR_AUDIT'));
    }
    assert.equal((await repo.list()).length, 1);
  });

  it('a checkpoint signs the tip; its signature verifies; a checkpoint after a checkpoint is skipped', async () => {
    for (let i = 0; i < 3; i++) await log.append(entry(i));
    const cp = await log.checkpoint(signer, base);
    assert.equal(cp?.seq, 4);
    assert.equal(await log.checkpoint(signer, base), undefined);
    const report = verifyChain(await log.store.list(), PEM);
    assert.equal(report.ok, true);
    assert.equal(report.checkpoints, 1);
    assert.equal(report.lastCheckpointedSeq, 3);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-384' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    assert.equal(verifyChain(await log.store.list(), other).firstBreak?.reason, 'checkpoint_signature');
  });

  it('checkpoints asked for together (every operation that finds one due) sign once and write one record', async () => {
    for (let i = 0; i < 5; i++) await log.append(entry(i));
    let signatures = 0;
    const counting: CheckpointSigner = {
      keyUri: signer.keyUri,
      sign: async (p) => {
        signatures++;
        return signer.sign(p);
      },
    };
    const results = await Promise.all(Array.from({ length: 50 }, () => log.checkpoint(counting, base)));
    assert.equal(signatures, 1);
    assert.ok(results.every((r) => r?.seq === 6));
    const records = await log.store.list();
    assert.equal(records.filter((r) => r.checkpoint !== undefined).length, 1);
    assert.equal(verifyChain(records, PEM).ok, true);
  });

  const tampers: Array<[string, string, number, string]> = [
    ['an edited field', "update audit_log set actor = 'mallory' where seq = 3", 3, 'hash'],
    ['a deleted record', 'delete from audit_log where seq = 3', 3, 'sequence'],
    [
      'two swapped records',
      'update audit_log set seq = -2 where seq = 2; update audit_log set seq = 2 where seq = 4; update audit_log set seq = 4 where seq = -2',
      2,
      'hash',
    ],
  ];
  for (const [name, statement, seq, reason] of tampers) {
    it(`names the record after ${name}`, async () => {
      for (let i = 0; i < 5; i++) await log.append(entry(i));
      await log.checkpoint(signer, base);
      assert.equal(verifyChain(await log.store.list(), PEM).ok, true);
      for (const st of statement.split('; ')) await sql.raw(st).execute(store.db);
      const report = verifyChain(await log.store.list(), PEM);
      assert.equal(report.ok, false);
      assert.equal(report.firstBreak?.seq, seq);
      assert.equal(report.firstBreak?.reason, reason);
    });
  }

  it('a rewritten chain (hashes recomputed) is caught by the signed checkpoint', async () => {
    for (let i = 0; i < 3; i++) await log.append(entry(i));
    await log.checkpoint(signer, base);
    const records = await log.store.list();
    // An attacker edits record 2 and recomputes every hash after it, but cannot re-sign.
    const { recordHash } = await import('./audit-record.js');
    let prev = records[0]!.hash;
    const forged = records.map((r, i) => {
      if (i === 0) return r;
      const changed = { ...r, actor: i === 1 ? 'mallory' : r.actor, prevHash: prev };
      const { hash: _h, ...rest } = changed;
      const out = { ...rest, hash: recordHash(rest) };
      prev = out.hash;
      return out;
    });
    const report = verifyChain(forged, PEM);
    assert.equal(report.ok, false);
    assert.equal(report.firstBreak?.reason, 'checkpoint_target');
    assert.equal(report.firstBreak?.seq, 3);
  });

  it('probe writes nothing; required fields are enforced with HSM_ERR_AUDIT', async () => {
    await log.probe();
    assert.deepEqual(await log.store.list(), []);
    const strict = new AuditLog(log.store, { requiredFields: ['member'] });
    await assert.rejects(strict.append(entry(1)), (e) => HsmError.is(e, 'HSM_ERR_AUDIT'));
    await strict.append({ ...entry(1), member: 'm' });
    assert.equal((await log.store.list()).length, 1);
  });

  it('a closed store makes append and probe fail with HSM_ERR_AUDIT', async () => {
    await store.close();
    await assert.rejects(log.probe(), (e) => HsmError.is(e, 'HSM_ERR_AUDIT'));
    await assert.rejects(log.append(entry(1)), (e) => HsmError.is(e, 'HSM_ERR_AUDIT'));
  });
});
