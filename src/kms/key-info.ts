import type { KeyFamily, KeyType } from './key-spec.js';
import type { KeyMetadata } from './requests.js';

/** Security-relevant attributes as read back from the token (never from our own request). */
export interface KeyAttributes {
  token: boolean;
  private: boolean;
  sensitive: boolean;
  extractable: boolean;
  alwaysSensitive: boolean;
  neverExtractable: boolean;
  local: boolean;
  sign: boolean;
  decrypt: boolean;
  unwrap: boolean;
  derive: boolean;
}

/** A key as hsmkit reports it. */
export interface KeyInfo {
  /** Canonical RFC 7512 URI of the private key. */
  uri: string;
  /** CKA_LABEL. */
  label: string;
  /** CKA_ID, lowercase hex. */
  id: string;
  /** Key type (`rsa-4096`, `ec-p384`, …; `rsa-1024` for a size hsmkit does not generate). */
  type: KeyType | string;
  /** Algorithm family. */
  family: KeyFamily;
  /** Token label the key lives on. */
  token: string;
  /** hsmkit member that holds it (`cluster` for a cluster's logical key). */
  member: string;
  /** Members holding a copy, for a cluster key. */
  replicas?: string[];
  /** Private-key attributes read from the token. */
  attributes: KeyAttributes;
  /** SubjectPublicKeyInfo, PEM. */
  publicKeyPem: string;
  /** Metadata from the store, when there is a store. */
  metadata?: KeyMetadata & { status?: string; createdAt?: string };
}
