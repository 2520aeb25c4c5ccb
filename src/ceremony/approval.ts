import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json.js';
import { HsmError } from '../errors/index.js';
import type { KeyManager } from '../kms/key-manager.js';
import type { SignAlgorithm } from '../kms/sign-algorithm.js';
import type { Challenge } from './challenge.js';

/** A custodian's signed answer to a challenge (the file `ceremony approve` writes). */
export interface Approval {
  type: 'hsmkit.ceremony.approval';
  v: 1;
  challenge: Challenge;
  /** Custodian name as registered. */
  custodian: string;
  /** Site the custodian approves from (checked against the script's sites). */
  site: string;
  /** SHA-256 hex of the custodian key's SubjectPublicKeyInfo. */
  keyFingerprint: string;
  /** Opaque evidence for the biometric verifier, when the script requires it. */
  biometric?: string;
  /** Signature over {@link approvalPayload}, base64 (DER for ECDSA). */
  signature: string;
}

/** The bytes a custodian signs: the challenge plus the claims it makes (custodian, site, evidence). */
export function approvalPayload(a: Omit<Approval, 'signature' | 'type' | 'v'>): Buffer {
  const body = {
    type: 'hsmkit.ceremony.approval.payload',
    challenge: a.challenge,
    custodian: a.custodian,
    site: a.site,
    keyFingerprint: a.keyFingerprint,
    biometric: a.biometric,
  };
  return Buffer.from(canonicalJson(body), 'utf8');
}

/** SHA-256 hex of a DER SubjectPublicKeyInfo: how custodian keys are named. */
export function keyFingerprint(spkiDer: Uint8Array): string {
  return createHash('sha256').update(spkiDer).digest('hex');
}

/** The fingerprint of a PEM public key; HSM_ERR_INVALID_INPUT when it is not one. */
export function pemFingerprint(pem: string): string {
  return keyFingerprint(publicKeyOf(pem).export({ type: 'spki', format: 'der' }));
}

/** Parses a PEM public key. */
export function publicKeyOf(pem: string): KeyObject {
  try {
    const key = createPublicKey(pem);
    if (key.type !== 'public') throw new Error('not a public key');
    return key;
  } catch (err) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', 'not a PEM public key', { cause: err });
  }
}

/** The signature algorithm a custodian key signs with: fixed by the key, never by the approval. */
export function custodianAlgorithm(key: KeyObject): { sign: SignAlgorithm; hash: string | null } {
  const t = key.asymmetricKeyType;
  if (t === 'rsa') return { sign: { scheme: 'rsa-pkcs1', hash: 'sha256' }, hash: 'sha256' };
  if (t === 'ed25519') return { sign: { scheme: 'eddsa' }, hash: null };
  if (t === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const hash = curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
    return { sign: { scheme: 'ecdsa', hash }, hash };
  }
  throw new HsmError('HSM_ERR_INVALID_INPUT', `custodian keys of type ${t} are not supported`);
}

/** True when the approval's signature verifies with `key`. */
export function approvalSignatureValid(a: Approval, key: KeyObject): boolean {
  try {
    const { hash } = custodianAlgorithm(key);
    return verify(hash, approvalPayload(a), { key, dsaEncoding: 'der' }, Buffer.from(a.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Signs a challenge with a custodian key on the custodian's own token (the approval tool). */
export async function signApproval(
  km: KeyManager,
  keyRef: string,
  challenge: Challenge,
  claims: { custodian: string; site: string; biometric?: string },
): Promise<Approval> {
  const spki = await km.getPublicKey(keyRef);
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  const body = {
    challenge,
    custodian: claims.custodian,
    site: claims.site,
    keyFingerprint: keyFingerprint(spki),
    ...(claims.biometric === undefined ? {} : { biometric: claims.biometric }),
  };
  const sig = await km.sign({
    key: keyRef,
    data: approvalPayload(body),
    algorithm: custodianAlgorithm(key).sign,
  });
  return { type: 'hsmkit.ceremony.approval', v: 1, ...body, signature: Buffer.from(sig).toString('base64') };
}
