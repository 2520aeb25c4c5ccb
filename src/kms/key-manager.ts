import type { HsmError } from '../errors/index.js';
import type { KeyInfo } from './key-info.js';
import type { CreateKeyRequest, KeyRef, ListKeysRequest, SignRequest, VerifyRequest } from './requests.js';

/**
 * The small core every backend implements (after smallstep's kms.KeyManager). Everything else is
 * an optional capability interface below, each with a type guard.
 */
export interface KeyManager {
  /** Generates a key pair inside the HSM. Never falls back to software. */
  createKey(req: CreateKeyRequest): Promise<KeyInfo>;
  /** Looks a key up; exactly one match or an error. */
  getKey(ref: KeyRef): Promise<KeyInfo>;
  /** The key's SubjectPublicKeyInfo (DER). Cached outside the HSM. */
  getPublicKey(ref: KeyRef): Promise<Uint8Array>;
  /** Signs inside the HSM. */
  sign(req: SignRequest): Promise<Uint8Array>;
  /** Releases sessions and stops member hosts. */
  close(): Promise<void>;
}

/** Lists keys. */
export interface KeyLister {
  listKeys(req?: ListKeysRequest): Promise<KeyInfo[]>;
}

/** Deletes both halves of a key pair and its metadata. */
export interface KeyDeleter {
  deleteKey(ref: KeyRef): Promise<void>;
}

/** Verifies signatures with a key's public half. */
export interface SignatureVerifier {
  verify(req: VerifyRequest): Promise<boolean>;
}

/** Random bytes from the HSM's RNG. */
export interface RandomSource {
  generateRandom(length: number): Promise<Uint8Array>;
}

/** One result of a batch: a signature, or the error for that item alone. */
export type BatchSignResult = { ok: true; signature: Uint8Array } | { ok: false; error: HsmError };

/** Signs many requests in one call; each item succeeds or fails on its own. */
export interface BatchSigner {
  signBatch(reqs: SignRequest[]): Promise<BatchSignResult[]>;
}

/** One mechanism as a token reports it. */
export interface MechanismReport {
  type: number;
  name: string;
  minKeySize: number;
  maxKeySize: number;
  flags: number;
}

/** What a member can do, built at connect time. */
export interface CapabilityReport {
  member: string;
  module: {
    path: string;
    manufacturer: string;
    description: string;
    cryptokiVersion: string;
    libraryVersion: string;
    /** PKCS#11 members: `isolated` (module loaded with its own symbols, RTLD_DEEPBIND) or `global`. */
    symbols?: 'isolated' | 'global';
    /** Why `symbols` is not what was configured (default `isolated` without a shim). */
    symbolsNote?: string;
  };
  token: {
    label: string;
    manufacturer: string;
    model: string;
    serial: string;
    slotId: string;
    maxSessions: number | null;
    maxRwSessions: number | null;
    freePublicMemory: number | null;
    freePrivateMemory: number | null;
  };
  environment: Record<string, string>;
  mechanisms: MechanismReport[];
  /** Key types this member can generate (mechanism present and size in range). */
  keyTypes: string[];
}

/** Reports capabilities. */
export interface CapabilityReporter {
  capabilities(): Promise<CapabilityReport[]>;
}

function has<K extends string>(km: unknown, method: K): km is Record<K, (...args: never[]) => unknown> {
  return (
    typeof km === 'object' && km !== null && typeof (km as Record<string, unknown>)[method] === 'function'
  );
}

/** True when `km` can list keys. */
export const isKeyLister = (km: unknown): km is KeyLister => has(km, 'listKeys');
/** True when `km` can delete keys. */
export const isKeyDeleter = (km: unknown): km is KeyDeleter => has(km, 'deleteKey');
/** True when `km` can verify. */
export const isSignatureVerifier = (km: unknown): km is SignatureVerifier => has(km, 'verify');
/** True when `km` has an RNG. */
export const isRandomSource = (km: unknown): km is RandomSource => has(km, 'generateRandom');
/** True when `km` signs in batches. */
export const isBatchSigner = (km: unknown): km is BatchSigner => has(km, 'signBatch');
/** True when `km` reports capabilities. */
export const isCapabilityReporter = (km: unknown): km is CapabilityReporter => has(km, 'capabilities');

/** A private key wrapped for another HSM of the same cluster; opaque outside an HSM. */
export interface WrappedKey {
  id: string;
  label: string;
  blob: string;
  publicKey: unknown;
  sign: boolean;
}

/** HSM-to-HSM key replication under a trusted replication key (never in the clear). */
export interface KeyReplicator {
  /**
   * Wraps the key under the replication key labelled `wrappingLabel`. `mechanism` is this side's
   * wrap mechanism (e.g. RFC 5649: 0x210A on SoftHSM, 0x210B on NSS); default: the backend's own.
   */
  exportWrapped(ref: KeyRef, wrappingLabel: string, mechanism?: number): Promise<WrappedKey>;
  /**
   * Recreates a wrapped key here; `created` is false when the key (same id) was present.
   * `mechanism` is this side's unwrap mechanism for the same algorithm; default: the backend's own.
   */
  importWrapped(key: WrappedKey, wrappingLabel: string, mechanism?: number): Promise<{ created: boolean }>;
  /** Whether this member can take part in replication at all (it offers a working key wrap). */
  canReplicate?(): Promise<boolean>;
}

/** A cheap liveness check that exercises the token (a test signature), for health monitoring. */
export interface HealthCheckable {
  healthCheck(): Promise<{ latencyMs: number }>;
}

/** True when `km` replicates keys. */
export const isKeyReplicator = (km: unknown): km is KeyReplicator => has(km, 'exportWrapped');
/** True when `km` has a health check. */
export const isHealthCheckable = (km: unknown): km is HealthCheckable => has(km, 'healthCheck');
