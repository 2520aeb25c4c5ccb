import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { familyOfAlgorithm, messageFields } from './sign.js';

describe('remote signing helpers', () => {
  it('a fully named algorithm implies the key family; a bare hash or nothing does not', () => {
    const table: Array<[string | undefined, string | undefined]> = [
      ['ECDSA-SHA384', 'ec'],
      ['RSA-PSS-SHA256', 'rsa'],
      ['rsa_pkcs1_sha512', 'rsa'],
      ['pss', 'rsa'],
      ['EdDSA', 'eddsa'],
      ['ed25519', 'eddsa'],
      ['ML-DSA', 'ml-dsa'],
      ['sha384', undefined],
      [undefined, undefined],
      ['ecdsax', undefined],
    ];
    for (const [alg, family] of table) assert.equal(familyOfAlgorithm(alg), family, String(alg));
  });

  it('hash-and-sign schemes send the digest of the named hash; EdDSA sends the message', () => {
    const data = Buffer.from('hello');
    assert.deepEqual(messageFields({ scheme: 'ecdsa', hash: 'sha384' }, data), {
      digest: createHash('sha384').update(data).digest('base64'),
    });
    assert.deepEqual(messageFields({ scheme: 'rsa-pss' }, data), {
      digest: createHash('sha256').update(data).digest('base64'),
    });
    assert.deepEqual(messageFields({ scheme: 'eddsa' }, data), { data: data.toString('base64') });
  });
});
