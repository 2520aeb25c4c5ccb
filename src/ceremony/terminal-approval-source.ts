import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { HsmError } from '../errors/index.js';
import type { ApprovalSource } from './approval-source.js';
import { DirectoryApprovalSource } from './approval-source.js';
import type { ApprovalInput } from './approval-verifier.js';
import type { Challenge } from './challenge.js';
import type { CeremonyStep } from './script-loader.js';

/**
 * Interactive approvals on a terminal: shows each step, asks the operator to confirm it, writes
 * the challenge into the approvals folder, then takes approval file paths one per line (an empty
 * line ends the list; files already in the folder count too).
 */
export class TerminalApprovalSource implements ApprovalSource {
  private readonly files: DirectoryApprovalSource;

  constructor(
    dir: string,
    private readonly input: NodeJS.ReadableStream = process.stdin,
    private readonly output: NodeJS.WritableStream = process.stderr,
  ) {
    this.files = new DirectoryApprovalSource(dir);
  }

  async publish(challenge: Challenge, step: CeremonyStep): Promise<string> {
    this.output.write(
      `\nStep ${step.number}: ${step.action}${step.description ? ` — ${step.description}` : ''}\n` +
        `  parameters: ${JSON.stringify(step.params)}\n  parameter hash: ${challenge.paramsSha256}\n` +
        `  approvals needed: ${step.quorum}\n`,
    );
    const [answer] = await this.lines(['Type "yes" to proceed with this step: ']);
    if (answer?.trim() !== 'yes')
      throw new HsmError('HSM_ERR_CEREMONY_STATE', `step ${step.number} was not confirmed`);
    const file = await this.files.publish(challenge);
    this.output.write(
      `  challenge: ${file}\n  custodians: hsmkit ceremony approve --challenge ${file} --key <label> --config <custodian.yaml>\n`,
    );
    return file;
  }

  async collect(challenge: Challenge, needed: number): Promise<ApprovalInput[]> {
    const found = await this.files.collect(challenge, needed);
    const rl = createInterface({ input: this.input, terminal: false });
    const it = rl[Symbol.asyncIterator]();
    try {
      while (found.length < needed) {
        this.output.write(`Approval file (${found.length}/${needed}, empty line to stop): `);
        const next = await it.next();
        const line = next.done ? '' : String(next.value).trim();
        if (line === '') break;
        try {
          found.push({ source: line, value: JSON.parse(readFileSync(line, 'utf8')) as unknown });
        } catch {
          this.output.write('  cannot read that file as JSON\n');
        }
      }
    } finally {
      rl.close();
    }
    return found;
  }

  /** Writes each prompt and reads one line for it; an ended input gives empty answers. */
  private async lines(prompts: string[]): Promise<string[]> {
    // An async iterator, not question(): lines already buffered on the stream are not lost.
    const rl = createInterface({ input: this.input, terminal: false });
    const it = rl[Symbol.asyncIterator]();
    const out: string[] = [];
    try {
      for (const p of prompts) {
        this.output.write(p);
        const next = await it.next();
        out.push(next.done ? '' : String(next.value));
      }
    } finally {
      rl.close();
    }
    return out;
  }
}
