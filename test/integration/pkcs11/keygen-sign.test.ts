/**
 * Generates every classical key type hsmkit supports on a real SoftHSM2 token, signs with it, and
 * checks each signature with OpenSSL (a verifier hsmkit did not write). Each check is paired with a
 * tampered input that must fail, so the checks can fail.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as nodeVerify, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import type { KeyInfo } from '../../../src/kms/key-info.js';
import type { KeyType } from '../../../src/kms/key-spec.js';
import type { SignHash } from '../../../src/kms/sign-algorithm.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';
import { openssl } from '../../support/tools.js';

const RSA_TYPES = ['rsa-2048', 'rsa-3072', 'rsa-4096', 'rsa-8192'] as const;
const EC_TYPES = ['ec-p256', 'ec-p384', 'ec-p521'] as const;
const ED_TYPES = ['ed25519', 'ed448'] as const;
const HASHES: SignHash[] = ['sha256', 'sha384', 'sha512'];

/** What `openssl pkey -text` prints first for each type, and the EC field sizes. */
const EXPECTED_TEXT: Record<string, RegExp> = {
  'rsa-2048': /Public-Key: \(2048 bit\)/,
  'rsa-3072': /Public-Key: \(3072 bit\)/,
  'rsa-4096': /Public-Key: \(4096 bit\)/,
  'rsa-8192': /Public-Key: \(8192 bit\)/,
  'ec-p256': /NIST CURVE: P-256/,
  'ec-p384': /NIST CURVE: P-384/,
  'ec-p521': /NIST CURVE: P-521/,
  ed25519: /ED25519 Public-Key/,
  ed448: /ED448 Public-Key/,
};
const FIELD_BYTES: Record<string, number> = { 'ec-p256': 32, 'ec-p384': 48, 'ec-p521': 66 };

let tok: SoftHsmToken;
let km: Pkcs11KeyManager;
let dir: string;
let fileNo = 0;
const keys = new Map<KeyType, KeyInfo>();

/** Writes bytes to a fresh file in the temp dir and returns its path. */
function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, `${fileNo++}-${name}`);
  writeFileSync(p, bytes);
  return p;
}

/** Writes the key's SPKI (from getPublicKey, DER) as PEM, and checks it equals KeyInfo.publicKeyPem. */
async function publicPem(type: KeyType): Promise<string> {
  const info = keys.get(type)!;
  const der = await km.getPublicKey(info.label);
  const pem = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' })
    .export({ format: 'pem', type: 'spki' })
    .toString();
  assert.equal(pem.trim(), info.publicKeyPem.trim(), 'getPublicKey and KeyInfo.publicKeyPem differ');
  return file('pub.pem', pem);
}

/** openssl dgst -verify; returns the exit status. */
function dgstVerify(pub: string, hash: SignHash, msg: string, sig: string, pss = false): number | null {
  const args = ['dgst', `-${hash}`, '-verify', pub, '-signature', sig];
  if (pss) args.push('-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest');
  args.push(msg);
  return openssl(args).status;
}

/** openssl pkeyutl -verify -rawin (EdDSA); returns the exit status. */
function rawinVerify(pub: string, msg: string, sig: string): number | null {
  return openssl(['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', msg, '-sigfile', sig])
    .status;
}

/** A copy of `msg` with one bit flipped. */
function tampered(msg: Uint8Array): Buffer {
  const t = Buffer.from(msg);
  t[t.length >> 1]! ^= 0x01;
  return t;
}

/** DER INTEGER of an unsigned big-endian value. */
function derInt(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let v = Buffer.from(bytes.subarray(i));
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02]), derLen(v.length), v]);
}

function derLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

