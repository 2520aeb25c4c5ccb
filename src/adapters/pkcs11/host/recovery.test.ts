import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CKR, CKR_VALUES } from '../../../errors/index.js';
import { mayRetry, type Recovery, recoveryFor } from './recovery.js';

const RECOVERIES: Recovery[] = ['evict-session', 'relogin', 'reload-module', 'fail-auth', 'none'];

describe('recoveryFor', () => {
  const cases: Array<[name: string, rv: number | undefined, recovery: Recovery]> = [
    ['CKR_SESSION_HANDLE_INVALID', CKR_VALUES.SESSION_HANDLE_INVALID, 'evict-session'],
    ['CKR_SESSION_CLOSED', CKR_VALUES.SESSION_CLOSED, 'evict-session'],
    ['CKR_OPERATION_ACTIVE', 0x90, 'evict-session'],
    ['CKR_USER_NOT_LOGGED_IN', CKR_VALUES.USER_NOT_LOGGED_IN, 'relogin'],
    ['CKR_DEVICE_ERROR', CKR_VALUES.DEVICE_ERROR, 'reload-module'],
    ['CKR_DEVICE_REMOVED', CKR_VALUES.DEVICE_REMOVED, 'reload-module'],
    ['CKR_CRYPTOKI_NOT_INITIALIZED', CKR_VALUES.CRYPTOKI_NOT_INITIALIZED, 'reload-module'],
    ['CKR_TOKEN_NOT_PRESENT', CKR_VALUES.TOKEN_NOT_PRESENT, 'reload-module'],
    ['CKR_SLOT_ID_INVALID', 0x03, 'reload-module'],
    ['CKR_TOKEN_NOT_RECOGNIZED', 0xe1, 'reload-module'],
    ['CKR_PIN_INCORRECT', CKR_VALUES.PIN_INCORRECT, 'fail-auth'],
    ['CKR_PIN_LOCKED', CKR_VALUES.PIN_LOCKED, 'fail-auth'],
    ['CKR_PIN_INVALID', 0xa1, 'fail-auth'],
    ['CKR_PIN_LEN_RANGE', 0xa2, 'fail-auth'],
    ['CKR_PIN_EXPIRED', 0xa3, 'fail-auth'],
    ['CKR_USER_PIN_NOT_INITIALIZED', 0x102, 'fail-auth'],
    ['CKR_OK', CKR_VALUES.OK, 'none'],
    ['CKR_GENERAL_ERROR', CKR_VALUES.GENERAL_ERROR, 'none'],
    ['CKR_KEY_HANDLE_INVALID', CKR_VALUES.KEY_HANDLE_INVALID, 'none'],
    ['CKR_OBJECT_HANDLE_INVALID', CKR_VALUES.OBJECT_HANDLE_INVALID, 'none'],
    ['CKR_MECHANISM_INVALID', CKR_VALUES.MECHANISM_INVALID, 'none'],
    ['CKR_USER_ALREADY_LOGGED_IN', CKR_VALUES.USER_ALREADY_LOGGED_IN, 'none'],
    ['a vendor-defined value', 0x80000001, 'none'],
    ['no CKR value at all', undefined, 'none'],
  ];
  for (const [name, rv, recovery] of cases) {
    it(`${name} → ${recovery}`, () => {
      assert.equal(recoveryFor(rv), recovery);
    });
  }
});

describe('mayRetry', () => {
  const cases: Array<[recovery: Recovery, idempotent: boolean, retry: boolean]> = [
    ['evict-session', true, true],
    ['evict-session', false, true],
    ['relogin', true, true],
    ['relogin', false, true],
    ['reload-module', true, true],
    ['reload-module', false, false],
    ['fail-auth', true, false],
    ['fail-auth', false, false],
    ['none', true, false],
    ['none', false, false],
  ];
  for (const [recovery, idempotent, retry] of cases) {
    it(`${recovery}, ${idempotent ? 'idempotent' : 'not idempotent'} → ${retry ? 'retry' : 'fail'}`, () => {
      assert.equal(mayRetry(recovery, idempotent), retry);
    });
  }

  it('never retries a refused PIN, whatever the operation', () => {
    for (const rv of [CKR_VALUES.PIN_INCORRECT, CKR_VALUES.PIN_LOCKED]) {
      for (const idempotent of [true, false]) assert.equal(mayRetry(recoveryFor(rv), idempotent), false);
    }
  });

  it('covers every recovery', () => {
    assert.deepEqual(new Set(cases.map(([r]) => r)), new Set(RECOVERIES));
  });
});

describe('docs/errors.md recovery table', () => {
  const HEADER = 'Recovery|CKR|What the member host does';

  it('lists exactly the CKR values that recoveryFor recovers from', () => {
    const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
    const lines = doc.split('\n').filter((l) => l.trimStart().startsWith('|'));
    const row = (line: string): string[] =>
      line
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((c) => c.trim());
    const start = lines.findIndex((l) => row(l).join('|') === HEADER);
    assert.notEqual(
      start,
      -1,
      `docs/errors.md lacks the recovery table "| ${HEADER.replaceAll('|', ' | ')} |"`,
    );

    const documented = new Map<string, string[]>();
    for (const line of lines.slice(start + 2)) {
      const [recovery, ckrs] = row(line);
      const name = recovery?.replaceAll('`', '') ?? '';
      if (!RECOVERIES.includes(name as Recovery)) break;
      documented.set(
        name,
        (ckrs ?? '').split(',').map((c) => c.trim().replaceAll('`', '')),
      );
    }

    const expected = new Map<string, string[]>();
    const byValue = Object.entries(CKR)
      .map(([k, e]) => [Number(k), e.name] as const)
      .sort((a, b) => a[0] - b[0]);
    for (const [rv, name] of byValue) {
      const recovery = recoveryFor(rv);
      if (recovery !== 'none') expected.set(recovery, [...(expected.get(recovery) ?? []), name]);
    }

    const sorted = (m: Map<string, string[]>) =>
      Object.fromEntries(
        [...m].map(([k, v]) => [k, [...v].sort()]).sort(([a], [b]) => String(a).localeCompare(String(b))),
      );
    const fix = [...expected]
      .map(([r, names]) => `  ${r}: ${names.map((n) => `\`${n}\``).join(', ')}`)
      .join('\n');
    assert.deepEqual(
      sorted(documented),
      sorted(expected),
      `docs/errors.md recovery table is out of date with recovery.ts; its CKR column should read:\n${fix}`,
    );
  });
});
