import assert from 'node:assert/strict';
import { constants, createHash, generateKeyPairSync, publicDecrypt, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { type ErrorCode, HsmError } from '../errors/index.js';
import { derOid, derTlv } from './der.js';
import { digestInfo, HASH_SIZES, type HashName, hashData, parseHashName } from './digest-info.js';

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof HsmError && err.code === code);
}

const HASHES = Object.keys(HASH_SIZES) as HashName[];
const OIDS: Record<HashName, string> = {
  sha1: '1.3.14.3.2.26',
  sha224: '2.16.840.1.101.3.4.2.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};

describe('digestInfo', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const data = Buffer.from('hsmkit DigestInfo check');

  for (const hash of HASHES) {
    it(`${hash}: equals the DigestInfo inside node:crypto's PKCS#1 v1.5 signature`, () => {
      const signature = sign(hash, data, privateKey);
      // Undoing the private-key operation with the public key leaves exactly EMSA-PKCS1-v1_5's T.
      const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
      assert.deepEqual(digestInfo(hash, hashData(hash, data)), Uint8Array.from(recovered));
    });

    it(`${hash}: matches DigestInfo built with der.ts (NULL parameters)`, () => {
      const digest = hashData(hash, data);
      const algId = derTlv(0x30, Uint8Array.from([...derOid(OIDS[hash]), 0x05, 0x00]));
      const expected = derTlv(0x30, Uint8Array.from([...algId, ...derTlv(0x04, digest)]));
      assert.deepEqual(digestInfo(hash, digest), expected);
      assert.equal(expected.length - digest.length, hash === 'sha1' ? 15 : 19);
    });
  }

  it('rejects digests of the wrong length and unknown hashes as caller errors', () => {
    for (const hash of HASHES) {
      throwsCode(() => digestInfo(hash, new Uint8Array(HASH_SIZES[hash] - 1)), 'HSM_ERR_INVALID_INPUT');
      throwsCode(() => digestInfo(hash, new Uint8Array(HASH_SIZES[hash] + 1)), 'HSM_ERR_INVALID_INPUT');
    }
    throwsCode(() => digestInfo('md5' as HashName, new Uint8Array(16)), 'HSM_ERR_INVALID_INPUT');
    throwsCode(() => digestInfo('toString' as HashName, new Uint8Array(16)), 'HSM_ERR_INVALID_INPUT');
  });
});

describe('hashData', () => {
  it('matches createHash and has the documented sizes', () => {
    for (const hash of HASHES) {
      const out = hashData(hash, Buffer.from('abc'));
      assert.equal(out.length, HASH_SIZES[hash]);
      assert.deepEqual(out, Uint8Array.from(createHash(hash).update('abc').digest()));
    }
    throwsCode(() => hashData('sha3-256' as HashName, new Uint8Array()), 'HSM_ERR_INVALID_INPUT');
  });
});

describe('parseHashName', () => {
  it('accepts sha256, SHA-256, SHA256 in any case', () => {
    for (const hash of HASHES) {
      const bits = hash.slice(3);
      for (const s of [`sha${bits}`, `SHA-${bits}`, `SHA${bits}`, `Sha-${bits}`, `sHa${bits}`]) {
        assert.equal(parseHashName(s), hash, s);
      }
    }
  });

  it('rejects everything else with HSM_ERR_INVALID_INPUT', () => {
    for (const s of [
      '',
      'md5',
      'sha',
      'sha-',
      'sha_256',
      'sha 256',
      'sha--256',
      'sha3-256',
      'sha512-256',
      'SHA-256 ',
      'sha2',
    ]) {
      throwsCode(() => parseHashName(s), 'HSM_ERR_INVALID_INPUT');
    }
    throwsCode(() => parseHashName(undefined as unknown as string), 'HSM_ERR_INVALID_INPUT');
  });
});
