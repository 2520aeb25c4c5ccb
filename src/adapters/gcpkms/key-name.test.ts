import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../../errors/index.js';
import { keyUri, parseKeyRef, parseKeyRingPath } from './key-name.js';

const RING = parseKeyRingPath('projects/my-proj/locations/us-east1/keyRings/ca');
const PREFIX = 'gcpkms:projects/my-proj/locations/us-east1/keyRings/ca/cryptoKeys';

describe('parseKeyRef', () => {
  it('accepts a label, a key URI and a version URI, and round-trips them', () => {
    assert.deepEqual(parseKeyRef('root-2025', RING), { ...RING, cryptoKey: 'root-2025' });
    const key = parseKeyRef(`${PREFIX}/root`, RING);
    assert.equal(keyUri(key), `${PREFIX}/root`);
    const ver = parseKeyRef(`${PREFIX}/root/cryptoKeyVersions/12`, RING);
    assert.equal(ver.version, '12');
    assert.equal(keyUri(ver), `${PREFIX}/root/cryptoKeyVersions/12`);
  });

  const refusals: Array<[ref: unknown, code: string]> = [
    ['', 'HSM_ERR_INVALID_INPUT'],
    [42, 'HSM_ERR_INVALID_INPUT'],
    ['has space', 'HSM_ERR_INVALID_INPUT'],
    ['x'.repeat(64), 'HSM_ERR_INVALID_INPUT'],
    ['pkcs11:object=root', 'HSM_ERR_INVALID_URI'],
    [`${PREFIX}/root/cryptoKeyVersions/0`, 'HSM_ERR_INVALID_URI'],
    [`${PREFIX}/root/cryptoKeyVersions/v1`, 'HSM_ERR_INVALID_URI'],
    [`${PREFIX}/ro%2Fot`, 'HSM_ERR_INVALID_URI'],
    [`${PREFIX}/`, 'HSM_ERR_INVALID_URI'],
    ['gcpkms:projects/other/locations/us-east1/keyRings/ca/cryptoKeys/root', 'HSM_ERR_KEY_NOT_FOUND'],
  ];
  for (const [ref, code] of refusals) {
    it(`refuses ${JSON.stringify(ref).slice(0, 60)} with ${code}`, () => {
      assert.throws(
        () => parseKeyRef(ref, RING),
        (e) => HsmError.is(e, code as never),
      );
    });
  }

  it('refuses a malformed configured key ring with HSM_ERR_CONFIG', () => {
    assert.throws(
      () => parseKeyRingPath('projects/p/keyRings/r'),
      (e) => HsmError.is(e, 'HSM_ERR_CONFIG'),
    );
  });
});
