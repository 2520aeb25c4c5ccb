/**
 * Chaos: a corrupted SoftHSM token. (1) The object files of one key are overwritten with garbage
 * between runs: that key's operations fail with HSM_ERR_KEY_NOT_FOUND (SoftHSM drops objects it
 * cannot read; a corrupted public object alone gives HSM_ERR_TEMPLATE), the other keys keep signing on the
 * same host process (no crash, no respawn), and the audit log records each call once and
 * verifies. (2) The token's own file (token.object) is corrupted: opening the member fails in
 * bounded time with a typed error that names the token, and nothing crashes.
 */
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyManager } from '../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { HsmError } from '../../src/errors/index.js';
import { Store } from '../../src/store/store.js';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm.js';
import { assertAuditAccounts, failures, governed, tallied, tally } from './support.js';

/** The folder holding the token's object files. */
function tokenFolder(token: SoftHsmToken): string {
  const tokens = join(token.dir, 'tokens');
  const [uuid] = readdirSync(tokens);
  return join(tokens, uuid!);
}

function objectFiles(dir: string): Set<string> {
  return new Set(readdirSync(dir).filter((f) => f.endsWith('.object') && f !== 'token.object'));
}

/** Overwrites every 7th byte after the header with 0xA5 (the file keeps its size). */
function corrupt(file: string): void {
  const b = Buffer.from(readFileSync(file));
  for (let i = 8; i < b.length; i += 7) b[i] = 0xa5;
  writeFileSync(file, b);
}

describe('chaos: corrupted SoftHSM token files', () => {
  let token: SoftHsmToken;
  let store: Store;
  let km: Pkcs11KeyManager | undefined;
  let dir: string;
  let corruptedFiles: string[];
  let intactPem: string;

  before(async () => {
    token = createSoftHsmToken();
    store = await Store.openMemory();
    dir = tokenFolder(token);
    const first = await Pkcs11KeyManager.open(token.member({ operationTimeoutMs: 3000 }) as never, {
      store: store.keys,
    });
    const g = await governed(first, store);
    intactPem = (await g.km.createKey({ label: 'intact', type: 'ec-p256' })).publicKeyPem;
    assert.equal(await g.governor.checkpoint(), undefined); // audit key made before the fault
    const beforeVictim = objectFiles(dir);
    await g.km.createKey({ label: 'victim', type: 'ec-p256' });
    corruptedFiles = [...objectFiles(dir)].filter((f) => !beforeVictim.has(f));
    assert.equal(corruptedFiles.length, 2, 'the victim key pair is two object files');
    await first.close();
    for (const f of corruptedFiles) corrupt(join(dir, f));
  });

  after(async () => {
    await km?.close();
    await store?.close();
    token?.cleanup();
  });

  it('a corrupted key fails with a typed error; other keys keep signing on the same host; audit verifies', async () => {
    km = await Pkcs11KeyManager.open(token.member({ operationTimeoutMs: 3000 }) as never, {
      store: store.keys,
    });
    const g = await governed(km, store);
    const pids = km.member.hostPids;
    const data = Buffer.from('corrupted token');
    const victim = tally();
    const intact = tally();
    for (let i = 0; i < 10; i++) {
      await tallied(victim, () => g.km.sign({ key: 'victim', data }));
      const sig = await tallied(intact, () => g.km.sign({ key: 'intact', data }));
      if (sig) assert.ok(verify('sha256', data, intactPem, sig));
    }
    console.log(`corrupt key: victim ${JSON.stringify([...victim.failed])}, intact ok ${intact.ok}`);
    assert.equal(victim.ok, 0, 'a corrupted key must not sign');
    assert.deepEqual(victim.untyped, []);
    assert.equal(failures(victim), 10);
    assert.equal(intact.ok, 10, 'the intact key keeps signing');
    // SoftHSM skips objects it cannot read: the corrupted pair is gone as far as the token says
    // (HSM_ERR_KEY_NOT_FOUND), and the list shows only the intact key. Its metadata stays in the
    // store, which the compliance report flags as "metadata without a key".
    assert.deepEqual([...victim.failed.keys()], ['HSM_ERR_KEY_NOT_FOUND']);
    const labels = (await g.km.listKeys()).map((k) => k.label);
    assert.ok(labels.includes('intact') && !labels.includes('victim'), labels.join(','));
    assert.deepEqual(km.member.hostPids, pids, 'no host process crashed or was replaced');
    assert.equal(km.member.restarts, 0);
    await assertAuditAccounts(g, { 'key.sign': { ok: 10, error: 10 }, 'key.list': { ok: 1, error: 0 } });
    await km.close();
    km = undefined;
  });

  it('a corrupted token.object: opening fails in bounded time with HSM_ERR_TOKEN_NOT_PRESENT, no crash', async () => {
    corrupt(join(dir, 'token.object'));
    const started = performance.now();
    await assert.rejects(
      Pkcs11KeyManager.open(token.member({ operationTimeoutMs: 3000, startTimeoutMs: 5000 }) as never, {
        store: store.keys,
      }),
      (err: unknown) => {
        assert.ok(HsmError.is(err, 'HSM_ERR_TOKEN_NOT_PRESENT'), String(err));
        assert.ok((err as HsmError).message.includes(token.label), 'the error names the token');
        return true;
      },
    );
    assert.ok(performance.now() - started < 10_000);
  });
});
