import type { KeyType } from './key-spec.js';
import type { SignAlgorithm } from './sign-algorithm.js';

/**
 * A key reference: a label (`ca-root`), or an RFC 7512 URI (`pkcs11:object=ca-root;type=private`,
 * `pkcs11:token=prod;id=%A1%B2`). A URI without `token` names a logical key that any member may hold.
 */
export type KeyRef = string;

/** Key-usage attributes a caller may set at generation. Unset ones take the defaults shown. */
export interface KeyUsage {
  /** CKA_SIGN on the private key / CKA_VERIFY on the public key. Default true. */
  sign?: boolean;
  /** CKA_VERIFY on the public key. Default true. */
  verify?: boolean;
  /** CKA_DECRYPT / CKA_ENCRYPT (RSA only). Default false. */
  decrypt?: boolean;
  /** CKA_WRAP on the public key. Default false. */
  wrap?: boolean;
  /** CKA_UNWRAP on the private key. Default false. */
  unwrap?: boolean;
  /** CKA_DERIVE on the private key (EC only). Default false. */
  derive?: boolean;
}

/** Security attributes of a generated private key. The defaults are the only safe ones. */
export interface KeyProtection {
  /** CKA_TOKEN: persistent. Default true. */
  token?: boolean;
  /** CKA_PRIVATE: needs login. Default true. */
  private?: boolean;
  /** CKA_SENSITIVE: value never revealed. Default true. */
  sensitive?: boolean;
  /** CKA_EXTRACTABLE: may be wrapped. Default false. */
  extractable?: boolean;
  /**
   * CKA_WRAP_WITH_TRUSTED: the key may be wrapped only by a CKA_TRUSTED key (the cluster's
   * replication key). Set by the cluster for replicated keys, together with extractable. Default false.
   */
  wrapWithTrusted?: boolean;
}

/** Metadata kept in the store beside the key, linked by the key's URI. */
export interface KeyMetadata {
  /** What the key is for, e.g. `root-ca`, `tls-issuing`, `code-signing`. */
  purpose?: string;
  /** When the key should be retired (ISO-8601 date). */
  expiresAt?: string;
  /** The ceremony that created the key. */
  ceremonyId?: string;
  /** The person or team accountable for the key. */
  owner?: string;
  /** Free tags. */
  tags?: Record<string, string>;
}

/** Request to generate a key pair in the HSM. */
export interface CreateKeyRequest {
  /** CKA_LABEL; must be unique on the token. */
  label: string;
  /** Key type. */
  type: KeyType;
  /** Usage flags (defaults: sign+verify only). */
  usage?: KeyUsage;
  /** Security attributes (defaults: token, private, sensitive, non-extractable). */
  protection?: KeyProtection;
  /** Metadata stored beside the key. */
  metadata?: KeyMetadata;
}

/** Request to sign. Exactly one of `data` and `digest` is given. */
export interface SignRequest {
  /** The key. */
  key: KeyRef;
  /** The message. hsmkit hashes it (in software, or in the HSM with a combined mechanism). */
  data?: Uint8Array;
  /** A precomputed digest of the message (RSA and ECDSA only), whose hash is `algorithm.hash`. */
  digest?: Uint8Array;
  /** Algorithm; default: PKCS#1 v1.5 / ECDSA with SHA-256, or EdDSA/ML-DSA for those keys. */
  algorithm?: SignAlgorithm;
  /** ECDSA output encoding: `der` (default, as OpenSSL and X.509 use) or `raw` (r‖s, as JWS uses). */
  format?: 'der' | 'raw';
}

/** Request to verify a signature with a key's public half. */
export interface VerifyRequest extends SignRequest {
  /** The signature to check, encoded as `format` says. */
  signature: Uint8Array;
}

/** Filter for listing keys. */
export interface ListKeysRequest {
  /** Only keys whose label starts with this. */
  labelPrefix?: string;
}
