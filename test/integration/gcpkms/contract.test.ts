/**
 * Contract tests of GcpKmsKeyManager against the local Cloud KMS fake (test/support/gcpkms-fake.ts).
 * Never run against Google Cloud: they prove the adapter speaks the REST surface as the fake
 * encodes it, and that signatures verify with OpenSSL.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { GcpKmsKeyManager } from '../../../src/adapters/gcpkms/index.js';
import { HsmError } from '../../../src/errors/index.js';
import { isKeyDeleter, isKeyLister, type KeyManager } from '../../../src/kms/key-manager.js';
import type { KeyType } from '../../../src/kms/key-spec.js';
import type { SignAlgorithm } from '../../../src/kms/sign-algorithm.js';
import { type Harness, KEY_RING, opensslVerify, opensslVerifyEd25519, startHarness } from './harness.js';

const MESSAGE = Buffer.from('hsmkit gcpkms contract test message');

function assertCode(err: unknown, code: string): true {
  assert.ok(err instanceof HsmError, `expected an HsmError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return true;
}

describe('GcpKmsKeyManager contract (local fake)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('states its capabilities: KeyManager, KeyLister, KeyDeleter', () => {
    const km: KeyManager = h.km satisfies KeyManager;
    assert.ok(isKeyLister(km));
    assert.ok(isKeyDeleter(km));
  });

  it('creates the key ring once and tolerates it existing', async () => {
    assert.equal(await h.km.createKeyRing(), KEY_RING);
    const sent = h.fake.requestsFor('createKeyRing');
    assert.equal(sent.length, 2);
    assert.equal(sent[0]!.path, '/v1/projects/hsmkit-test/locations/us-east1/keyRings');
    assert.equal(sent[0]!.query.keyRingId, 'ring-1');
  });

  it('creates keys with protection level HSM and purpose ASYMMETRIC_SIGN on the wire', async () => {
    const info = await h.km.createKey({ label: 'wire-check', type: 'ec-p384' });
    const req = h.fake.requestsFor('createCryptoKey').at(-1)!;
    assert.equal(req.path, `/v1/${KEY_RING}/cryptoKeys`);
    assert.equal(req.query.cryptoKeyId, 'wire-check');
    // Numeric enums, as the REST transport sends them: ASYMMETRIC_SIGN = 5, HSM = 2, EC_SIGN_P384_SHA384 = 13.
    assert.deepEqual(req.body, {
      labels: {},
      purpose: 5,
      versionTemplate: { protectionLevel: 2, algorithm: 13 },
    });
    assert.equal(info.uri, `gcpkms:${KEY_RING}/cryptoKeys/wire-check/cryptoKeyVersions/1`);
    assert.equal(info.type, 'ec-p384');
    assert.equal(info.attributes.extractable, false);
    assert.equal(info.attributes.neverExtractable, true);
  });

  const cases: Array<{
    type: KeyType;
    algorithm?: SignAlgorithm;
    hash: 'sha256' | 'sha384' | 'sha512';
    pss?: boolean;
  }> = [
    { type: 'ec-p256', hash: 'sha256' },
    { type: 'ec-p384', hash: 'sha384' },
    { type: 'rsa-2048', hash: 'sha256' },
    { type: 'rsa-2048', algorithm: { scheme: 'rsa-pss', hash: 'sha256' }, hash: 'sha256', pss: true },
    { type: 'rsa-3072', hash: 'sha256' },
    { type: 'rsa-4096', algorithm: { scheme: 'rsa-pkcs1', hash: 'sha512' }, hash: 'sha512' },
  ];
  for (const c of cases) {
    const name = `${c.type}${c.algorithm ? `-${c.algorithm.scheme}-${c.algorithm.hash}` : ''}`;
    it(`${name}: signs a digest with digestCrc32c; OpenSSL verifies with the returned public key`, async () => {
      const label = `k-${name}`;
      await h.km.createKey({ label, type: c.type, ...(c.algorithm ? { algorithm: c.algorithm } : {}) });
      const spki = await h.km.getPublicKey(label);
      const pem = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })
        .export({ type: 'spki', format: 'pem' })
        .toString();
      const info = await h.km.getKey(label);
      assert.equal(info.publicKeyPem, pem);
      const sig = await h.km.sign({ key: label, data: MESSAGE });
      const sent = h.fake.requestsFor('asymmetricSign').at(-1)!;
      assert.ok(sent.body?.digest && sent.body.digestCrc32c, 'digest and digestCrc32c are sent');
      assert.equal(opensslVerify(pem, MESSAGE, sig, c.hash, c.pss), true);
      assert.equal(opensslVerify(pem, Buffer.from('another message'), sig, c.hash, c.pss), false);
    });
  }

  it('ed25519: signs the message itself with dataCrc32c; OpenSSL verifies', async () => {
    const info = await h.km.createKey({ label: 'k-ed', type: 'ed25519' });
    const sig = await h.km.sign({ key: info.uri, data: MESSAGE });
    const sent = h.fake.requestsFor('asymmetricSign').at(-1)!;
    assert.equal(
      Object.keys(sent.body ?? {})
        .sort()
        .join(','),
      'data,dataCrc32c',
    );
    assert.equal(opensslVerifyEd25519(info.publicKeyPem, MESSAGE, sig), true);
  });

  it('ECDSA signatures come back DER, or raw r||s when asked', async () => {
    const der = await h.km.sign({ key: 'k-ec-p256', data: MESSAGE });
    assert.equal(der[0], 0x30);
    const raw = await h.km.sign({ key: 'k-ec-p256', data: MESSAGE, format: 'raw' });
    assert.equal(raw.length, 64);
  });

  it('signs a precomputed digest and refuses one of the wrong length', async () => {
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(MESSAGE).digest();
    const sig = await h.km.sign({ key: 'k-ec-p256', digest });
    const info = await h.km.getKey('k-ec-p256');
    assert.equal(opensslVerify(info.publicKeyPem, MESSAGE, sig, 'sha256'), true);
    const before = h.fake.hits('asymmetricSign');
    await assert.rejects(h.km.sign({ key: 'k-ec-p256', digest: digest.subarray(0, 20) }), (e) =>
      assertCode(e, 'HSM_ERR_DATA_INVALID'),
    );
    assert.equal(h.fake.hits('asymmetricSign'), before, 'refused before the wire');
  });

  it('refuses a signature algorithm the key is not bound to', async () => {
    await assert.rejects(
      h.km.sign({ key: 'k-rsa-2048', data: MESSAGE, algorithm: { scheme: 'rsa-pss', hash: 'sha256' } }),
      (e) => assertCode(e, 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED'),
    );
  });

  it('ML-DSA-65 maps to PQ_SIGN_ML_DSA_65, fetches a NIST_PQC public key and signs data (wire only)', async () => {
    const info = await h.km.createKey({ label: 'k-mldsa', type: 'ml-dsa-65' });
    assert.deepEqual(h.fake.requestsFor('createCryptoKey').at(-1)!.body?.versionTemplate, {
      protectionLevel: 2,
      algorithm: 56,
    });
    assert.equal(h.fake.requestsFor('getPublicKey').at(-1)!.query.publicKeyFormat, '3');
    assert.equal(info.type, 'ml-dsa-65');
    const sig = await h.km.sign({ key: 'k-mldsa', data: MESSAGE });
    // The fake's ML-DSA is a structural stand-in: only the FIPS 204 size can be checked here.
    assert.equal(sig.length, 3309);
    assert.equal(
      Object.keys(h.fake.requestsFor('asymmetricSign').at(-1)!.body ?? {})
        .sort()
        .join(','),
      'data,dataCrc32c',
    );
  });

  it('refuses key types Cloud KMS does not offer before anything is sent', async () => {
    const before = h.fake.hits('createCryptoKey');
    for (const type of ['ec-p521', 'rsa-8192', 'ed448', 'ml-kem-768'] as const) {
      await assert.rejects(h.km.createKey({ label: `no-${type}`, type }), (e) =>
        assertCode(e, 'HSM_ERR_MECHANISM_UNSUPPORTED'),
      );
    }
    assert.equal(h.fake.hits('createCryptoKey'), before);
  });

  it('refuses extractable keys and non-signing usage', async () => {
    await assert.rejects(
      h.km.createKey({ label: 'x1', type: 'ec-p256', protection: { extractable: true } }),
      (e) => assertCode(e, 'HSM_ERR_POLICY'),
    );
    await assert.rejects(h.km.createKey({ label: 'x2', type: 'rsa-2048', usage: { decrypt: true } }), (e) =>
      assertCode(e, 'HSM_ERR_MECHANISM_UNSUPPORTED'),
    );
  });

  it('maps ALREADY_EXISTS to HSM_ERR_KEY_EXISTS and NOT_FOUND to HSM_ERR_KEY_NOT_FOUND', async () => {
    await assert.rejects(h.km.createKey({ label: 'k-ec-p256', type: 'ec-p256' }), (e) =>
      assertCode(e, 'HSM_ERR_KEY_EXISTS'),
    );
    await assert.rejects(h.km.getKey('no-such-key'), (e) => assertCode(e, 'HSM_ERR_KEY_NOT_FOUND'));
    await assert.rejects(h.km.getKey(`gcpkms:${KEY_RING}/cryptoKeys/k-ec-p256/cryptoKeyVersions/9`), (e) =>
      assertCode(e, 'HSM_ERR_KEY_NOT_FOUND'),
    );
  });

  it('parses references: other key rings, other schemes and bad ids are refused with codes', async () => {
    await assert.rejects(
      h.km.getKey('gcpkms:projects/other/locations/us-east1/keyRings/ring-1/cryptoKeys/k'),
      (e) => assertCode(e, 'HSM_ERR_KEY_NOT_FOUND'),
    );
    await assert.rejects(h.km.getKey('pkcs11:object=k'), (e) => assertCode(e, 'HSM_ERR_INVALID_URI'));
    await assert.rejects(h.km.getKey(`gcpkms:${KEY_RING}/cryptoKeys/k/cryptoKeyVersions/0`), (e) =>
      assertCode(e, 'HSM_ERR_INVALID_URI'),
    );
    await assert.rejects(h.km.getKey('has space'), (e) => assertCode(e, 'HSM_ERR_INVALID_INPUT'));
  });

  it('never uses a SOFTWARE-protected key', async () => {
    h.fake.plantKey(KEY_RING, 'soft-key', 'EC_SIGN_P256_SHA256', 'SOFTWARE');
    const signs = h.fake.hits('asymmetricSign');
    await assert.rejects(h.km.sign({ key: 'soft-key', data: MESSAGE }), (e) =>
      assertCode(e, 'HSM_ERR_POLICY'),
    );
    assert.equal(h.fake.hits('asymmetricSign'), signs);
    const listed = await h.km.listKeys();
    assert.ok(!listed.some((k) => k.label === 'soft-key'));
  });

  it('lists the HSM signing keys across pages, sorted, with a label prefix filter', async () => {
    const all = await h.km.listKeys();
    assert.ok(all.length > h.fake.pageSize, 'more keys than one page');
    const labels = all.map((k) => k.label);
    assert.deepEqual(
      labels,
      [...labels].sort((a, b) => a.localeCompare(b)),
    );
    for (const l of ['k-ec-p256', 'k-ed', 'k-mldsa', 'wire-check']) assert.ok(labels.includes(l), l);
    const listCalls = h.fake.requestsFor('listCryptoKeys');
    assert.ok(
      listCalls.some((r) => r.query.pageToken !== undefined),
      'followed nextPageToken',
    );
    const rsa = await h.km.listKeys({ labelPrefix: 'k-rsa' });
    assert.ok(rsa.length >= 3 && rsa.every((k) => k.family === 'rsa'));
  });

  it('rotates by adding a version; unversioned references then sign with it', async () => {
    await h.km.createKey({ label: 'rotating', type: 'ec-p256' });
    const v2 = await h.km.rotateKey('rotating');
    assert.equal(v2.id, '2');
    assert.equal(
      h.fake.requestsFor('createCryptoKeyVersion').at(-1)!.path,
      `/v1/${KEY_RING}/cryptoKeys/rotating/cryptoKeyVersions`,
    );
    const sig = await h.km.sign({ key: 'rotating', data: MESSAGE });
    assert.equal(
      h.fake.requestsFor('asymmetricSign').at(-1)!.path,
      `/v1/${KEY_RING}/cryptoKeys/rotating/cryptoKeyVersions/2:asymmetricSign`,
    );
    assert.equal(opensslVerify(v2.publicKeyPem, MESSAGE, sig, 'sha256'), true);
    // A fresh manager (no cache) resolves the newest ENABLED version from the listing too.
    const other = new GcpKmsKeyManager({
      keyRing: KEY_RING,
      connection: { apiEndpoint: '127.0.0.1', port: h.fake.port, protocol: 'http', credentials: 'none' },
    });
    try {
      assert.equal((await other.getKey('rotating')).id, '2');
    } finally {
      await other.close();
    }
  });

  it('destroys one named version; the key signs on with the other; a destroyed version is refused', async () => {
    const v1 = `gcpkms:${KEY_RING}/cryptoKeys/rotating/cryptoKeyVersions/1`;
    const v2 = `gcpkms:${KEY_RING}/cryptoKeys/rotating/cryptoKeyVersions/2`;
    await h.km.deleteKey(v2);
    const sent = h.fake.requestsFor('destroyCryptoKeyVersion').at(-1)!;
    assert.equal(sent.path, `/v1/${KEY_RING}/cryptoKeys/rotating/cryptoKeyVersions/2:destroy`);
    assert.equal((await h.km.getKey('rotating')).id, '1');
    await assert.rejects(h.km.sign({ key: v2, data: MESSAGE }), (e) =>
      assertCode(e, 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED'),
    );
    await assert.rejects(h.km.deleteKey(v2), (e) => assertCode(e, 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED'));
    await assert.rejects(h.km.deleteKey('rotating'), (e) => assertCode(e, 'HSM_ERR_INVALID_INPUT'));
    assert.ok((await h.km.sign({ key: v1, data: MESSAGE })).length > 0);
  });
});
