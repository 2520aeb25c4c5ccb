/**
 * Shamir split/reconstruct of ceremony secrets: every 2 ≤ M ≤ N ≤ 10 round-trips with each share
 * encrypted to one custodian key; fewer than M shares reveal nothing (the library's guarantee,
 * checked statistically); buffers are zeroed after use; tampering is caught.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { combine, split } from 'shamir-secret-sharing';
import { keyFingerprint } from '../../../src/ceremony/approval.js';
import {
  type ShareBundle,
  splitSecret,
  withReconstructedSecret,
} from '../../../src/ceremony/secret-sharing.js';
import { openShare, type ShareDecrypter } from '../../../src/ceremony/share-envelope.js';
import { HsmError } from '../../../src/errors/index.js';

/**
 * Custodian key pairs in software: the encryption layer is under test here, not the token. (The
 * custodians' tokens cannot decrypt through hsmkit yet; see docs/ceremonies.md.)
 */
const KEYS: Array<{ publicKey: KeyObject; privateKey: KeyObject }> = Array.from({ length: 10 }, (_, i) =>
  i === 3
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: i === 5 ? 'secp384r1' : 'prime256v1' }),
);

const recipients = (n: number) =>
  KEYS.slice(0, n).map((k, i) => ({
    custodian: `c${i}`,
    publicKeyPem: k.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }));

/** A test double for the custodian side: opens the envelope with a software private key. */
function decrypter(i: number): ShareDecrypter {
  const k = KEYS[i]!;
  return {
    fingerprint: keyFingerprint(k.publicKey.export({ type: 'spki', format: 'der' })),
    decrypt: async (e, aad) => openShare(k.privateKey, e, aad),
  };
}

function pick(n: number, m: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i).sort(() => Math.random() - 0.5);
  return all.slice(0, m);
}

/** Pearson chi-square of byte counts against the uniform distribution (255 degrees of freedom). */
function chiSquare(bytes: Uint8Array): number {
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b]!++;
  const expected = bytes.length / 256;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}
/** chi-square(255) at p = 0.0001: a uniform source exceeds it once in 10 000 runs. */
const CHI_LIMIT = 347;

describe('secret sharing', () => {
  it('round-trips every M ≤ N ≤ 10 with encrypted shares', async () => {
    const where = { ceremonyId: 'rt', name: 'kek' };
    for (let n = 2; n <= 10; n++) {
      for (let m = 2; m <= n; m++) {
        const secret = randomBytes(32);
        const bundle = await splitSecret(secret, m, recipients(n), where);
        assert.equal(bundle.shares.length, n);
        const got = await withReconstructedSecret(
          bundle,
          pick(n, m).map(decrypter),
          async (s) => Buffer.from(s), // a copy: the original is wiped on return
        );
        assert.ok(got.equals(secret), `M=${m} N=${n}`);
        await assert.rejects(
          withReconstructedSecret(bundle, pick(n, m - 1).map(decrypter), async () => 0),
          (e: unknown) => HsmError.is(e, 'HSM_ERR_SHARE_INVALID'),
        );
      }
    }
  });

  it('refuses M = 1 and N > 10', async () => {
    for (const [m, n] of [
      [1, 3],
      [3, 11],
      [4, 3],
    ] as const) {
      await assert.rejects(
        splitSecret(randomBytes(32), m, recipients(Math.min(n, 10)).concat(n > 10 ? recipients(1) : []), {
          ceremonyId: 'x',
          name: 'y',
        }),
        (e: unknown) => HsmError.is(e, 'HSM_ERR_INVALID_INPUT'),
      );
    }
  });

  it('zeroes the shares and the secret after use, also on failure', async () => {
    const bundle = await splitSecret(randomBytes(32), 3, recipients(5), { ceremonyId: 'z', name: 'kek' });
    const wiped: Uint8Array[] = [];
    let seen: Uint8Array | undefined;
    await withReconstructedSecret(
      bundle,
      [0, 2, 4].map(decrypter),
      async (s) => {
        seen = s;
        assert.ok(s.some((b) => b !== 0));
      },
      (b) => wiped.push(b),
    );
    assert.equal(wiped.length, 4, 'three shares and the secret');
    for (const b of wiped) assert.ok(b.every((x) => x === 0));
    assert.ok(
      seen!.every((x) => x === 0),
      'the secret handed out is zeroed afterwards',
    );
    const failed: Uint8Array[] = [];
    await assert.rejects(
      withReconstructedSecret(
        bundle,
        [0, 1, 2].map(decrypter),
        async () => {
          throw new Error('use failed');
        },
        (b) => failed.push(b),
      ),
      /use failed/,
    );
    assert.equal(failed.length, 4);
    for (const b of failed) assert.ok(b.every((x) => x === 0));
  });

  it('catches altered shares and swapped envelopes', async () => {
    const bundle = await splitSecret(randomBytes(32), 2, recipients(3), { ceremonyId: 't', name: 'kek' });
    const altered: ShareBundle = structuredClone(bundle);
    const ct = Buffer.from(altered.shares[0]!.envelope.ct, 'base64');
    ct[0]! ^= 1;
    altered.shares[0]!.envelope.ct = ct.toString('base64');
    await assert.rejects(
      withReconstructedSecret(altered, [0, 1].map(decrypter), async () => 0),
      (e: unknown) => HsmError.is(e, 'HSM_ERR_SHARE_INVALID'),
    );
    // Another ceremony's bundle name: the AAD differs, so the envelope does not open.
    const renamed: ShareBundle = { ...structuredClone(bundle), name: 'other' };
    await assert.rejects(
      withReconstructedSecret(renamed, [0, 1].map(decrypter), async () => 0),
      (e: unknown) => HsmError.is(e, 'HSM_ERR_SHARE_INVALID'),
    );
  });

  it('fewer than M shares reveal nothing (library guarantee, statistical check)', async () => {
    // Shares of an all-zero and an all-0xff secret: with M-1 shares, each share byte is uniform
    // whatever the secret, and combining M-1 shares gives uniform noise, not the secret.
    for (const fill of [0x00, 0xff]) {
      const secret = new Uint8Array(8192).fill(fill);
      const shares = await split(secret, 5, 3);
      for (const s of shares.slice(0, 2))
        assert.ok(chiSquare(s.subarray(0, 8192)) < CHI_LIMIT, 'share bytes uniform');
      const wrong = await combine(shares.slice(0, 2));
      assert.ok(chiSquare(wrong) < CHI_LIMIT, 'combining M-1 shares gives uniform bytes');
      const hits = wrong.filter((b) => b === fill).length;
      // A uniform byte equals the secret's 1/256 of the time: 32 expected, far from 8192.
      assert.ok(hits < 80, `${hits} bytes of the secret leaked`);
    }
  });
});
