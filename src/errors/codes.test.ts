import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CKR } from './ckr.js';
import { ALL_ERROR_CODES, ERROR_CODES, type ErrorCode, isErrorCode } from './codes.js';

/**
 * Keeps docs/errors.md in step with the code table (codes.ts) and the CKR table (ckr.ts), in the
 * manner of fastify's test/internals/errors.test.js. When a table changes, this test fails and
 * prints the table the docs should contain; paste it over the old one.
 */

const DOC_URL = new URL('../../docs/errors.md', import.meta.url);
const DOC = readFileSync(DOC_URL, 'utf8');

const CODE_HEADER = ['Code', 'HTTP', 'Retryable', 'Meaning'];
const CKR_HEADER = ['CKR', 'Value', 'hsmkit code'];

/**
 * Codes that no CKR value maps to: hsmkit raises them itself (input and URI validation, the
 * key index, the member supervisor, the store). Every other code must be reachable from the CKR
 * table, so a code that is neither is dead and should be removed or mapped.
 */
const RAISED_BY_HSMKIT: readonly ErrorCode[] = [
  'HSM_ERR_BACKUP_INVALID',
  'HSM_ERR_INVALID_URI',
  'HSM_ERR_KEY_AMBIGUOUS',
  'HSM_ERR_KEY_EXISTS',
  'HSM_ERR_MEMBER_CRASHED',
  'HSM_ERR_UNAVAILABLE',
  'HSM_ERR_TIMEOUT',
  'HSM_ERR_INTEGRITY',
  'HSM_ERR_STORE',
  'HSM_ERR_STORE_UNAVAILABLE',
  'HSM_ERR_POLICY_VIOLATION',
  'HSM_ERR_AUDIT',
  'HSM_ERR_AUDIT_CHAIN',
  'HSM_ERR_NONCOMPLIANT',
  'HSM_ERR_CEREMONY_SCRIPT',
  'HSM_ERR_CEREMONY_STATE',
  'HSM_ERR_CEREMONY_WINDOW',
  'HSM_ERR_QUORUM',
  'HSM_ERR_APPROVAL_REFUSED',
  'HSM_ERR_TRANSCRIPT_INVALID',
  'HSM_ERR_SHARE_INVALID',
  // The HTTP service (src/server): authentication, limits, routes and jobs.
  'HSM_ERR_UNAUTHENTICATED',
  'HSM_ERR_MFA_REQUIRED',
  'HSM_ERR_RATE_LIMITED',
  'HSM_ERR_PAYLOAD_TOO_LARGE',
  'HSM_ERR_MEDIA_TYPE',
  'HSM_ERR_NOT_FOUND',
  'HSM_ERR_INTERRUPTED',
  'HSM_ERR_IDEMPOTENCY_MISMATCH',
  'HSM_ERR_IDEMPOTENCY_IN_PROGRESS',
];

// ---- rendering: what docs/errors.md should contain ----

const escapeCell = (text: string): string => text.replaceAll('|', '\\|');

/** `0x000000A0`: 8 upper-case hex digits, as in pkcs11t.h. */
const ckrHex = (value: number): string => `0x${value.toString(16).toUpperCase().padStart(8, '0')}`;

const ckrEntries = (): Array<{ value: number; name: string; code: ErrorCode }> =>
  Object.entries(CKR)
    .map(([key, entry]) => ({ value: Number(key), ...entry }))
    .sort((a, b) => a.value - b.value);

/** A markdown table with padded columns, the way `biome format` lays it out. */
function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function expectedCodeRows(): string[][] {
  return ALL_ERROR_CODES.map((code) => {
    const { status, retryable, summary } = ERROR_CODES[code];
    return [code, String(status), retryable ? 'yes' : 'no', summary];
  });
}

function expectedCkrRows(): string[][] {
  return ckrEntries().map(({ value, name, code }) => [name, ckrHex(value), code]);
}

const codeTable = (): string =>
  renderTable(
    CODE_HEADER,
    expectedCodeRows().map(([code, status, retryable, summary]) => [
      `\`${code}\``,
      status!,
      retryable!,
      escapeCell(summary!),
    ]),
  );

const ckrTable = (): string =>
  renderTable(
    CKR_HEADER,
    expectedCkrRows().map(([name, value, code]) => [`\`${name}\``, value!, `\`${code}\``]),
  );

// ---- parsing docs/errors.md ----

