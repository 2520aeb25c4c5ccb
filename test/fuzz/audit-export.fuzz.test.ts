/**
 * Fuzz: the offline audit-export verifier (`verifyAuditExport`, `hsmkit audit verify --export`).
 * A real export is made from a governed SoftHSM session (hash chain plus an HSM-signed checkpoint).
 * Whatever audit.jsonl holds, the verifier returns a report or throws a typed HsmError; a change to
 * any hashed field of any record is reported (ok: false), never accepted.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Pkcs11KeyManager } from '../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { EXPORT_FILES, verifyAuditExport, writeAuditExport } from '../../src/audit/audit-export.js';
import { type AuditRecord, recordHash } from '../../src/audit/audit-record.js';
import { canonicalJson } from '../../src/audit/canonical-json.js';
import type { ChainReport } from '../../src/audit/verify-chain.js';
import { openGovernance } from '../../src/governance/open-governance.js';
import { Store } from '../../src/store/store.js';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm.js';
import { mutationsOf } from './support/der-arbitraries.js';
import {
  assertPrototypeClean,
  Bounds,
  checkCorpus,
  describeInput,
  fuzzParams,
  HUGE_INPUT_LIMITS,
  hugeString,
  PROTOTYPE_KEYS,
  typedOutcome,
} from './support/harness.js';

const CODES = ['HSM_ERR_INVALID_INPUT', 'HSM_ERR_AUDIT_CHAIN'] as const;
/** The fields recordHash covers (src/audit/audit-record.ts). */
const HASHED = [
  'seq',
  'prevHash',
  'timestamp',
  'actor',
  'role',
  'authMethod',
  'operation',
  'keyUri',
  'paramsDigest',
  'result',
  'errorCode',
  'rule',
  'member',
  'latencyMs',
  'correlationId',
  'policyVersion',
  'checkpoint',
] as const;

