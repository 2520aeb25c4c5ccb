/** Google Cloud HSM (Cloud KMS with protection level HSM) as an hsmkit KeyManager. */
export { GCP_ALGORITHMS, type GcpAlgorithm, gcpAlgorithmFor } from './algorithms.js';
export type { ConnectionOptions } from './connection.js';
export { GcpKmsKeyManager } from './gcpkms-key-manager.js';
export { DEFAULT_GENERATION_POLL, type GenerationPoll } from './generation-poller.js';
export { GCPKMS_SCHEME } from './key-name.js';
export type { GcpCreateKeyRequest, GcpKmsKeyManagerOptions } from './options.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy.js';
