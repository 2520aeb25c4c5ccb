import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../../errors/index.js';
import { KEY_TYPES } from '../../kms/key-spec.js';
import { GCP_ALGORITHMS, gcpAlgorithmFor } from './algorithms.js';
import { isKnownAlgorithm } from './kms-client.js';

describe('GCP_ALGORITHMS', () => {
  it('names only algorithms the installed @google-cloud/kms defines (ML-DSA included)', () => {
    for (const a of GCP_ALGORITHMS) assert.ok(isKnownAlgorithm(a.name), a.name);
  });

  it('maps each key type to its default algorithm', () => {
    const defaults = Object.fromEntries(
      KEY_TYPES.flatMap((t) => {
        try {
          return [[t, gcpAlgorithmFor(t).name]];
        } catch (e) {
          assert.ok(HsmError.is(e, 'HSM_ERR_MECHANISM_UNSUPPORTED'), t);
          return [];
        }
      }),
    );
    assert.deepEqual(defaults, {
      'rsa-2048': 'RSA_SIGN_PKCS1_2048_SHA256',
      'rsa-3072': 'RSA_SIGN_PKCS1_3072_SHA256',
      'rsa-4096': 'RSA_SIGN_PKCS1_4096_SHA256',
      'ec-p256': 'EC_SIGN_P256_SHA256',
      'ec-p384': 'EC_SIGN_P384_SHA384',
      ed25519: 'EC_SIGN_ED25519',
      'ml-dsa-44': 'PQ_SIGN_ML_DSA_44',
      'ml-dsa-65': 'PQ_SIGN_ML_DSA_65',
      'ml-dsa-87': 'PQ_SIGN_ML_DSA_87',
    });
  });

  it('picks PSS and SHA-512 variants when asked, and refuses pairs Cloud KMS lacks', () => {
    assert.equal(
      gcpAlgorithmFor('rsa-3072', { scheme: 'rsa-pss', hash: 'sha256' }).name,
      'RSA_SIGN_PSS_3072_SHA256',
    );
    assert.equal(
      gcpAlgorithmFor('rsa-4096', { scheme: 'rsa-pss', hash: 'sha512' }).name,
      'RSA_SIGN_PSS_4096_SHA512',
    );
    assert.throws(
      () => gcpAlgorithmFor('rsa-2048', { scheme: 'rsa-pkcs1', hash: 'sha512' }),
      (e) => HsmError.is(e, 'HSM_ERR_MECHANISM_UNSUPPORTED'),
    );
    assert.throws(
      () => gcpAlgorithmFor('ec-p256', { scheme: 'ecdsa', hash: 'sha384' }),
      (e) => HsmError.is(e, 'HSM_ERR_MECHANISM_UNSUPPORTED'),
    );
  });
});
