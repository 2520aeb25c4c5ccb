/**
 * Chaos: the SQLite store's disk fills up. The store lives on a 1 MiB tmpfs this test mounts (it
 * runs as root); a filler file takes the rest of the space under a governed load. What must hold:
 * the audit log fails closed (HSM_ERR_AUDIT: a signature whose record cannot be written is
 * withheld), a key generation leaves no orphan key on the token, nothing crashes, and once space
 * is freed service resumes by itself with an audit chain that still verifies and accounts for
 * every call. The tmpfs is unmounted afterwards.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { verify } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyManager } from '../../src/adapters/pkcs11/pkcs11-key-manager.js';
import type { Governance } from '../../src/governance/open-governance.js';
import { Store } from '../../src/store/store.js';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm.js';
import { listObjects } from '../support/tools.js';
import { assertAuditAccounts, failures, governed, tallied, tally } from './support.js';

/** Fills the file system holding `path` with one file until ENOSPC; returns the bytes written. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(16 * 1024, 0x5a);
  let written = 0;
  try {
    for (;;) {
      try {
        written += writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
    // Take the last partial block too.
    for (const size of [4096, 512, 64, 1]) {
      try {
        for (;;) written += writeSync(fd, chunk.subarray(0, size));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

describe('chaos: the SQLite store disk is full', () => {
  let token: SoftHsmToken;
  let mnt: string;
  let mounted = false;
  let store: Store;
  let km: Pkcs11KeyManager;
  let g: Governance;
  let pem: string;

  before(async () => {
    token = createSoftHsmToken();
    mnt = mkdtempSync(join(tmpdir(), 'hsmkit-chaos-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mnt]);
    mounted = true;
    store = await Store.openSqlite(join(mnt, 'hsmkit.db'));
    km = await Pkcs11KeyManager.open(token.member({ operationTimeoutMs: 3000 }) as never, {
      store: store.keys,
    });
    g = await governed(km, store);
    pem = (await g.km.createKey({ label: 'full-p256', type: 'ec-p256' })).publicKeyPem;
    assert.equal(await g.governor.checkpoint(), undefined);
  });

  after(async () => {
    await km?.close();
    await store?.close().catch(() => undefined);
    if (mounted) execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
    token?.cleanup();
  });

  it('fails closed with HSM_ERR_AUDIT while full, leaves no orphan key, and resumes when space returns', async () => {
    const data = Buffer.from('disk full');
    const sign = tally();
    const create = tally();
    for (let i = 0; i < 20; i++) {
      const sig = await tallied(sign, () => g.km.sign({ key: 'full-p256', data }));
      assert.ok(sig && verify('sha256', data, pem, sig));
    }
    const filler = join(mnt, 'filler');
    const took = fill(filler);
    // Under a full disk: signatures and a key generation, all refused with typed errors.
    const full = tally();
    for (let i = 0; i < 20; i++) {
      const sig = await tallied(full, () => g.km.sign({ key: 'full-p256', data }));
      if (sig) assert.ok(verify('sha256', data, pem, sig));
    }
    await tallied(create, () => g.km.createKey({ label: 'born-on-full-disk', type: 'ec-p256' }));
    console.log(
      `disk full (${took} filler bytes): sign ok ${full.ok}, failed ${JSON.stringify([...full.failed])}; keygen ${JSON.stringify([...create.failed])} ok ${create.ok}`,
    );
    assert.deepEqual(full.untyped, []);
    assert.deepEqual(create.untyped, []);
    for (const code of [...full.failed.keys(), ...create.failed.keys()]) {
      assert.ok(code === 'HSM_ERR_AUDIT' || code === 'HSM_ERR_STORE', `unexpected code ${code}`);
    }
    assert.ok(failures(full) > 0, 'a full disk must refuse operations whose audit record cannot be written');
    // No orphan: a key the store could not record is not left on the token.
    const onToken = listObjects(token, 'privkey').map((o) => o.label);
    if (create.ok === 0)
      assert.ok(!onToken.includes('born-on-full-disk'), `orphan key on the token: ${onToken.join(',')}`);

    // Space returns: service resumes by itself, no restart.
    rmSync(filler);
    for (let i = 0; i < 20; i++) {
      const sig = await tallied(sign, () => g.km.sign({ key: 'full-p256', data }));
      assert.ok(sig && verify('sha256', data, pem, sig), 'signing resumes after space is freed');
    }
    const afterCreate = tally();
    await tallied(afterCreate, () => g.km.createKey({ label: 'born-after', type: 'ec-p256' }));
    assert.equal(afterCreate.ok, 1, JSON.stringify([...afterCreate.failed]));
    assert.ok(listObjects(token, 'privkey').some((o) => o.label === 'born-after'));

    // Every call is accounted for: ok records for successes; failures while the disk was full
    // could not be recorded (that is why they failed) — they must not appear as ok.
    const records = await assertAuditAccounts(g, {
      'key.sign': { ok: sign.ok + full.ok, error: 0 },
    });
    const creates = records
      .filter((r) => r.operation === 'key.create' && r.result === 'ok')
      .map((r) => r.keyUri ?? '');
    assert.ok(
      !creates.some((u) => u.includes('born-on-full-disk')),
      'a refused key generation is recorded as ok',
    );
  });
});
