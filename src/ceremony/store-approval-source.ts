import type { CeremonyRepository } from '../store/ceremony-records.js';
import type { ApprovalSource } from './approval-source.js';
import type { ApprovalInput } from './approval-verifier.js';
import type { Challenge } from './challenge.js';

/** An approval posted over the API and kept with its step until the ceremony collects it. */
export interface PostedApproval {
  /** Where it came from, for the transcript (`api:<custodian>`). */
  source: string;
  /** ISO-8601 UTC. */
  receivedAt: string;
  /** The approval as the custodian signed it (`hsmkit.ceremony.approval`). */
  approval: unknown;
}

/**
 * Approvals posted to the service (`POST /v1/ceremonies/:id/approvals`): they wait in the step's
 * record while it awaits approval, and the ceremony runner collects them like approval files —
 * and checks each again against the script (participants, sites, biometrics) before it counts.
 * The challenge itself is published by the store: `GET /v1/ceremonies/:id` shows it.
 */
export class StoreApprovalSource implements ApprovalSource {
  constructor(private readonly repo: CeremonyRepository) {}

  async publish(): Promise<string | undefined> {
    return undefined;
  }

  async collect(challenge: Challenge): Promise<ApprovalInput[]> {
    const rec = (await this.repo.listSteps(challenge.ceremonyId)).find((r) => r.step === challenge.step);
    if (rec?.status !== 'awaiting_approval' || !Array.isArray(rec.approvals)) return [];
    return (rec.approvals as PostedApproval[]).map((p) => ({ source: p.source, value: p.approval }));
  }
}
