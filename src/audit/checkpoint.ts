import { createHash, verify as cryptoVerify } from 'node:crypto';
import type { AuditCheckpoint, AuditRecord, CheckpointPayload } from './audit-record.js';
import { canonicalJson } from './canonical-json.js';

/** Signs checkpoint payloads inside the HSM with the audit key (ECDSA P-384, SHA-384, DER). */
export interface CheckpointSigner {
  /** URI of the audit key. */
  keyUri: string;
  /** Signs `payload` (the message; the signer hashes it with SHA-384). */
  sign(payload: Uint8Array): Promise<Uint8Array>;
}

/** The signature algorithm of checkpoints. */
export const CHECKPOINT_ALGORITHM = 'ECDSA-SHA384';

/** Builds and signs the checkpoint of `tip`. */
export async function makeCheckpoint(
  signer: CheckpointSigner,
  tip: AuditRecord,
): Promise<{ record: AuditCheckpoint; payloadDigest: string }> {
  const payload: CheckpointPayload = {
    type: 'hsmkit.audit.checkpoint',
    v: 1,
    seq: tip.seq,
    hash: tip.hash,
    timestamp: new Date().toISOString(),
    keyUri: signer.keyUri,
  };
  const text = canonicalJson(payload);
  const signature = await signer.sign(Buffer.from(text, 'utf8'));
  return {
    record: {
      payload: text,
      signature: Buffer.from(signature).toString('base64'),
      algorithm: CHECKPOINT_ALGORITHM,
      keyUri: signer.keyUri,
    },
    payloadDigest: createHash('sha256').update(text).digest('hex'),
  };
}

/** Whether a checkpoint's signature verifies with the audit public key (PEM). */
export function checkpointSignatureValid(cp: AuditCheckpoint, publicKeyPem: string): boolean {
  try {
    return cryptoVerify(
      'sha384',
      Buffer.from(cp.payload, 'utf8'),
      { key: publicKeyPem, dsaEncoding: 'der' },
      Buffer.from(cp.signature, 'base64'),
    );
  } catch {
    return false;
  }
}

/** Parses a checkpoint's payload; undefined when it is not one. */
export function checkpointPayload(cp: AuditCheckpoint): CheckpointPayload | undefined {
  try {
    const p = JSON.parse(cp.payload) as CheckpointPayload;
    return p.type === 'hsmkit.audit.checkpoint' && Number.isSafeInteger(p.seq) && typeof p.hash === 'string'
      ? p
      : undefined;
  } catch {
    return undefined;
  }
}
