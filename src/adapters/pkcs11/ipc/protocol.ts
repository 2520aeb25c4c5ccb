/**
 * Typed headers of the member-host protocol (see messages.ts for the wire format).
 * Everything here is JSON-safe. Binary values inside headers are lowercase hex.
 */
import type { KeyType } from '../../../kms/key-spec.js';
import type { KeyProtection, KeyUsage } from '../../../kms/requests.js';

/** First message to a new host: what to load and how to log in. The PIN travels only here. */
export interface InitHeader {
  member: string;
  module: string;
  slot?: number;
  tokenLabel?: string;
  pin?: string;
  userType: 'user' | 'so' | 'crypto_officer';
  initArgs?: string;
  /** Upper bound on operation sessions (the token's own limit may lower it). */
  poolSize: number;
  /** Run sign operations with pkcs11js async calls across the session pool (network HSMs). */
  asyncOperations: boolean;
  /** Minimum milliseconds between two module reloads. */
  reloadIntervalMs: number;
  /** Configured vendor profile id (config `provider:`); absent: detected from C_GetInfo/C_GetTokenInfo. */
  provider?: string;
  /** Library pkcs11js loads when it is not `module` itself: the isolation shim (isolating-loader.ts). */
  loadPath?: string;
  /** How the module's symbols bind (isolating-loader.ts); reported in the description. */
  symbols: 'isolated' | 'global';
  /** Why `symbols` differs from what was asked for, when it does. */
  symbolsNote?: string;
}

/** What a host reports once it has logged in. */
export interface ReadyHeader {
  pid: number;
  slotId: string;
  tokenLabel: string;
  poolSize: number;
  connectMs: number;
  /** The capability-probe fingerprint (host/probe-fingerprint.ts), for the parent's cache lookup. */
  probeFingerprint?: string;
}

/** Header of a `capabilities` request: a probe cached by the parent, used when its fingerprint matches. */
export interface CapabilitiesHeader {
  cachedProbe?: { fingerprint: string; probedAt: string; result: unknown };
}

/** How the probe result in a `capabilities` answer came about. */
export interface ProbeOrigin {
  /** `probed`: the host ran the probe now; `cached`: the parent's cached result matched the fingerprint. */
  source: 'probed' | 'cached';
  /** When the probe ran (ISO 8601). */
  probedAt: string;
  /** The host's fingerprint of what the probe depends on. */
  fingerprint: string;
}

/** Sign with the private key whose CKA_ID is `k`. Body: the bytes to give C_Sign. */
export interface SignHeader {
  k: string;
  m: number;
  /** RSA-PSS parameters, when m is a PSS mechanism. */
  pss?: { hashAlg: number; mgf: number; saltLen: number };
}

/** Generate a key pair. The host takes CKA_ID from the token's RNG. */
export interface GenerateHeader {
  label: string;
  type: KeyType;
  usage: Required<KeyUsage>;
  protection: Required<KeyProtection>;
  /** Extra attributes for the private template, e.g. vendor rules (CKA number → value). */
  extraPrivate?: Record<string, boolean>;
  /** Attributes (CKA numbers) left out of both templates when false: a vendor rule (tpm2-pkcs11). */
  omitWhenFalse?: number[];
}

/** Find keys by label and/or id. */
export interface FindHeader {
  label?: string;
  id?: string;
}

/** A key pair as found on the token. */
export interface FoundKey {
  id: string;
  label: string;
  keyType: number;
  hasPrivate: boolean;
  hasPublic: boolean;
  /** Private objects sharing this id — more than one means the lookup is ambiguous. */
  privateCount: number;
  attributes?: Record<string, boolean>;
}

/** Public-key material of a key, as the token returns it (hex). */
export interface PublicKeyHeader {
  id: string;
  keyType: number;
  modulus?: string;
  publicExponent?: string;
  ecParams?: string;
  ecPoint?: string;
  parameterSet?: number;
  value?: string;
}

/** Read the listed CKA attributes (by number) of the object of class `cls` with id `id`. */
export interface AttributesHeader {
  id: string;
  cls: number;
  attrs: number[];
}

/** A private key wrapped under the replication key, with what is needed to recreate it elsewhere. */
export interface WrappedPrivate {
  id: string;
  label: string;
  /** Wrapped private key (hex). Opaque outside an HSM that holds the replication key. */
  blob: string;
  publicKey: PublicKeyHeader;
  sign: boolean;
}

/** Recreate a replicated key pair on this member. */
export interface UnwrapPrivateHeader extends WrappedPrivate {
  wrappingLabel: string;
  mechanism?: number;
}
