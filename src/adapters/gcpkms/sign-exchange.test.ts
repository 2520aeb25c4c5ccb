import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../../errors/index.js';
import { gcpAlgorithmFor } from './algorithms.js';
import { crc32c } from './crc32c.js';
import type { KmsSignResponse } from './kms-client.js';
import { buildSignRequest, checkSignResponse } from './sign-exchange.js';

const NAME = 'projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1';
const SIG = Uint8Array.from([1, 2, 3, 4]);
const ok = (over: Partial<KmsSignResponse> = {}): KmsSignResponse => ({
  name: NAME,
  signature: SIG,
  signatureCrc32c: crc32c(SIG),
  verifiedDigestCrc32c: true,
  verifiedDataCrc32c: false,
  protectionLevel: 'HSM',
  ...over,
});

describe('sign exchange', () => {
  const ec384 = gcpAlgorithmFor('ec-p384');
  const sent = buildSignRequest(NAME, ec384, { key: 'k', data: Buffer.from('m') });

  it('hashes data with the key’s hash and sends the digest CRC32C', () => {
    const d = (sent.digest as { sha384: Uint8Array }).sha384;
    assert.equal(d.length, 48);
    assert.equal(sent.digestCrc32c, crc32c(d));
    assert.equal(sent.data, undefined);
  });

  it('sends data and its CRC32C for ML-DSA and Ed25519', () => {
    const r = buildSignRequest(NAME, gcpAlgorithmFor('ml-dsa-65'), { key: 'k', data: Buffer.from('m') });
    assert.equal(r.dataCrc32c, crc32c(Buffer.from('m')));
    assert.throws(
      () => buildSignRequest(NAME, gcpAlgorithmFor('ed25519'), { key: 'k', digest: new Uint8Array(32) }),
      (e) => HsmError.is(e, 'HSM_ERR_INVALID_INPUT'),
    );
  });

  it('accepts a consistent answer', () => {
    assert.deepEqual(checkSignResponse(sent, ok()), SIG);
  });

  const bad: Array<[string, Partial<KmsSignResponse>, string]> = [
    ['a wrong signatureCrc32c', { signatureCrc32c: crc32c(SIG) ^ 1 }, 'HSM_ERR_INTEGRITY'],
    ['no signatureCrc32c', { signatureCrc32c: undefined }, 'HSM_ERR_INTEGRITY'],
    ['verifiedDigestCrc32c false', { verifiedDigestCrc32c: false }, 'HSM_ERR_INTEGRITY'],
    ['another version name', { name: `${NAME}0` }, 'HSM_ERR_INTEGRITY'],
    ['SOFTWARE protection', { protectionLevel: 'SOFTWARE' }, 'HSM_ERR_POLICY'],
  ];
  for (const [what, over, code] of bad) {
    it(`refuses an answer with ${what}: ${code}`, () => {
      assert.throws(
        () => checkSignResponse(sent, ok(over)),
        (e) => HsmError.is(e, code as never),
      );
    });
  }
});
