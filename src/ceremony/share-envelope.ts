import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { HsmError } from '../errors/index.js';

/** One share encrypted to one custodian's public key. Every binary field is base64. */
export interface ShareEnvelope {
  /** `ECDH-ES+A256GCM` (EC custodian keys) or `RSA-OAEP-256+A256GCM` (RSA custodian keys). */
  alg: 'ECDH-ES+A256GCM' | 'RSA-OAEP-256+A256GCM';
  /** Ephemeral EC public key (SPKI DER), for ECDH-ES. */
  epk?: string;
  /** RSA-OAEP(SHA-256) encrypted content key, for RSA. */
  ek?: string;
  iv: string;
  ct: string;
  tag: string;
}

const INFO = 'hsmkit ceremony share v1';
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

function gcmSeal(key: Buffer, plain: Uint8Array, aad: Uint8Array) {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return { iv: b64(iv), ct: b64(ct), tag: b64(c.getAuthTag()) };
}

function gcmOpen(key: Buffer, e: ShareEnvelope, aad: Uint8Array): Buffer {
  try {
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(e.iv, 'base64')).setAAD(aad);
    d.setAuthTag(Buffer.from(e.tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(e.ct, 'base64')), d.final()]);
  } catch (err) {
    throw new HsmError('HSM_ERR_SHARE_INVALID', 'the share does not decrypt (wrong key or altered)', {
      cause: err,
    });
  }
}

/** The AES key of ECDH-ES: HKDF-SHA256 over the shared secret, bound to both public keys and the AAD. */
function ecdhKey(shared: Buffer, epkDer: Buffer, recipientDer: Buffer, aad: Uint8Array): Buffer {
  const info = Buffer.concat([Buffer.from(INFO), epkDer, recipientDer, aad]);
  const key = Buffer.from(hkdfSync('sha256', shared, Buffer.alloc(0), info, 32));
  shared.fill(0);
  return key;
}

/**
 * Encrypts a share to a custodian public key: ECDH-ES with an ephemeral key on the custodian's
 * curve + AES-256-GCM, or RSA-OAEP-256 of a fresh AES-256-GCM key. `aad` binds the envelope to
 * its place (ceremony, secret, share index, recipient), so envelopes cannot be swapped.
 */
export function sealShare(recipient: KeyObject, share: Uint8Array, aad: Uint8Array): ShareEnvelope {
  const recipientDer = recipient.export({ type: 'spki', format: 'der' });
  if (recipient.asymmetricKeyType === 'ec') {
    const namedCurve = recipient.asymmetricKeyDetails?.namedCurve ?? 'prime256v1';
    const eph = generateKeyPairSync('ec', { namedCurve });
    const epkDer = eph.publicKey.export({ type: 'spki', format: 'der' });
    const key = ecdhKey(
      diffieHellman({ privateKey: eph.privateKey, publicKey: recipient }),
      epkDer,
      recipientDer,
      aad,
    );
    try {
      return { alg: 'ECDH-ES+A256GCM', epk: b64(epkDer), ...gcmSeal(key, share, aad) };
    } finally {
      key.fill(0);
    }
  }
  if (recipient.asymmetricKeyType === 'rsa') {
    const key = randomBytes(32);
    try {
      const ek = publicEncrypt(
        { key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        key,
      );
      return { alg: 'RSA-OAEP-256+A256GCM', ek: b64(ek), ...gcmSeal(key, share, aad) };
    } finally {
      key.fill(0);
    }
  }
  throw new HsmError(
    'HSM_ERR_INVALID_INPUT',
    `shares can be encrypted to EC or RSA keys, not ${recipient.asymmetricKeyType} keys`,
  );
}

/**
 * Opens an envelope with the recipient's private key. The custodian side: in production the
 * private key stays on the custodian's token, so this runs where that key is usable
 * (see {@link ShareDecrypter}); tests and recovery tooling may pass a KeyObject.
 */
export function openShare(privateKey: KeyObject, e: ShareEnvelope, aad: Uint8Array): Buffer {
  if (e.alg === 'ECDH-ES+A256GCM' && e.epk) {
    const epkDer = Buffer.from(e.epk, 'base64');
    const epk = createPublicKey({ key: epkDer, format: 'der', type: 'spki' });
    const recipientDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    let shared: Buffer;
    try {
      shared = diffieHellman({ privateKey, publicKey: epk });
    } catch (err) {
      throw new HsmError('HSM_ERR_SHARE_INVALID', 'the share was not encrypted to this key', { cause: err });
    }
    const key = ecdhKey(shared, epkDer, recipientDer, aad);
    try {
      return gcmOpen(key, e, aad);
    } finally {
      key.fill(0);
    }
  }
  if (e.alg === 'RSA-OAEP-256+A256GCM' && e.ek) {
    let key: Buffer;
    try {
      key = privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        Buffer.from(e.ek, 'base64'),
      );
    } catch (err) {
      throw new HsmError('HSM_ERR_SHARE_INVALID', 'the share was not encrypted to this key', { cause: err });
    }
    try {
      return gcmOpen(key, e, aad);
    } finally {
      key.fill(0);
    }
  }
  throw new HsmError('HSM_ERR_SHARE_INVALID', `unknown share envelope ${String(e.alg).slice(0, 32)}`);
}

/**
 * Opens one custodian's envelope where that custodian's private key lives. Returns a fresh buffer
 * the caller owns (and zeroes). The reconstruct step calls one per custodian who takes part.
 */
export interface ShareDecrypter {
  /** SHA-256 hex of the custodian key's SPKI, to pick the custodian's envelope. */
  readonly fingerprint: string;
  decrypt(envelope: ShareEnvelope, aad: Uint8Array): Promise<Uint8Array>;
}
