import type { ApprovalSource } from './approval-source.js';
import type { ApprovalInput } from './approval-verifier.js';
import type { Challenge } from './challenge.js';
import type { CeremonyStep } from './script-loader.js';

/**
 * Approvals from several places at once — files in the approvals folder and approvals posted to
 * the service (kept in the store) — so custodians may use either. Every approval is still checked
 * by the runner, which counts each custodian once whichever way it arrived. With `waitMs` the
 * sources are polled until `needed` approvals are present or the time is up.
 */
export class CombinedApprovalSource implements ApprovalSource {
  constructor(
    private readonly sources: readonly ApprovalSource[],
    private readonly waitMs = 0,
    private readonly pollMs = 500,
  ) {}

  async publish(challenge: Challenge, step: CeremonyStep): Promise<string | undefined> {
    let where: string | undefined;
    for (const s of this.sources) where ??= await s.publish(challenge, step);
    return where;
  }

  async collect(challenge: Challenge, needed: number): Promise<ApprovalInput[]> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const found = (await Promise.all(this.sources.map((s) => s.collect(challenge, needed)))).flat();
      if (found.length >= needed || Date.now() >= deadline) return found;
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }
}
