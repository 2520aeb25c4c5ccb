import { HsmError, toHsmError } from '../errors/index.js';
import type { KeyDeleter } from '../kms/key-manager.js';
import type { CeremonyRepository } from '../store/ceremony-records.js';
import type { CeremonyAudit } from './ceremony-audit.js';

/** What an abort removed. */
export interface AbortResult {
  ceremonyId: string;
  deletedKeys: string[];
  /** Keys that could not be deleted (they stay, and are named in the audit record). */
  failedKeys: Array<{ uri: string; code: string }>;
}

/**
 * Aborts a running ceremony: records the reason, destroys the keys its steps generated (their
 * URIs are in the persisted progress, also for a step interrupted after generation), and marks
 * the run aborted so it can never resume. Output files stay for the investigation.
 */
export async function abortCeremony(
  o: { repo: CeremonyRepository; audit: CeremonyAudit; km: Partial<KeyDeleter> },
  ceremonyId: string,
  reason: string,
): Promise<AbortResult> {
  if (reason.trim().length < 5) throw new HsmError('HSM_ERR_INVALID_INPUT', 'an abort needs a reason');
  const run = await o.repo.getRun(ceremonyId);
  if (!run) throw new HsmError('HSM_ERR_CEREMONY_STATE', `no ceremony ${ceremonyId}`);
  if (run.status !== 'running')
    throw new HsmError('HSM_ERR_CEREMONY_STATE', `ceremony ${ceremonyId} is ${run.status}`);
  if (run.type === 'emergency') o.audit.breakGlass();
  const result: AbortResult = { ceremonyId, deletedKeys: [], failedKeys: [] };
  for (const step of await o.repo.listSteps(ceremonyId)) {
    const uri = step.progress.keyUri;
    const label = step.progress.generating;
    const ref = typeof uri === 'string' ? uri : typeof label === 'string' ? label : undefined;
    if (ref === undefined || !o.km.deleteKey) continue;
    try {
      await o.km.deleteKey(ref);
      result.deletedKeys.push(ref);
    } catch (err) {
      const e = toHsmError(err);
      // A generation that never happened leaves nothing to delete.
      if (e.code !== 'HSM_ERR_KEY_NOT_FOUND') result.failedKeys.push({ uri: ref, code: e.code });
    }
  }
  await o.repo.finishRun(ceremonyId, 'aborted');
  await o.audit.record('abort', {
    id: ceremonyId,
    reason,
    deletedKeys: result.deletedKeys,
    failedKeys: result.failedKeys,
  });
  return result;
}
