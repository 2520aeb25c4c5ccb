import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApprovalInput } from './approval-verifier.js';
import type { Challenge } from './challenge.js';
import type { CeremonyStep } from './script-loader.js';

/** Where challenges are shown and approvals come from: files (non-interactive) or a terminal. */
export interface ApprovalSource {
  /** Makes the challenge available to the custodians; returns where (a path), if anywhere. */
  publish(challenge: Challenge, step: CeremonyStep): Promise<string | undefined>;
  /** The approvals received so far for the challenge; `needed` is the step's quorum. */
  collect(challenge: Challenge, needed: number): Promise<ApprovalInput[]>;
}

/** The challenge file of a step in an approvals folder. */
export function challengeFile(dir: string, c: Pick<Challenge, 'ceremonyId' | 'step'>): string {
  return join(dir, `${c.ceremonyId}.step-${c.step}.challenge.json`);
}

/** Default name of a custodian's approval next to the challenge file. */
export function approvalFile(challengePath: string, custodian: string): string {
  return `${challengePath.replace(/\.challenge\.json$/, '')}.${custodian}.approval.json`;
}

/**
 * Non-interactive approvals from a folder: the challenge is written as
 * `<id>.step-<n>.challenge.json` and approvals are read from `<id>.step-<n>.*.approval.json`.
 * With `waitMs` the folder is polled until `needed` approvals are present or the time is up.
 */
export class DirectoryApprovalSource implements ApprovalSource {
  constructor(
    private readonly dir: string,
    private readonly waitMs = 0,
    private readonly pollMs = 500,
  ) {}

  async publish(challenge: Challenge): Promise<string> {
    const file = challengeFile(this.dir, challenge);
    // Rewritten when a new challenge is issued for the step: the old one is superseded anyway.
    writeFileSync(file, `${JSON.stringify(challenge, null, 2)}\n`, { mode: 0o644 });
    return file;
  }

  async collect(challenge: Challenge, needed: number): Promise<ApprovalInput[]> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const found = this.read(challenge);
      if (found.length >= needed || Date.now() >= deadline) return found;
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  private read(challenge: Challenge): ApprovalInput[] {
    if (!existsSync(this.dir)) return [];
    const prefix = `${challenge.ceremonyId}.step-${challenge.step}.`;
    return readdirSync(this.dir)
      .filter((f) => f.startsWith(prefix) && f.endsWith('.approval.json'))
      .sort()
      .map((f) => {
        const source = join(this.dir, f);
        try {
          return { source, value: JSON.parse(readFileSync(source, 'utf8')) as unknown };
        } catch {
          return { source, value: null };
        }
      });
  }
}
