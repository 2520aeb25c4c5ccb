import type { KeyGenerationPolicy } from '../../kms/key-policy.js';
import type { CreateKeyRequest } from '../../kms/requests.js';
import type { SignAlgorithm } from '../../kms/sign-algorithm.js';
import type { ConnectionOptions } from './connection.js';
import type { GenerationPoll } from './generation-poller.js';
import type { KmsApi } from './kms-client.js';
import type { RetryPolicy } from './retry-policy.js';

/** Options of a Cloud KMS key manager. */
export interface GcpKmsKeyManagerOptions {
  /** The key ring this manager holds, `projects/P/locations/L/keyRings/R`. Required. */
  keyRing: string;
  /** Name reported as `member` in KeyInfo and errors. Default `gcpkms`. */
  member?: string;
  /** Endpoint, transport security and credentials. Default: Cloud KMS over HTTPS with ADC. */
  connection?: ConnectionOptions;
  /** Backoff for RESOURCE_EXHAUSTED / UNAVAILABLE. Default DEFAULT_RETRY_POLICY (7 attempts, ≤ 31.5 s). */
  retry?: Partial<RetryPolicy>;
  /** Waiting for PENDING_GENERATION. Default DEFAULT_GENERATION_POLL (60 polls, 500 ms apart). */
  generationPoll?: Partial<GenerationPoll>;
  /** Key-generation policy (minimum sizes, required attributes). */
  policy?: KeyGenerationPolicy;
  /**
   * How long a label without a version stays bound to the version it resolved to, in ms.
   * Default 60_000; rotateKey through this manager clears it at once.
   */
  resolveTtlMs?: number;
  /** Another KmsApi (unit tests). Default: the official client (kms-client.ts). */
  api?: KmsApi;
  /** Waits `ms`. Default: a timer. Injected so tests need not sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1), for backoff jitter. Default Math.random. */
  random?: () => number;
}

/** Request to create a Cloud KMS key: the common request plus the signature algorithm to bind. */
export interface GcpCreateKeyRequest extends CreateKeyRequest {
  /**
   * The signature algorithm the key is bound to (Cloud KMS fixes padding and hash per key).
   * Default: the first GCP_ALGORITHMS entry for the type (PKCS#1 v1.5 SHA-256 for RSA,
   * ECDSA SHA-256 / SHA-384 for P-256 / P-384).
   */
  algorithm?: SignAlgorithm;
}