/** Splits a markdown table row into cells: unescaped pipes separate, surrounding backticks go. */
function cells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return inner
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replaceAll('\\|', '|'))
    .map((cell) => cell.replace(/^`([^`]*)`$/, '$1'));
}

/** Every markdown table in `md`, as header cells and body rows (the --- row dropped). */
function tables(md: string): Array<{ header: string[]; rows: string[][] }> {
  const out: Array<{ header: string[]; rows: string[][] }> = [];
  let block: string[] = [];
  for (const line of [...md.split('\n'), '']) {
    if (line.trimStart().startsWith('|')) {
      block.push(line);
      continue;
    }
    if (block.length >= 2) {
      const [head, separator, ...body] = block;
      if (cells(separator!).every((c) => /^:?-{3,}:?$/.test(c))) {
        out.push({ header: cells(head!), rows: body.map(cells) });
      }
    }
    block = [];
  }
  return out;
}

/** The body rows of the one table in docs/errors.md with this header. */
function docTable(header: string[]): string[][] {
  const found = tables(DOC).filter((t) => t.header.join('|') === header.join('|'));
  assert.equal(
    found.length,
    1,
    `docs/errors.md must hold exactly one table with header "| ${header.join(' | ')} |", found ${found.length}`,
  );
  return found[0]!.rows;
}

/** Describes how `actual` rows differ from `expected` rows, one line per difference. */
function rowDiff(actual: string[][], expected: string[][], columns: string[]): string[] {
  const diffs: string[] = [];
  const key = (row: string[] | undefined): string => row?.[0] ?? '(none)';
  const expectedKeys = new Set(expected.map(key));
  const actualKeys = new Set(actual.map(key));
  for (const k of expectedKeys) if (!actualKeys.has(k)) diffs.push(`missing row: ${k}`);
  for (const k of actualKeys)
    if (!expectedKeys.has(k)) diffs.push(`extra row (not in the source table): ${k}`);
  const seen = new Set<string>();
  for (const row of actual) {
    if (seen.has(key(row))) diffs.push(`duplicate row: ${key(row)}`);
    seen.add(key(row));
  }
  if (diffs.length === 0) {
    for (let i = 0; i < expected.length; i++) {
      const want = expected[i]!;
      const got = actual[i]!;
      if (key(got) !== key(want)) {
        diffs.push(`row ${i + 1} is ${key(got)}, expected ${key(want)} (rows must be in source order)`);
        break;
      }
      for (let c = 1; c < columns.length; c++) {
        if (got[c] !== want[c]) {
          diffs.push(`${key(want)}: ${columns[c]} is "${got[c] ?? ''}", expected "${want[c]}"`);
        }
      }
      if (got.length !== want.length)
        diffs.push(`${key(want)}: has ${got.length} cells, expected ${want.length}`);
    }
  }
  return diffs;
}

function outOfDate(section: string, diffs: string[], table: string): string {
  return [
    `docs/errors.md is out of date (section "${section}"):`,
    ...diffs.map((d) => `  - ${d}`),
    '',
    `Regenerate: replace that table in docs/errors.md with this one (printed by src/errors/codes.test.ts):`,
    '',
    table,
    '',
  ].join('\n');
}

// ---- tests ----

describe('docs/errors.md', () => {
  it('lists every code of ERROR_CODES in table order, with its status, retryable flag and summary', () => {
    const diffs = rowDiff(docTable(CODE_HEADER), expectedCodeRows(), CODE_HEADER);
    assert.deepEqual(diffs, [], outOfDate('Codes', diffs, codeTable()));
  });

  it('lists every CKR value with its name, 0x value and code, in numeric order, and nothing else', () => {
    const diffs = rowDiff(docTable(CKR_HEADER), expectedCkrRows(), CKR_HEADER);
    assert.deepEqual(diffs, [], outOfDate('PKCS#11 return values', diffs, ckrTable()));
  });

  it('writes CKR values as 0x followed by 8 upper-case hex digits', () => {
    for (const [name, value] of docTable(CKR_HEADER)) {
      assert.match(value ?? '', /^0x[0-9A-F]{8}$/, `docs/errors.md: ${name} has value "${value}"`);
    }
  });

  it('says that unknown and vendor-defined CKR values map to HSM_ERR_INTERNAL', () => {
    const section = DOC.slice(DOC.indexOf('## PKCS#11 return values'));
    assert.ok(DOC.includes('## PKCS#11 return values'), 'docs/errors.md lacks "## PKCS#11 return values"');
    assert.match(section, /vendor-defined/i);
    assert.match(section, /HSM_ERR_INTERNAL/);
  });
});

describe('ERROR_CODES', () => {
  it('names every code HSM_ERR_ followed by upper-case words', () => {
    for (const code of ALL_ERROR_CODES) {
      assert.match(code, /^HSM_ERR_[A-Z_]+$/, `bad code name ${code}`);
      assert.ok(isErrorCode(code));
    }
  });

  it('gives every code an HTTP error status (400-599), a boolean retryable and a one-line summary', () => {
    for (const code of ALL_ERROR_CODES) {
      const { status, retryable, summary } = ERROR_CODES[code];
      assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: status ${status}`);
      assert.equal(typeof retryable, 'boolean', `${code}: retryable`);
      assert.ok(summary.trim().length > 0, `${code}: empty summary`);
      assert.doesNotMatch(summary, /\n/, `${code}: summary must fit one table row`);
    }
  });

  it('rejects what is not a code', () => {
    for (const value of [
      'HSM_ERR_NOPE',
      'hsm_err_internal',
      '',
      'toString',
      '__proto__',
      42,
      undefined,
      null,
    ]) {
      assert.equal(isErrorCode(value), false, String(value));
    }
  });

  it('maps every code from at least one CKR value, or lists it as raised by hsmkit itself', () => {
    const fromCkr = new Set(Object.values(CKR).map((entry) => entry.code));
    const allowed = new Set<ErrorCode>(RAISED_BY_HSMKIT);
    const orphans = ALL_ERROR_CODES.filter((code) => !fromCkr.has(code) && !allowed.has(code));
    assert.deepEqual(
      orphans,
      [],
      'these codes are neither mapped from a CKR value (src/errors/ckr.ts) nor in RAISED_BY_HSMKIT ' +
        '(src/errors/codes.test.ts): map them, add them to the list if hsmkit raises them, or remove them',
    );
  });

  it('keeps RAISED_BY_HSMKIT to real codes that no CKR value maps to', () => {
    const fromCkr = new Set(Object.values(CKR).map((entry) => entry.code));
    for (const code of RAISED_BY_HSMKIT) {
      assert.ok(isErrorCode(code), `RAISED_BY_HSMKIT lists ${code}, which is not in ERROR_CODES`);
      assert.ok(!fromCkr.has(code), `RAISED_BY_HSMKIT lists ${code}, but a CKR value maps to it: drop it`);
    }
    assert.equal(new Set(RAISED_BY_HSMKIT).size, RAISED_BY_HSMKIT.length, 'RAISED_BY_HSMKIT has duplicates');
  });
});
