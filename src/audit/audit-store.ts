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
  /** Fails unless a record could be appended now (writes nothing). */
  probe(): Promise<void>;
  /** The last record, if any. */
  tip(): Promise<AuditRecord | undefined>;
  /** Records in sequence order, optionally limited by seq or timestamp (inclusive). */
  list(range?: AuditRange): Promise<AuditRecord[]>;
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
