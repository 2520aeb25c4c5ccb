/**
 * The fake's own strictness, checked with raw HTTP: the contract tests mean something only if the
 * fake refuses what Cloud KMS (or the HSM-only contract) refuses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GcpKmsFake } from '../../support/gcpkms-fake.js';

const RING = 'projects/p/locations/global/keyRings/r';

describe('Cloud KMS fake strictness', () => {
  let fake: GcpKmsFake;
  const post = (path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${fake.port}/v1/${path}`, { method: 'POST', body: JSON.stringify(body) });
  const errorStatus = async (res: Response) =>
    ((await res.json()) as { error: { status: string } }).error.status;

  before(async () => {
    fake = await GcpKmsFake.start();
    assert.equal((await post('projects/p/locations/global/keyRings?keyRingId=r', {})).status, 200);
    const ok = await post(`${RING}/cryptoKeys?cryptoKeyId=k`, {
      purpose: 'ASYMMETRIC_SIGN',
      versionTemplate: { protectionLevel: 'HSM', algorithm: 'EC_SIGN_P256_SHA256' },
    });
    assert.equal(ok.status, 200);
  });
  after(async () => {
    await fake.stop();
  });

  const refusals: Array<[string, string, unknown]> = [
    [
      'an unknown field',
      `${RING}/cryptoKeys?cryptoKeyId=a`,
      { purpose: 5, versionTemplate: { protectionLevel: 2, algorithm: 12 }, colour: 'red' },
    ],
    [
      'protection level SOFTWARE',
      `${RING}/cryptoKeys?cryptoKeyId=b`,
      { purpose: 5, versionTemplate: { protectionLevel: 1, algorithm: 12 } },
    ],
    [
      'protection level unset',
      `${RING}/cryptoKeys?cryptoKeyId=c`,
      { purpose: 5, versionTemplate: { algorithm: 12 } },
    ],
    [
      'rotation settings on an ASYMMETRIC_SIGN key',
      `${RING}/cryptoKeys?cryptoKeyId=d`,
      {
        purpose: 5,
        rotationPeriod: '86400s',
        nextRotationTime: '2030-01-01T00:00:00Z',
        versionTemplate: { protectionLevel: 2, algorithm: 12 },
      },
    ],
    [
      'a digest without digestCrc32c',
      `${RING}/cryptoKeys/k/cryptoKeyVersions/1:asymmetricSign`,
      { digest: { sha256: Buffer.alloc(32).toString('base64') } },
    ],
    [
      'a digest of the wrong hash',
      `${RING}/cryptoKeys/k/cryptoKeyVersions/1:asymmetricSign`,
      { digest: { sha384: Buffer.alloc(48).toString('base64') }, digestCrc32c: '0' },
    ],
    [
      'an unknown field in a sign request',
      `${RING}/cryptoKeys/k/cryptoKeyVersions/1:asymmetricSign`,
      { digest: { sha256: Buffer.alloc(32).toString('base64') }, digestCrc32c: String(0x8a9136aa), extra: 1 },
    ],
  ];
  for (const [what, path, body] of refusals) {
    it(`refuses ${what} with 400 INVALID_ARGUMENT`, async () => {
      const res = await post(path, body);
      assert.equal(res.status, 400);
      assert.equal(await errorStatus(res), 'INVALID_ARGUMENT');
    });
  }

  it('signs when the digest carries its CRC32C, and answers the integrity fields', async () => {
    const res = await post(`${RING}/cryptoKeys/k/cryptoKeyVersions/1:asymmetricSign`, {
      digest: { sha256: Buffer.alloc(32).toString('base64') },
      // CRC32C of 32 zero bytes, RFC 3720 B.4.
      digestCrc32c: String(0x8a9136aa),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.verifiedDigestCrc32c, true);
    assert.equal(typeof body.signatureCrc32c, 'string');
  });

  it('answers unknown routes and query parameters with errors, not guesses', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${fake.port}/v1/${RING}/importJobs`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${fake.port}/v1/${RING}/cryptoKeys?filter=x`)).status, 400);
  });

  it('counts quota faults as hits and answers 429 RESOURCE_EXHAUSTED', async () => {
    fake.injectQuotaExhausted(1, 'getCryptoKey');
    const res = await fetch(`http://127.0.0.1:${fake.port}/v1/${RING}/cryptoKeys/k`);
    assert.equal(res.status, 429);
    assert.equal(await errorStatus(res), 'RESOURCE_EXHAUSTED');
    assert.equal(fake.hits('getCryptoKey'), 1);
  });
});
