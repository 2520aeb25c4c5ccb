import type { PolicyDocument } from '../policy-document.js';
import { type PolicyRequest, type Refusal, refuse } from '../policy-request.js';

/** Export rules: never, only under a trusted wrapping key, or only with an M-of-N quorum. */
export function checkExport(doc: PolicyDocument, req: PolicyRequest): Refusal | undefined {
  const ex = doc.export;
  const asked = req.export ?? { approvals: 0 };
  if (ex.mode === 'never') return refuse('export.mode', 'keys may never leave the HSM');
  if (req.key && !req.key.extractable) {
    return refuse('security_policy.key_attributes.extractable', 'the key is not extractable');
  }
  if (ex.mode === 'wrap_trusted') {
    if (asked.wrappingKey === undefined || !ex.trusted_wrapping_keys.includes(asked.wrappingKey)) {
      return refuse('export.trusted_wrapping_keys', 'keys may be wrapped only under a trusted cluster key');
    }
    return undefined;
  }
  const m = ex.quorum?.m ?? Number.POSITIVE_INFINITY;
  if (asked.approvals < m)
    return refuse('export.quorum', `a backup export needs ${m} approvals, has ${asked.approvals}`);
  return undefined;
}
