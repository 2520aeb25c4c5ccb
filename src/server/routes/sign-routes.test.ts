import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { HsmError } from '../../errors/index.js';
import type { GovernedKeyManager } from '../../governance/governed-key-manager.js';
import type { SignRequest } from '../../kms/requests.js';
import { signEach } from '../../kms/sign-each.js';
import { registerSignRoutes } from './sign-routes.js';

/** A narrow fake of the governed key manager: signs 'good', refuses 'missing', breaks on 'bug'. */
const fake = {
  signBatch: (reqs: SignRequest[]) =>
    signEach(reqs, async (r) => {
      if (r.key === 'missing') throw new HsmError('HSM_ERR_KEY_NOT_FOUND', 'no private key matches missing');
      if (r.key === 'bug') throw new TypeError('secret internals: cannot read x of undefined');
      return Uint8Array.of(1, 2, 3);
    }),
} as unknown as GovernedKeyManager;

describe('POST /v1/sign/batch results', () => {
  it('passes HsmErrors through and masks any other error as an internal error without its text', async () => {
    const app = Fastify();
    registerSignRoutes(app, () => fake, 10);
    const digest = Buffer.alloc(32).toString('base64');
    const res = await app.inject({
      method: 'POST',
      url: '/v1/sign/batch',
      payload: { items: ['good', 'missing', 'bug'].map((key) => ({ key, digest })) },
    });
    assert.equal(res.statusCode, 200, res.body);
    const { results } = res.json() as {
      results: Array<{
        index: number;
        ok: boolean;
        signature?: string;
        error?: { code: string; detail: string };
      }>;
    };
    assert.deepEqual(
      results.map((r) => [r.index, r.ok, r.error?.code]),
      [
        [0, true, undefined],
        [1, false, 'HSM_ERR_KEY_NOT_FOUND'],
        [2, false, 'HSM_ERR_INTERNAL'],
      ],
    );
    assert.equal(results[0]!.signature, 'AQID');
    assert.equal(results[2]!.error!.detail, 'internal error');
    assert.doesNotMatch(res.body, /secret internals/);
    await app.close();
  });
});