/** ECDSA r‖s → DER SEQUENCE { r INTEGER, s INTEGER } (written here, not taken from hsmkit). */
function rawToDer(raw: Uint8Array): Buffer {
  assert.equal(raw.length % 2, 0);
  const half = raw.length / 2;
  const body = Buffer.concat([derInt(raw.subarray(0, half)), derInt(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLen(body.length), body]);
}

before(async () => {
  tok = createSoftHsmToken();
  dir = mkdtempSync(join(tmpdir(), 'hsmkit-keygen-sign-'));
  km = await Pkcs11KeyManager.open(tok.member({ keygenTimeoutMs: 120_000 }));
});

after(async () => {
  await km?.close();
  tok?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

for (const type of [...RSA_TYPES, ...EC_TYPES, ...ED_TYPES]) {
  describe(`${type}`, () => {
    it('generates a key whose public key OpenSSL reads as the right type', async () => {
      const info = await km.createKey({ label: `ks-${type}`, type });
      keys.set(type, info);
      assert.equal(info.type, type);
      assert.equal(info.label, `ks-${type}`);
      const pub = await publicPem(type);
      const r = openssl(['pkey', '-pubin', '-in', pub, '-noout', '-text']);
      assert.equal(r.status, 0);
      assert.match(r.stdout, EXPECTED_TEXT[type]!);
    });

    it('signs with the default algorithm; OpenSSL verifies; a tampered message fails', async () => {
      const label = keys.get(type)!.label;
      const msg = Buffer.from(`hsmkit keygen-sign ${type} ${randomBytes(8).toString('hex')}`);
      const sig = await km.sign({ key: label, data: msg });
      const pub = await publicPem(type);
      const msgFile = file('msg', msg);
      const badFile = file('msg.bad', tampered(msg));
      const sigFile = file('sig', sig);
      if (type.startsWith('ed')) {
        assert.equal(sig.length, type === 'ed25519' ? 64 : 114);
        assert.equal(rawinVerify(pub, msgFile, sigFile), 0, 'openssl rejected a good EdDSA signature');
        assert.notEqual(rawinVerify(pub, badFile, sigFile), 0, 'openssl accepted a tampered message');
      } else {
        assert.equal(dgstVerify(pub, 'sha256', msgFile, sigFile), 0, 'openssl rejected a good signature');
        assert.notEqual(
          dgstVerify(pub, 'sha256', badFile, sigFile),
          0,
          'openssl accepted a tampered message',
        );
      }
      assert.equal(await km.verify({ key: label, data: msg, signature: sig }), true);
      assert.equal(await km.verify({ key: label, data: tampered(msg), signature: sig }), false);
    });

    if ((RSA_TYPES as readonly string[]).includes(type)) {
      for (const hash of HASHES) {
        it(`RSA PKCS#1 v1.5 with ${hash} verifies with openssl dgst`, async () => {
          const label = keys.get(type)!.label;
          const msg = randomBytes(1000);
          const sig = await km.sign({ key: label, data: msg, algorithm: { scheme: 'rsa-pkcs1', hash } });
          const pub = await publicPem(type);
          const sigFile = file('sig', sig);
          assert.equal(dgstVerify(pub, hash, file('msg', msg), sigFile), 0);
          assert.notEqual(dgstVerify(pub, hash, file('msg.bad', tampered(msg)), sigFile), 0);
        });

        it(`RSA-PSS with ${hash} (salt = digest length) verifies with openssl dgst`, async () => {
          const label = keys.get(type)!.label;
          const msg = randomBytes(1000);
          const algorithm = { scheme: 'rsa-pss', hash } as const;
          const sig = await km.sign({ key: label, data: msg, algorithm });
          const pub = await publicPem(type);
          const sigFile = file('sig', sig);
          assert.equal(dgstVerify(pub, hash, file('msg', msg), sigFile, true), 0);
          assert.notEqual(dgstVerify(pub, hash, file('msg.bad', tampered(msg)), sigFile, true), 0);
          // PSS is randomised: a second signature differs and verifies too.
          const sig2 = await km.sign({ key: label, data: msg, algorithm });
          assert.notDeepEqual(Buffer.from(sig2), Buffer.from(sig));
          assert.equal(dgstVerify(pub, hash, file('msg', msg), file('sig', sig2), true), 0);
          assert.equal(await km.verify({ key: label, data: msg, signature: sig, algorithm }), true);
        });
      }

      it('signs a precomputed digest (PKCS#1 and PSS) that verifies against the message', async () => {
        const label = keys.get(type)!.label;
        const msg = randomBytes(4096);
        const pub = await publicPem(type);
        const msgFile = file('msg', msg);
        for (const hash of HASHES) {
          const digest = createHash(hash).update(msg).digest();
          const pkcs1 = await km.sign({ key: label, digest, algorithm: { scheme: 'rsa-pkcs1', hash } });
          assert.equal(dgstVerify(pub, hash, msgFile, file('sig', pkcs1)), 0, `pkcs1 digest ${hash}`);
          const pss = await km.sign({ key: label, digest, algorithm: { scheme: 'rsa-pss', hash } });
          assert.equal(dgstVerify(pub, hash, msgFile, file('sig', pss), true), 0, `pss digest ${hash}`);
        }
        // PKCS#1 v1.5 is deterministic: digest and message paths give the same signature.
        const viaData = await km.sign({ key: label, data: msg });
        const viaDigest = await km.sign({ key: label, digest: createHash('sha256').update(msg).digest() });
        assert.deepEqual(Buffer.from(viaDigest), Buffer.from(viaData));
      });

      it('signs a 1 MiB message (software hash + CKM_RSA_PKCS + DigestInfo); OpenSSL verifies', async () => {
        const label = keys.get(type)!.label;
        const msg = randomBytes(1024 * 1024);
        const pub = await publicPem(type);
        const msgFile = file('big', msg);
        const badFile = file('big.bad', tampered(msg));
        for (const hash of HASHES) {
          const sig = await km.sign({ key: label, data: msg, algorithm: { scheme: 'rsa-pkcs1', hash } });
          const sigFile = file('sig', sig);
          assert.equal(dgstVerify(pub, hash, msgFile, sigFile), 0, `1 MiB pkcs1 ${hash}`);
          assert.notEqual(dgstVerify(pub, hash, badFile, sigFile), 0, `1 MiB pkcs1 ${hash} tampered`);
        }
        const pss = await km.sign({
          key: label,
          data: msg,
          algorithm: { scheme: 'rsa-pss', hash: 'sha256' },
        });
        assert.equal(dgstVerify(pub, 'sha256', msgFile, file('sig', pss), true), 0, '1 MiB pss');
        // PKCS#1 v1.5 is deterministic: the software-hash path and the digest path give the same bytes.
        const viaDigest = await km.sign({ key: label, digest: createHash('sha256').update(msg).digest() });
        const viaData = await km.sign({ key: label, data: msg });
        assert.deepEqual(Buffer.from(viaData), Buffer.from(viaDigest));
      });
    }

    if ((EC_TYPES as readonly string[]).includes(type)) {
      for (const hash of HASHES) {
        it(`ECDSA with ${hash} (DER) verifies with openssl dgst`, async () => {
          const label = keys.get(type)!.label;
          const msg = randomBytes(777);
          const sig = await km.sign({ key: label, data: msg, algorithm: { scheme: 'ecdsa', hash } });
          assert.equal(sig[0], 0x30, 'DER signature starts with SEQUENCE');
          const pub = await publicPem(type);
          const sigFile = file('sig', sig);
          assert.equal(dgstVerify(pub, hash, file('msg', msg), sigFile), 0);
          assert.notEqual(dgstVerify(pub, hash, file('msg.bad', tampered(msg)), sigFile), 0);
        });

        it(`ECDSA with ${hash}, format raw: 2×field bytes; verifies via km, node (ieee-p1363) and OpenSSL`, async () => {
          const label = keys.get(type)!.label;
          const msg = randomBytes(333);
          const algorithm = { scheme: 'ecdsa', hash } as const;
          const raw = await km.sign({ key: label, data: msg, algorithm, format: 'raw' });
          assert.equal(raw.length, 2 * FIELD_BYTES[type]!);
          assert.equal(
            await km.verify({ key: label, data: msg, signature: raw, algorithm, format: 'raw' }),
            true,
          );
          assert.equal(
            await km.verify({ key: label, data: tampered(msg), signature: raw, algorithm, format: 'raw' }),
            false,
          );
          const pubKey = createPublicKey(keys.get(type)!.publicKeyPem);
          assert.equal(nodeVerify(hash, msg, { key: pubKey, dsaEncoding: 'ieee-p1363' }, raw), true);
          assert.equal(
            nodeVerify(hash, tampered(msg), { key: pubKey, dsaEncoding: 'ieee-p1363' }, raw),
            false,
          );
          const pub = await publicPem(type);
          const derFile = file('sig', rawToDer(raw));
          assert.equal(dgstVerify(pub, hash, file('msg', msg), derFile), 0);
          assert.notEqual(dgstVerify(pub, hash, file('msg.bad', tampered(msg)), derFile), 0);
        });
      }

      it('signs a precomputed digest that verifies against the message', async () => {
        const label = keys.get(type)!.label;
        const msg = randomBytes(2048);
        const pub = await publicPem(type);
        const msgFile = file('msg', msg);
        for (const hash of HASHES) {
          const digest = createHash(hash).update(msg).digest();
          const sig = await km.sign({ key: label, digest, algorithm: { scheme: 'ecdsa', hash } });
          const sigFile = file('sig', sig);
          assert.equal(dgstVerify(pub, hash, msgFile, sigFile), 0, `ecdsa digest ${hash}`);
          assert.notEqual(dgstVerify(pub, hash, file('msg.bad', tampered(msg)), sigFile), 0);
        }
      });

      it('signs a 1 MiB message; OpenSSL verifies', async () => {
        const label = keys.get(type)!.label;
        const msg = randomBytes(1024 * 1024);
        const sig = await km.sign({ key: label, data: msg, algorithm: { scheme: 'ecdsa', hash: 'sha384' } });
        const pub = await publicPem(type);
        assert.equal(dgstVerify(pub, 'sha384', file('big', msg), file('sig', sig)), 0);
      });
    }

    if ((ED_TYPES as readonly string[]).includes(type)) {
      it('signs a 1 MiB message (pure EdDSA sees it whole); OpenSSL verifies', async () => {
        const label = keys.get(type)!.label;
        const msg = randomBytes(1024 * 1024);
        const sig = await km.sign({ key: label, data: msg });
        const pub = await publicPem(type);
        const sigFile = file('sig', sig);
        assert.equal(rawinVerify(pub, file('big', msg), sigFile), 0);
        assert.notEqual(rawinVerify(pub, file('big.bad', tampered(msg)), sigFile), 0);
        // EdDSA is deterministic.
        assert.deepEqual(Buffer.from(await km.sign({ key: label, data: msg })), Buffer.from(sig));
      });
    }
  });
}
