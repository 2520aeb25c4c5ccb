import { createHash } from 'node:crypto';
import { readTlv, readWhole, TAG } from '../../crypto/der.js';

/** The subjectPublicKey BIT STRING value (without the unused-bits octet) of an SPKI. */
export function publicKeyBits(spki: Uint8Array): Uint8Array {
  const outer = readWhole(spki, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  const alg = readTlv(outer.content, 0);
  const bits = readTlv(outer.content, alg.end);
  return bits.content.subarray(1);
}

/** H(issuer name DER) and H(issuer key bits), as a CertID carries them. */
export function issuerHashes(
  hash: string,
  nameDer: Uint8Array,
  spki: Uint8Array,
): { name: Buffer; key: Buffer } {
  return {
    name: createHash(hash).update(nameDer).digest(),
    key: createHash(hash).update(publicKeyBits(spki)).digest(),
  };
}

/** The responder's byKey identifier: SHA-1 of its public key bits (RFC 6960 §4.2.1). */
export function responderKeyHash(spki: Uint8Array): Uint8Array {
  return createHash('sha1').update(publicKeyBits(spki)).digest();
}
