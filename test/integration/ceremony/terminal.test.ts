/**
 * The interactive approval source: a step is shown and must be confirmed with "yes", the
 * challenge lands in the approvals folder, and approval files are taken one path per line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { newChallenge } from '../../../src/ceremony/challenge.js';
import type { CeremonyStep } from '../../../src/ceremony/script-loader.js';
import { TerminalApprovalSource } from '../../../src/ceremony/terminal-approval-source.js';
import { HsmError } from '../../../src/errors/index.js';

const STEP = {
  number: 1,
  action: 'export-public-key',
  quorum: 2,
  params: { key: 'k', output: 'k.pem' },
} as CeremonyStep;

function terminal(dir: string, lines: string[]) {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (d: Buffer) => {
    shown += d.toString();
  });
  input.end(lines.map((l) => `${l}\n`).join(''));
  return { source: new TerminalApprovalSource(dir, input, output), shown: () => shown };
}

describe('interactive approvals', () => {
  it('asks for confirmation, publishes the challenge and reads approval paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hsmkit-term-'));
    try {
      const challenge = newChallenge('term', 'ab'.repeat(32), STEP);
      const a = join(dir, 'a.json');
      writeFileSync(a, JSON.stringify({ hello: 1 }));
      const t = terminal(dir, ['yes']);
      const file = await t.source.publish(challenge, STEP);
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).nonce, challenge.nonce);
      assert.match(t.shown(), /Step 1: export-public-key/);
      const got = await terminal(dir, [a, '']).source.collect(challenge, 2);
      assert.deepEqual(got, [{ source: a, value: { hello: 1 } }]);
      await assert.rejects(terminal(dir, ['no']).source.publish(challenge, STEP), (e: unknown) =>
        HsmError.is(e, 'HSM_ERR_CEREMONY_STATE'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
