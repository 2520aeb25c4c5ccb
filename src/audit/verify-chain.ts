import { type AuditRecord, GENESIS_HASH, recordHash } from './audit-record.js';
import { checkpointPayload, checkpointSignatureValid } from './checkpoint.js';

/** The first problem found in a log. */
export interface ChainBreak {
  /** The seq of the record that is wrong (or of the record expected where one is missing). */
  seq: number;
  /** What is wrong: `hash`, `prev_hash`, `sequence`, `checkpoint_signature`, `checkpoint_target`. */
  reason: string;
  message: string;
}

/** What a verification found. */
export interface ChainReport {
  ok: boolean;
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  /** Checkpoints whose signature verified. */
  checkpoints: number;
  /** Seq of the last record a valid checkpoint covers. */
  lastCheckpointedSeq?: number;
  /** Records after the last valid checkpoint (only the hash chain protects them). */
  uncheckpointed: number;
  firstBreak?: ChainBreak;
}

/**
 * Verifies records in seq order: every record's own hash, the link to its predecessor, no gap
 * in the sequence, and every checkpoint's signature and target. With `anchored` false (an export
 * of a later range) the first record's prevHash is taken as given.
 */
export function verifyChain(
  records: AuditRecord[],
  publicKeyPem: string | undefined,
  anchored = true,
): ChainReport {
  const report: ChainReport = { ok: true, records: records.length, checkpoints: 0, uncheckpointed: 0 };
  const bySeq = new Map<number, AuditRecord>();
  const fail = (seq: number, reason: string, message: string): ChainReport => {
    report.ok = false;
    report.firstBreak = { seq, reason, message };
    return report;
  };
  let prev: AuditRecord | undefined;
  for (const r of records) {
    if (report.firstSeq === undefined) report.firstSeq = r.seq;
    const { hash, ...rest } = r;
    if (recordHash(rest) !== hash)
      return fail(r.seq, 'hash', `record ${r.seq} was altered: its hash does not match its fields`);
    if (prev === undefined) {
      if (anchored && r.seq !== 1)
        return fail(1, 'sequence', `record 1 is missing; the log starts at ${r.seq}`);
      if (anchored && r.prevHash !== GENESIS_HASH)
        return fail(r.seq, 'prev_hash', `record ${r.seq} does not start the chain`);
    } else {
      if (r.seq !== prev.seq + 1) {
        return fail(
          prev.seq + 1,
          'sequence',
          `record ${prev.seq + 1} is missing or out of order (found ${r.seq} after ${prev.seq})`,
        );
      }
      if (r.prevHash !== prev.hash)
        return fail(r.seq, 'prev_hash', `record ${r.seq} does not follow record ${prev.seq}`);
    }
    if (r.checkpoint !== undefined) {
      const p = checkpointPayload(r.checkpoint);
      if (p === undefined)
        return fail(r.seq, 'checkpoint_payload', `record ${r.seq} carries no valid checkpoint payload`);
      const target = bySeq.get(p.seq);
      if (target !== undefined && target.hash !== p.hash) {
        return fail(
          p.seq,
          'checkpoint_target',
          `record ${p.seq} differs from what checkpoint ${r.seq} signed`,
        );
      }
      if (publicKeyPem !== undefined) {
        if (!checkpointSignatureValid(r.checkpoint, publicKeyPem)) {
          return fail(r.seq, 'checkpoint_signature', `the signature of checkpoint ${r.seq} does not verify`);
        }
        report.checkpoints++;
        if (target !== undefined) report.lastCheckpointedSeq = p.seq;
      }
    }
    bySeq.set(r.seq, r);
    prev = r;
    report.lastSeq = r.seq;
  }
  const covered = report.lastCheckpointedSeq ?? (report.firstSeq === undefined ? 0 : report.firstSeq - 1);
  report.uncheckpointed = records.filter((r) => r.seq > covered && r.checkpoint === undefined).length;
  return report;
}
