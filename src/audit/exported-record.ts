import { z } from 'zod';
import { HsmError } from '../errors/index.js';
import type { AuditRecord } from './audit-record.js';

const text = z.string().max(4096);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * The exact shape of one exported audit record. Strict: a field outside the hashed set would ride
 * along unverified, so it is refused, as are non-finite numbers and anything nested where a
 * record has flat values (an export is untrusted input to the offline verifier).
 */
const recordSchema = z.strictObject({
  seq: count,
  prevHash: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  timestamp: text,
  actor: text,
  role: text,
  authMethod: text,
  operation: text,
  keyUri: text.optional(),
  paramsDigest: text,
  result: z.enum(['ok', 'denied', 'error']),
  errorCode: text.optional(),
  rule: text.optional(),
  member: text.optional(),
  latencyMs: count,
  correlationId: text,
  policyVersion: count.optional(),
  checkpoint: z
    .strictObject({
      payload: z.string().max(8192),
      signature: z.string().max(2048),
      algorithm: text,
      keyUri: text,
    })
    .optional(),
});

/** Parses one line of an audit export; anything not exactly a record is HSM_ERR_INVALID_INPUT naming the line. */
export function parseExportedRecord(line: string, lineNumber: number, file: string): AuditRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${file} line ${lineNumber} is not JSON`);
  }
  const parsed = recordSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` (${issue.path.join('.')})` : '';
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${file} line ${lineNumber} is not an audit record${where}`);
  }
  return parsed.data as AuditRecord;
}
