import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/** How an operation ended. */
export type AuditResult = 'ok' | 'denied' | 'error';

/** A signed checkpoint carried by a record: the exact signed bytes and the signature. */
export interface AuditCheckpoint {
  /** Canonical JSON of {@link CheckpointPayload}; the bytes that were signed (UTF-8). */
  payload: string;
  /** DER ECDSA signature over SHA-384 of the payload, base64. */
  signature: string;
  /** `ECDSA-SHA384`. */
  algorithm: string;
  /** URI of the audit key that signed. */
  keyUri: string;
}

/** What a checkpoint asserts: record `seq` of the chain has hash `hash`. */
export interface CheckpointPayload {
  type: 'hsmkit.audit.checkpoint';
  v: 1;
  seq: number;
  hash: string;
  timestamp: string;
  keyUri: string;
}

/** What the caller gives for one record. Never secrets, never signed data (only hashes). */
export interface AuditEntry {
  timestamp: string;
  actor: string;
  role: string;
  authMethod: string;
  operation: string;
  keyUri?: string;
  /** SHA-256 (hex) of the canonical JSON of the operation's non-secret parameters. */
  paramsDigest: string;
  result: AuditResult;
  errorCode?: string;
  /** The policy rule that refused (denied records). */
  rule?: string;
  member?: string;
  latencyMs: number;
  correlationId: string;
  policyVersion?: number;
  checkpoint?: AuditCheckpoint;
}

/** A record as stored: the entry, its place in the chain and its hash. */
export interface AuditRecord extends AuditEntry {
  seq: number;
  /** Hash of the previous record (64 zeros for the first). */
  prevHash: string;
  /** SHA-256 (hex) of the canonical JSON of every other field. */
  hash: string;
}

/** prevHash of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** The record's hash: SHA-256 of the canonical JSON of all fields but `hash`, absent ones as null. */
export function recordHash(r: Omit<AuditRecord, 'hash'>): string {
  const body = {
    v: 1,
    seq: r.seq,
    prevHash: r.prevHash,
    timestamp: r.timestamp,
    actor: r.actor,
    role: r.role,
    authMethod: r.authMethod,
    operation: r.operation,
    keyUri: r.keyUri ?? null,
    paramsDigest: r.paramsDigest,
    result: r.result,
    errorCode: r.errorCode ?? null,
    rule: r.rule ?? null,
    member: r.member ?? null,
    latencyMs: r.latencyMs,
    correlationId: r.correlationId,
    policyVersion: r.policyVersion ?? null,
    checkpoint: r.checkpoint ?? null,
  };
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** SHA-256 (hex) of the canonical JSON of an operation's non-secret parameters. */
export function paramsDigest(params: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(params)).digest('hex');
}
