/**
 * The full-run secrets scan (scripts/scan-test-run.mts, run by scripts/test.sh after every test)
 * can fail: a test PIN in the output or a left-over file, in any encoding it looks for, fails it
 * and is reported by file and encoding without the PIN; a clean run passes; PIN files (where a PIN
 * belongs) are skipped; the PIN record is deleted. Fixture PINs follow the scheme it searches for.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createSoftHsmToken } from '../support/softhsm.js';
import { TEST_PIN_PATTERN, testPin } from '../support/test-pins.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCAN = join(ROOT, 'scripts/scan-test-run.mts');

function runDir(log: string | Buffer, files: Record<string, string | Buffer> = {}, pins: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-scan-'));
  writeFileSync(join(dir, 'test.log'), log);
  writeFileSync(join(dir, 'pins'), pins.map((p) => `${p}\n`).join(''), { mode: 0o600 });
  mkdirSync(join(dir, 'tmp', 'sub'), { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, 'tmp', 'sub', name), data);
  return dir;
}

function scan(dir: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SCAN, dir], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr, pinsLeft: existsSync(join(dir, 'pins')) };
}

describe('full-run secrets scan', () => {
  it('fixture PINs are random and in the scanned scheme', () => {
    const t = createSoftHsmToken();
    try {
      for (const pin of [t.userPin, t.soPin]) assert.match(pin, new RegExp(`^${TEST_PIN_PATTERN.source}$`));
      assert.notEqual(t.userPin, t.soPin);
    } finally {
      t.cleanup();
    }
  });

  it('a clean run passes; PIN files are skipped; the PIN record is deleted', () => {
    const pin = testPin();
    const dir = runDir(
      'ok 1 - everything\n# pass 1\n',
      { 'user-pin': `${pin}\n`, 'store.db': 'no secrets' },
      [pin],
    );
    try {
      const r = scan(dir);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /1 PIN files skipped; 0 hit/);
      assert.equal(r.pinsLeft, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const [encoding, form] of [
    ['utf8', (p: string) => `error: login failed with ${p}\n`],
    ['utf16le', (p: string) => Buffer.from(`pin=${p}`, 'utf16le')],
    ['hex', (p: string) => `bytes ${Buffer.from(p).toString('hex').toUpperCase()}`],
    ['base64', (p: string) => `blob ${Buffer.from(`xx${p}yy`).toString('base64')}`],
  ] as const) {
    it(`a PIN in ${encoding} in the output or a left-over file fails the scan, without printing it`, () => {
      const pin = testPin();
      for (const where of ['log', 'file'] as const) {
        const text = form(pin);
        const dir =
          where === 'log'
            ? runDir(text, {}, [pin])
            : runDir(
                'clean\n',
                { 'hsmkit.db-wal': Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(text)]) },
                [],
              );
        try {
          const r = scan(dir);
          assert.equal(r.code, 1, `${encoding} in ${where}: ${r.out}`);
          assert.match(r.out, new RegExp(`\\(${encoding}`));
          assert.ok(!r.out.includes(pin), 'the scan never prints a PIN');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });
  }
});