describe('fuzz: audit export verifier', () => {
  let token: SoftHsmToken;
  let work: string;
  let seedDir: string;
  let records: AuditRecord[];
  let pem: string;
  let n = 0;

  before(async () => {
    token = createSoftHsmToken();
    work = mkdtempSync(join(tmpdir(), 'hsmkit-fuzz-audit-'));
    const store = await Store.openMemory();
    const km = await Pkcs11KeyManager.open(token.member() as never, { store: store.keys });
    try {
      const g = await openGovernance({
        inner: km,
        db: store.db,
        security: {
          minimumKeySize: {},
          keyAttributes: { extractable: false, persistent: true, sensitive: true },
        },
      });
      await g.km.createKey({ label: 'fuzz-audit', type: 'ec-p256' });
      for (let i = 0; i < 5; i++) await g.km.sign({ key: 'fuzz-audit', data: Buffer.from(`m${i}`) });
      await g.km.sign({ key: 'no-such-key', data: Buffer.from('x') }).catch(() => undefined);
      assert.equal(await g.governor.checkpoint(), undefined);
      await g.km.sign({ key: 'fuzz-audit', data: Buffer.from('after') });
      pem = (await g.auditKey()).publicKeyPem;
      records = await g.auditStore.list();
      seedDir = join(work, 'seed');
      writeAuditExport(seedDir, records, pem);
    } finally {
      await km.close();
      await store.close();
    }
  });

  after(() => {
    rmSync(work, { recursive: true, force: true });
    token?.cleanup();
  });

  /** An export folder with the seed's key and manifest and `jsonl` as its records. */
  function exportWith(jsonl: string | Uint8Array): string {
    const dir = join(work, `e${n++}`);
    mkdirSync(dir);
    copyFileSync(join(seedDir, EXPORT_FILES.publicKey), join(dir, EXPORT_FILES.publicKey));
    copyFileSync(join(seedDir, EXPORT_FILES.manifest), join(dir, EXPORT_FILES.manifest));
    writeFileSync(join(dir, EXPORT_FILES.records), jsonl);
    return dir;
  }

  function verify(jsonl: string | Uint8Array) {
    const dir = exportWith(jsonl);
    try {
      return typedOutcome<ChainReport>(
        () => verifyAuditExport(dir),
        CODES,
        () => describeInput(typeof jsonl === 'string' ? jsonl : Buffer.from(jsonl).toString('latin1')),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const lines = () => records.map((r) => canonicalJson(r));

  it('the real export verifies, with its HSM-signed checkpoint', () => {
    const report = verifyAuditExport(seedDir);
    assert.equal(report.ok, true, JSON.stringify(report.firstBreak));
    assert.ok(report.checkpoints >= 1);
    assert.equal(report.records, records.length);
  });

  it('committed corpus: every malformed audit.jsonl is reported broken or refused with a typed error', async () => {
    await checkCorpus('audit-export', (file) => {
      const out = verify(file.bytes);
      return out.ok && out.value.ok;
    });
    assertPrototypeClean();
  });

  it('any change to a hashed field of any record is reported (ok: false), never accepted', () => {
    const bounds = new Bounds('verifyAuditExport(field tamper)');
    fc.assert(
      fc.property(
        fc.nat(),
        fc.constantFrom(...HASHED),
        fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.integer(),
          fc.constantFrom('0'.repeat(64), 'ok', 'denied', 'admin', null),
        ),
        (ri, field, value) => {
          const i = ri % records.length;
          const changed = { ...records[i]!, [field]: value } as Record<string, unknown>;
          // Absent optional fields hash as null, so null for an absent one is not a change.
          let same = false;
          try {
            same = recordHash(changed as never) === recordHash(records[i]!);
          } catch {
            same = false;
          }
          if (same) return;
          const text = lines()
            .map((l, j) => (j === i ? JSON.stringify(changed) : l))
            .join('\n');
          const out = bounds.run(() => verify(text));
          if (out.ok)
            assert.equal(
              out.value.ok,
              false,
              `record ${i} field ${field} := ${JSON.stringify(value)} was accepted`,
            );
        },
      ),
      fuzzParams(),
    );
    bounds.finish();
  });

  it('removing, duplicating or reordering records is reported', () => {
    const bounds = new Bounds('verifyAuditExport(reorder)');
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.constantFrom('drop', 'dup', 'swap'), (a, b, how) => {
        const ls = lines();
        const i = a % ls.length;
        const j = b % ls.length;
        if (how === 'drop') {
          if (i === 0 || i === ls.length - 1) return; // dropping an end leaves a shorter valid range
          ls.splice(i, 1);
        } else if (how === 'dup') ls.splice(i, 0, ls[i]!);
        else {
          if (i === j) return;
          [ls[i], ls[j]] = [ls[j]!, ls[i]!];
        }
        const out = bounds.run(() => verify(ls.join('\n')));
        if (out.ok) assert.equal(out.value.ok, false, `${how} ${i} ${j} was accepted`);
      }),
      fuzzParams(),
    );
    bounds.finish();
  });

  it('an extra field added to a record (not covered by its hash) is refused, not silently carried', () => {
    // A reader of the export sees the extra field next to verified ones; the verifier should not
    // call such a record valid.
    const bounds = new Bounds('verifyAuditExport(extra field)');
    fc.assert(
      fc.property(
        fc.nat(),
        fc
          .string({ minLength: 1, maxLength: 10 })
          .filter((k) => !(HASHED as readonly string[]).includes(k) && k !== 'hash'),
        fc.jsonValue({ maxDepth: 1 }),
        (ri, key, value) => {
          const i = ri % records.length;
          const ls = lines();
          const extended = { ...JSON.parse(ls[i]!), [key]: value };
          if (JSON.stringify(extended) === ls[i] || value === undefined) return;
          ls[i] = JSON.stringify(extended);
          const out = bounds.run(() => verify(ls.join('\n')));
          if (out.ok)
            assert.equal(out.value.ok, false, `record ${i} with extra ${JSON.stringify(key)} was accepted`);
        },
      ),
      fuzzParams(),
    );
    bounds.finish();
  });

  it('raw byte mutations and hostile JSON lines: a report or a typed error', () => {
    const bounds = new Bounds('verifyAuditExport(bytes)');
    const seedText = Buffer.from(lines().join('\n'));
    fc.assert(
      fc.property(
        fc.oneof(
          mutationsOf(seedText),
          fc
            .array(
              fc.oneof(
                fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
                fc
                  .dictionary(fc.constantFrom(...PROTOTYPE_KEYS, ...HASHED), fc.jsonValue({ maxDepth: 2 }))
                  .map((d) => JSON.stringify(d)),
              ),
              { maxLength: 4 },
            )
            .map((ls) => Buffer.from(ls.join('\n'))),
        ),
        (bytes) => {
          bounds.run(() => verify(bytes));
          assertPrototypeClean();
        },
      ),
      fuzzParams(),
    );
    bounds.finish();
  });

  it('a 10 MB field and 10 MB line: bounded time and memory', () => {
    const stats: unknown[] = [];
    const big = hugeString();
    for (const text of [
      lines()
        .map((l, i) => (i === 1 ? JSON.stringify({ ...JSON.parse(l), actor: big }) : l))
        .join('\n'),
      big,
      `{"seq":1,"actor":"${big}"}`,
    ]) {
      const bounds = new Bounds('verifyAuditExport(huge)', HUGE_INPUT_LIMITS);
      const out = bounds.run(() => verify(text));
      if (out.ok) assert.equal(out.value.ok, false);
      stats.push(bounds.finish());
    }
    console.log('verifyAuditExport(huge inputs)', JSON.stringify(stats));
  });
});
