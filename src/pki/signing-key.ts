import type { KeyInfo } from '../kms/key-info.js';
import { type KeyAlgorithms, keyAlgorithms } from './key-algorithms.js';
import { policyRefusal } from './pki-errors.js';
import type { PkiKeyManager } from './pki-key-manager.js';

/** Marks the CryptoKey stand-ins this layer hands to @peculiar/x509; they hold a key URI, never key bytes. */
export const HSM_KEY = Symbol('hsmkit.hsmKey');

/** A CryptoKey-shaped handle on an HSM private key, for the x509 generators' `signingKey`. */
export interface HsmCryptoKey {
  readonly [HSM_KEY]: SigningKey;
  readonly type: 'private';
  readonly extractable: false;
  readonly algorithm: KeyAlgorithms['web'];
  readonly usages: ['sign'];
}

/** An HSM key resolved for signing: URI, public key and the algorithms its type uses. */
export interface SigningKey {
  /** Canonical key URI. */
  uri: string;
  /** CKA_LABEL. */
  label: string;
  keyType: string;
  /** SubjectPublicKeyInfo, DER. */
  spki: Uint8Array;
  algorithms: KeyAlgorithms;
  /** The handle for x509 generators. */
  cryptoKey: HsmCryptoKey;
  /** The KeyInfo it was resolved from. */
  info: KeyInfo;
}

/**
 * Resolves a key reference for signing. An archived key is refused: it stays in the HSM so old
 * signatures can still be verified, but it signs nothing new.
 */
export async function resolveSigningKey(km: PkiKeyManager, ref: string): Promise<SigningKey> {
  const info = await km.getKey(ref);
  if (info.metadata?.status === 'archived') {
    throw policyRefusal(`key "${info.label}" is archived; it can verify but no longer signs`);
  }
  const algorithms = keyAlgorithms(String(info.type));
  const spki = await km.getPublicKey(info.uri);
  const key = {
    uri: info.uri,
    label: info.label,
    keyType: String(info.type),
    spki,
    algorithms,
    info,
  } as SigningKey;
  key.cryptoKey = {
    [HSM_KEY]: key,
    type: 'private',
    extractable: false,
    algorithm: algorithms.web,
    usages: ['sign'],
  };
  return key;
}
