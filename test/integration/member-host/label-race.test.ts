/**
 * Two processes (two key managers, each with its own member host) generate the same label at the
 * same moment on one token. Exactly one key survives every round and the other caller gets
 * HSM_ERR_KEY_EXISTS: the post-generation check keeps the key with the smallest CKA_ID.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { HsmError } from '../../../src/errors/index.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';
import { listObjects } from '../../support/tools.js';

describe('label race across member hosts', () => {
  let token: SoftHsmToken;
  let a: Pkcs11KeyManager;
  let b: Pkcs11KeyManager;
  before(async () => {
    token = createSoftHsmToken();
    a = await Pkcs11KeyManager.open(token.member({ name: 'a' }));
    b = await Pkcs11KeyManager.open(token.member({ name: 'b' }));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    token?.cleanup();
  });

  it('exactly one key survives each round', async () => {
    for (let round = 0; round < 6; round++) {
      const label = `race-${round}`;
      const results = await Promise.allSettled([
        a.createKey({ label, type: 'ec-p256' }),
        b.createKey({ label, type: 'ec-p256' }),
      ]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(ok.length, 1, `round ${round}: one creation succeeds`);
      assert.equal(failed.length, 1);
      assert.ok(HsmError.is(failed[0]!.reason, 'HSM_ERR_KEY_EXISTS'), String(failed[0]!.reason));
      const onToken = listObjects(token, 'privkey').filter((o) => o.label === label);
      assert.equal(onToken.length, 1, `round ${round}: one private key on the token`);
      assert.equal(onToken[0]!.id, (ok[0] as PromiseFulfilledResult<{ id: string }>).value.id);
    }
  });
});
