import type { AuditRecord } from './audit-record.js';

/**
 * Where audit records live. Append-only by contract: there is no update or delete. `append`
 * must read the chain's tip and insert the next record atomically with respect to every other
 * writer (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction holding an advisory lock), and
 * builds the record (its place and hash) by calling `seal` inside that critical section.
 */
export interface AuditStore {
  /** Appends one record after the current tip. */
  append(seal: (seq: number, prevHash: string) => AuditRecord): Promise<AuditRecord>;
  /**
   * Appends several records in order in one atomic step (all or none), each sealed after the
   * one before it: a group commit. Optional; without it they are appended one by one.
   */
  appendMany?(seals: ReadonlyArray<(seq: number, prevHash: string) => AuditRecord>): Promise<AuditRecord[]>;
  /** Fails unless a record could be appended now (writes nothing). */
  probe(): Promise<void>;
  /** The last record, if any. */
  tip(): Promise<AuditRecord | undefined>;
  /** Records in sequence order, optionally limited by seq or timestamp (inclusive). */
  list(range?: AuditRange): Promise<AuditRecord[]>;
  /**
   * Retention, the one removal there is: records 1..throughSeq, already exported and signed,
   * are removed and an anchor (their last hash) is kept, atomically with respect to appends.
   */
  archive?(anchor: AuditArchiveAnchor): Promise<void>;
  /** The latest retention anchor, if records were ever archived. */
  archiveAnchor?(): Promise<AuditArchiveAnchor | undefined>;
}

/** Where the kept chain starts after retention removed older records. */
export interface AuditArchiveAnchor {
  throughSeq: number;
  lastHash: string;
  exportDir: string;
  recordsSha256: string;
  archivedAt: string;
}

/** A slice of the log. */
export interface AuditRange {
  fromSeq?: number;
  toSeq?: number;
  /** ISO-8601. */
  fromTime?: string;
  /** ISO-8601. */
  toTime?: string;
}
