/**
 * Member-host robustness against a real SoftHSM token: a host killed with SIGKILL mid-signing is
 * respawned and nothing hangs; a stopped (hung) host is caught by the operation timeout; a key
 * generation in flight when its host dies fails with a retryable error.
 */
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { HsmError } from '../../../src/errors/index.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';

const MESSAGE = Buffer.from('member host crash test');

function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() > until) reject(new Error(`condition not met within ${ms} ms`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

describe('member host crash recovery', () => {
  let token: SoftHsmToken;
  let km: Pkcs11KeyManager;
  let spki: Buffer;

  before(async () => {
    token = createSoftHsmToken();
    km = await Pkcs11KeyManager.open(token.member({ operationTimeoutMs: 2000, hostProcesses: 1 }));
    await km.createKey({ label: 'crash-p256', type: 'ec-p256' });
    spki = Buffer.from(await km.getPublicKey('crash-p256'));
  });

  after(async () => {
    await km?.close();
    token?.cleanup();
  });

  it('SIGKILL during signing: host respawns, every call answers once, signatures verify', async () => {
    const before = km.member.hostPids;
    assert.equal(before.length, 1);
    const outcomes = { ok: 0, retryable: 0, other: 0 };
    let killedAt = -1;
    const callers = Array.from({ length: 16 }, async () => {
      for (let i = 0; i < 150; i++) {
        try {
          const sig = await km.sign({ key: 'crash-p256', data: MESSAGE });
          assert.ok(
            verify('sha256', MESSAGE, { key: spki, format: 'der', type: 'spki', dsaEncoding: 'der' }, sig),
          );
          outcomes.ok++;
        } catch (err) {
          if (HsmError.is(err) && err.retryable) outcomes.retryable++;
          else outcomes.other++;
        }
        if (outcomes.ok === 300 && killedAt < 0) {
          killedAt = outcomes.ok;
          process.kill(before[0]!, 'SIGKILL');
        }
      }
    });
    await Promise.all(callers);
    assert.ok(killedAt > 0, 'the host was killed mid-run');
    assert.equal(outcomes.other, 0, 'no non-retryable failures');
    assert.equal(outcomes.ok + outcomes.retryable, 16 * 150, 'every call answered exactly once');
    // Signing is idempotent, so calls in flight are retried on the new host: expect (almost) none lost.
    assert.ok(outcomes.ok >= 16 * 150 - 64, `ok=${outcomes.ok} retryable=${outcomes.retryable}`);
    const afterPids = km.member.hostPids;
    assert.equal(afterPids.length, 1);
    assert.notEqual(afterPids[0], before[0], 'a new host process serves the member');
    assert.ok(km.member.restarts >= 1);
    const sig = await km.sign({ key: 'crash-p256', data: MESSAGE });
    assert.ok(verify('sha256', MESSAGE, { key: spki, format: 'der', type: 'spki' }, sig));
  });

  it('a hung host (SIGSTOP) is caught by the operation timeout and replaced', async () => {
    const [pid] = km.member.hostPids;
    process.kill(pid!, 'SIGSTOP');
    const started = Date.now();
    await assert.rejects(km.sign({ key: 'crash-p256', data: MESSAGE }), (err: unknown) => {
      assert.ok(HsmError.is(err, 'HSM_ERR_TIMEOUT'), String(err));
      assert.equal((err as HsmError).retryable, true);
      return true;
    });
    const waited = Date.now() - started;
    assert.ok(waited < 2000 + 1500, `timed out after ${waited} ms, budget 2000 ms`);
    await waitFor(() => km.member.hostPids.length === 1 && km.member.hostPids[0] !== pid, 5000);
    const sig = await km.sign({ key: 'crash-p256', data: MESSAGE });
    assert.ok(verify('sha256', MESSAGE, { key: spki, format: 'der', type: 'spki' }, sig));
  });

  it('a key generation in flight when its host dies fails with a retryable error; the next one works', async () => {
    const [pid] = km.member.hostPids;
    const gen = km.createKey({ label: 'crash-rsa', type: 'rsa-4096' });
    setTimeout(() => process.kill(pid!, 'SIGKILL'), 100);
    await assert.rejects(gen, (err: unknown) => {
      assert.ok(HsmError.is(err, 'HSM_ERR_MEMBER_CRASHED'), String(err));
      assert.equal((err as HsmError).retryable, true);
      return true;
    });
    await waitFor(() => km.member.hostPids.length === 1, 5000);
    const info = await km.createKey({ label: 'crash-after', type: 'ec-p256' });
    assert.equal(info.type, 'ec-p256');
  });

  it('many concurrent calls travel in batches and all verify', async () => {
    const sigs = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => km.sign({ key: 'crash-p256', data: Buffer.from(`m${i}`) })),
    );
    sigs.forEach((sig, i) => {
      assert.ok(
        verify('sha256', Buffer.from(`m${i}`), { key: spki, format: 'der', type: 'spki' }, sig),
        `signature ${i}`,
      );
    });
  });

  it('close() stops the host processes', async () => {
    const pids = km.member.hostPids;
    await km.close();
    for (const pid of pids) {
      assert.throws(() => process.kill(pid, 0), /ESRCH/);
    }
    await assert.rejects(km.sign({ key: 'crash-p256', data: MESSAGE }), (err: unknown) =>
      HsmError.is(err, 'HSM_ERR_UNAVAILABLE'),
    );
  });
});
