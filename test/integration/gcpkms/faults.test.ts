/**
 * Fault handling of GcpKmsKeyManager against the local Cloud KMS fake: CRC32C mismatches, quota
 * exhaustion (RESOURCE_EXHAUSTED), PENDING_GENERATION, an unreachable endpoint. Error CODES are
 * asserted; the fake counts its hits so retries are visible.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GcpKmsKeyManager } from '../../../src/adapters/gcpkms/index.js';
import { HsmError } from '../../../src/errors/index.js';
import { type Harness, KEY_RING, startHarness } from './harness.js';

const MESSAGE = Buffer.from('fault test');

function assertCode(err: unknown, code: string): true {
  assert.ok(err instanceof HsmError, `expected an HsmError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return true;
}

describe('GcpKmsKeyManager faults (local fake)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      retry: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 400, multiplier: 2 },
      generationPoll: { maxPolls: 5, intervalMs: 50 },
    });
    await h.km.createKey({ label: 'ec', type: 'ec-p256' });
  });
  after(async () => {
    await h.close();
  });

  describe('CRC32C', () => {
    it('a corrupted signatureCrc32c is HSM_ERR_INTEGRITY (retryable) and no signature is returned', async () => {
      h.fake.injectCorruptSignatureCrc32c(1);
      await assert.rejects(h.km.sign({ key: 'ec', data: MESSAGE }), (e) => {
        assertCode(e, 'HSM_ERR_INTEGRITY');
        assert.equal((e as HsmError).retryable, true);
        return true;
      });
      assert.ok((await h.km.sign({ key: 'ec', data: MESSAGE })).length > 0, 'the next answer is fine');
    });

    it('verifiedDigestCrc32c false is HSM_ERR_INTEGRITY', async () => {
      h.fake.injectUnverifiedDigest(1);
      await assert.rejects(h.km.sign({ key: 'ec', data: MESSAGE }), (e) =>
        assertCode(e, 'HSM_ERR_INTEGRITY'),
      );
    });

    it('a public key PEM that fails its pemCrc32c is HSM_ERR_INTEGRITY and is not cached', async () => {
      await h.km.createKey({ label: 'pem-check', type: 'ec-p256' });
      const fresh = new GcpKmsKeyManager({
        keyRing: KEY_RING,
        connection: { apiEndpoint: '127.0.0.1', port: h.fake.port, protocol: 'http', credentials: 'none' },
      });
      try {
        h.fake.injectCorruptPublicKeyPem(1);
        await assert.rejects(fresh.getPublicKey('pem-check'), (e) => assertCode(e, 'HSM_ERR_INTEGRITY'));
        assert.ok((await fresh.getPublicKey('pem-check')).length > 0);
      } finally {
        await fresh.close();
      }
    });

    it('the fake itself refuses a digest whose digestCrc32c does not match (INVALID_ARGUMENT)', async () => {
      const res = await fetch(
        `http://127.0.0.1:${h.fake.port}/v1/${KEY_RING}/cryptoKeys/ec/cryptoKeyVersions/1:asymmetricSign`,
        {
          method: 'POST',
          body: JSON.stringify({
            digest: { sha256: Buffer.alloc(32, 7).toString('base64') },
            digestCrc32c: '1',
          }),
        },
      );
      assert.equal(res.status, 400);
    });
  });

  describe('quota (RESOURCE_EXHAUSTED)', () => {
    it('is retried with backoff, then succeeds; the fake counts every attempt', async () => {
      const before = h.fake.hits('asymmetricSign');
      h.sleeps.length = 0;
      h.fake.injectQuotaExhausted(2, 'asymmetricSign');
      assert.ok((await h.km.sign({ key: 'ec', data: MESSAGE })).length > 0);
      assert.equal(h.fake.hits('asymmetricSign') - before, 3);
      assert.equal(h.sleeps.length, 2);
      // Full jitter under a growing ceiling: 0 ≤ delay < 100·2^n.
      assert.ok(h.sleeps[0]! >= 0 && h.sleeps[0]! < 100);
      assert.ok(h.sleeps[1]! >= 0 && h.sleeps[1]! < 200);
    });

    it('is retried for non-idempotent calls too (create), since a refused call did nothing', async () => {
      const before = h.fake.hits('createCryptoKey');
      h.fake.injectQuotaExhausted(1, 'createCryptoKey');
      await h.km.createKey({ label: 'after-quota', type: 'ec-p256' });
      assert.equal(h.fake.hits('createCryptoKey') - before, 2);
    });

    it('forever: gives up after maxAttempts with HSM_ERR_UNAVAILABLE, retryable, naming the quota', async () => {
      const before = h.fake.hits('asymmetricSign');
      h.fake.injectQuotaExhausted(Number.POSITIVE_INFINITY, 'asymmetricSign');
      try {
        await assert.rejects(h.km.sign({ key: 'ec', data: MESSAGE }), (e) => {
          assertCode(e, 'HSM_ERR_UNAVAILABLE');
          const err = e as HsmError;
          assert.equal(err.retryable, true);
          assert.deepEqual(err.details, { attempts: 4, grpcStatus: 8, grpcStatusName: 'RESOURCE_EXHAUSTED' });
          assert.match(err.message, /quota/);
          return true;
        });
        assert.equal(h.fake.hits('asymmetricSign') - before, 4);
      } finally {
        h.fake.injectQuotaExhausted(0);
      }
    });
  });

  describe('PENDING_GENERATION', () => {
    it('a new key is polled until ENABLED, then used', async () => {
      h.fake.injectPendingGeneration(3);
      try {
        const before = h.fake.hits('getCryptoKeyVersion');
        h.sleeps.length = 0;
        const info = await h.km.createKey({ label: 'slow', type: 'rsa-2048' });
        assert.equal(info.id, '1');
        assert.equal(h.fake.hits('getCryptoKeyVersion') - before, 4, 'three pending reads, then ENABLED');
        assert.deepEqual(h.sleeps, [50, 50, 50]);
        assert.ok((await h.km.sign({ key: 'slow', data: MESSAGE })).length > 0);
      } finally {
        h.fake.injectPendingGeneration(0);
      }
    });

    it('a rotation is polled the same way', async () => {
      h.fake.injectPendingGeneration(2);
      try {
        assert.equal((await h.km.rotateKey('slow')).id, '2');
      } finally {
        h.fake.injectPendingGeneration(0);
      }
    });

    it('beyond the bound: HSM_ERR_TIMEOUT (retryable)', async () => {
      h.fake.injectPendingGeneration(50);
      try {
        await assert.rejects(h.km.createKey({ label: 'very-slow', type: 'ec-p256' }), (e) => {
          assertCode(e, 'HSM_ERR_TIMEOUT');
          assert.equal((e as HsmError).retryable, true);
          return true;
        });
      } finally {
        h.fake.injectPendingGeneration(0);
      }
    });
  });

  describe('transport', () => {
    it('an endpoint that refuses connections is HSM_ERR_UNAVAILABLE after the retries', async () => {
      const port = await closedPort();
      const km = new GcpKmsKeyManager({
        keyRing: KEY_RING,
        connection: { apiEndpoint: '127.0.0.1', port, protocol: 'http', credentials: 'none' },
        retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
      });
      try {
        await assert.rejects(km.getKey('ec'), (e) => assertCode(e, 'HSM_ERR_UNAVAILABLE'));
      } finally {
        await km.close();
      }
    });

    it('plain HTTP and no credentials are refused for a non-loopback endpoint', () => {
      assert.throws(
        () =>
          new GcpKmsKeyManager({
            keyRing: KEY_RING,
            connection: { apiEndpoint: 'cloudkms.googleapis.com', protocol: 'http', credentials: 'none' },
          }),
        (e) => assertCode(e, 'HSM_ERR_CONFIG'),
      );
    });
  });
});

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
