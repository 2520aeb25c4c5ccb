import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { openFreshTestStore } from '../../test/support/postgres.js';
import { type ErrorCode, HsmError } from '../errors/index.js';
import type { NewKeyRecord, Store } from './index.js';

async function expectCode(work: Promise<unknown> | (() => Promise<unknown>), code: ErrorCode): Promise<void> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (err) {
    assert.ok(err instanceof HsmError, `expected HsmError, got ${String(err)}`);
    assert.equal(err.code, code);
    return;
  }
  assert.fail(`expected ${code}, but nothing was thrown`);
}

function newKey(n: number, extra: Partial<NewKeyRecord> = {}): NewKeyRecord {
  const id = n.toString(16).padStart(4, '0');
  return {
    uri: `pkcs11:token=dev;object=key-${n};id=%${id.slice(0, 2)}%${id.slice(2)};type=private`,
    member: 'softhsm-a',
    token: 'dev',
    label: `key-${n}`,
    idHex: id,
    keyType: 'ec-p256',
    status: 'active',
    tags: {},
    ...extra,
  };
}

describe('KeyMetadataRepository', () => {
  let dir: string;
  let store: Store;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsmkit-keys-'));
  });
  after(async () => {
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await store?.close();
    // SQLite, or PostgreSQL when test/integration/store/postgres.test.ts runs this suite.
    store = await openFreshTestStore(dir);
  });

  it('round-trips a record with every field, including a binary SPKI', async () => {
    // Bytes that break naive text handling: NUL, 0xff, invalid UTF-8.
    const spki = new Uint8Array([0x30, 0x59, 0x00, 0xff, 0xc3, 0x28, 0x80, 0x00, 0x01]);
    const input: NewKeyRecord = {
      uri: 'pkcs11:token=dev;object=ca-root;id=%A1%B2;type=private',
      member: 'softhsm-a',
      token: 'dev',
      label: 'ca-root',
      idHex: 'a1b2',
      keyType: 'rsa-4096',
      status: 'active',
      purpose: 'root CA',
      expiresAt: '2035-12-31T23:59:59Z',
      ceremonyId: 'cer-2025-001',
      owner: 'pki-team',
      tags: { env: 'prod', 'cost.centre:x_y-1': 'ops' },
      publicKeySpki: spki,
      createdAt: '2025-01-02T03:04:05.678Z',
    };
    const inserted = await store.keys.insert(input);
    const { createdAt: _c, ...rest } = input;
    assert.deepEqual(inserted, {
      ...rest,
      expiresAt: '2035-12-31T23:59:59.000Z',
      createdAt: '2025-01-02T03:04:05.678Z',
      updatedAt: '2025-01-02T03:04:05.678Z',
    });
    const got = await store.keys.get(input.uri);
    assert.deepEqual(got, inserted);
    assert.ok(got?.publicKeySpki instanceof Uint8Array);
    assert.deepEqual([...(got?.publicKeySpki ?? [])], [...spki]);

    const listed = await store.keys.list();
    assert.deepEqual(listed, [inserted]);
    assert.deepEqual(await store.keys.findByLabel('dev', 'ca-root'), [inserted]);

    const newSpki = new Uint8Array([1, 2, 3]);
    const updated = await store.keys.update(input.uri, {
      status: 'archived',
      purpose: 'retired root',
      expiresAt: '2030-01-01T02:00:00+02:00',
      ceremonyId: 'cer-2030-9',
      owner: 'someone-else',
      tags: { retired: 'yes' },
      publicKeySpki: newSpki,
    });
    assert.equal(updated.status, 'archived');
    assert.equal(updated.purpose, 'retired root');
    assert.equal(updated.expiresAt, '2030-01-01T00:00:00.000Z');
    assert.equal(updated.ceremonyId, 'cer-2030-9');
    assert.equal(updated.owner, 'someone-else');
    assert.deepEqual(updated.tags, { retired: 'yes' });
    assert.deepEqual(updated.publicKeySpki, newSpki);
    assert.equal(updated.createdAt, inserted.createdAt);
    assert.ok(updated.updatedAt > inserted.updatedAt);
    assert.deepEqual(await store.keys.get(input.uri), updated);

    assert.equal(await store.keys.delete(input.uri), true);
    assert.equal(await store.keys.get(input.uri), undefined);
    assert.deepEqual(await store.keys.list(), []);
  });

  it('leaves absent optional fields out of the record and sets timestamps', async () => {
    const before = new Date().toISOString();
    const rec = await store.keys.insert(newKey(1));
    assert.deepEqual(Object.keys(rec).sort(), [
      'createdAt',
      'idHex',
      'keyType',
      'label',
      'member',
      'status',
      'tags',
      'token',
      'updatedAt',
      'uri',
    ]);
    assert.ok(rec.createdAt >= before);
    assert.equal(rec.updatedAt, rec.createdAt);
  });

  it('rejects a duplicate URI with HSM_ERR_KEY_EXISTS and keeps the first record', async () => {
    const first = await store.keys.insert(newKey(1, { purpose: 'first' }));
    await expectCode(store.keys.insert(newKey(1, { purpose: 'second' })), 'HSM_ERR_KEY_EXISTS');
    assert.deepEqual(await store.keys.get(first.uri), first);
  });

  it('update of a missing URI is HSM_ERR_KEY_NOT_FOUND; delete of one returns false', async () => {
    const uri = newKey(99).uri;
    await expectCode(store.keys.update(uri, { status: 'archived' }), 'HSM_ERR_KEY_NOT_FOUND');
    await expectCode(store.keys.update(uri, {}), 'HSM_ERR_KEY_NOT_FOUND');
    assert.equal(await store.keys.delete(uri), false);
    assert.equal(await store.keys.get(uri), undefined);
  });

  it('update: undefined leaves a field, null clears it, unknown fields are refused', async () => {
    const rec = await store.keys.insert(
      newKey(1, { purpose: 'tls', owner: 'me', expiresAt: '2031-01-01', publicKeySpki: new Uint8Array([9]) }),
    );
    const same = await store.keys.update(rec.uri, { purpose: undefined, tags: { a: 'b' } });
    assert.equal(same.purpose, 'tls');
    assert.equal(same.expiresAt, '2031-01-01T00:00:00.000Z');
    const cleared = await store.keys.update(rec.uri, {
      purpose: null,
      owner: null,
      expiresAt: null,
      publicKeySpki: null,
    });
    assert.equal('purpose' in cleared, false);
    assert.equal('owner' in cleared, false);
    assert.equal('expiresAt' in cleared, false);
    assert.equal('publicKeySpki' in cleared, false);
    assert.deepEqual(cleared.tags, { a: 'b' });
    // An empty patch changes nothing, not even updatedAt.
    assert.deepEqual(await store.keys.update(rec.uri, {}), cleared);
    await expectCode(store.keys.update(rec.uri, { label: 'x' } as never), 'HSM_ERR_INVALID_INPUT');
    await expectCode(store.keys.update(rec.uri, { status: 'deleted' } as never), 'HSM_ERR_INVALID_INPUT');
    assert.deepEqual(await store.keys.get(rec.uri), cleared);
  });

  it('lists by createdAt then label, with filters', async () => {
    const t1 = '2025-01-01T00:00:00.000Z';
    const t2 = '2025-02-01T00:00:00.000Z';
    await store.keys.insert(newKey(1, { label: 'b', createdAt: t2 }));
    await store.keys.insert(newKey(2, { label: 'z', createdAt: t1, member: 'softhsm-b' }));
    await store.keys.insert(newKey(3, { label: 'a', createdAt: t2, token: 'other', status: 'archived' }));
    await store.keys.insert(newKey(4, { label: 'a', createdAt: t1 }));

    const labels = (recs: { label: string }[]) => recs.map((r) => r.label);
    assert.deepEqual(labels(await store.keys.list()), ['a', 'z', 'a', 'b']);
    assert.deepEqual(labels(await store.keys.list({ token: 'dev' })), ['a', 'z', 'b']);
    assert.deepEqual(labels(await store.keys.list({ status: 'archived' })), ['a']);
    assert.deepEqual(labels(await store.keys.list({ member: 'softhsm-b' })), ['z']);
    assert.deepEqual(labels(await store.keys.list({ token: 'dev', status: 'archived' })), []);
    await expectCode(store.keys.list({ tokn: 'dev' } as never), 'HSM_ERR_INVALID_INPUT');
    await expectCode(store.keys.list({ status: 'gone' } as never), 'HSM_ERR_INVALID_INPUT');
  });

  it('findByLabel returns every key with that label on the token', async () => {
    await store.keys.insert(newKey(1, { label: 'dup', createdAt: '2025-01-01T00:00:00Z' }));
    await store.keys.insert(newKey(2, { label: 'dup', createdAt: '2025-01-02T00:00:00Z' }));
    await store.keys.insert(newKey(3, { label: 'dup', token: 'other' }));
    const found = await store.keys.findByLabel('dev', 'dup');
    assert.deepEqual(
      found.map((r) => r.idHex),
      ['0001', '0002'],
    );
    assert.deepEqual(await store.keys.findByLabel('dev', 'none'), []);
  });

  it('normalises expiresAt and createdAt to ISO-8601 UTC', async () => {
    const cases: [string, string][] = [
      ['2030-06-15', '2030-06-15T00:00:00.000Z'],
      ['2030-06-15T10:20Z', '2030-06-15T10:20:00.000Z'],
      ['2030-06-15T10:20:30.123456789-05:30', '2030-06-15T15:50:30.123Z'],
      ['2030-01-01T00:30:00+01:00', '2029-12-31T23:30:00.000Z'],
      ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ];
    let n = 0;
    for (const [input, want] of cases) {
      n += 1;
      const rec = await store.keys.insert(newKey(n, { expiresAt: input, createdAt: input }));
      assert.equal(rec.expiresAt, want, input);
      assert.equal(rec.createdAt, want, input);
    }
  });

  describe('rejects invalid input with HSM_ERR_INVALID_INPUT', () => {
    const badTags: unknown[] = [
      { 'bad key': 'v' },
      { '': 'v' },
      { ['k'.repeat(65)]: 'v' },
      { ké: 'v' },
      { k: 'v'.repeat(1025) },
      { k: 1 },
      { k: null },
      JSON.parse('{"__proto__": "x"}'),
      ['a'],
      'env=prod',
      null,
    ];
    const badDates: unknown[] = [
      'tomorrow',
      '2025-02-30',
      '2025-13-01',
      '2025-01-01T24:00:00Z',
      '2025-01-01T10:00:00', // no zone: ambiguous
      '2025-1-1',
      '',
      1735689600000,
      new Date(),
    ];
    const badIds: unknown[] = ['A1B2', 'a1b', 'zz', '0x01', 'a1 b2', 42];

    it('tags (insert and update)', async () => {
      const ok = await store.keys.insert(newKey(1000, { tags: { ['k'.repeat(64)]: 'v'.repeat(1024) } }));
      for (const [i, tags] of badTags.entries()) {
        await expectCode(store.keys.insert(newKey(i, { tags: tags as never })), 'HSM_ERR_INVALID_INPUT');
        await expectCode(store.keys.update(ok.uri, { tags: tags as never }), 'HSM_ERR_INVALID_INPUT');
      }
      assert.deepEqual(await store.keys.list(), [ok]);
    });

    it('expiresAt (insert and update) and createdAt', async () => {
      const ok = await store.keys.insert(newKey(1000));
      for (const [i, expiresAt] of badDates.entries()) {
        await expectCode(
          store.keys.insert(newKey(i, { expiresAt: expiresAt as never })),
          'HSM_ERR_INVALID_INPUT',
        );
        await expectCode(
          store.keys.insert(newKey(i, { createdAt: expiresAt as never })),
          'HSM_ERR_INVALID_INPUT',
        );
        await expectCode(
          store.keys.update(ok.uri, { expiresAt: expiresAt as never }),
          'HSM_ERR_INVALID_INPUT',
        );
      }
      assert.deepEqual(await store.keys.list(), [ok]);
    });

    it('idHex', async () => {
      for (const [i, idHex] of badIds.entries()) {
        await expectCode(store.keys.insert(newKey(i, { idHex: idHex as never })), 'HSM_ERR_INVALID_INPUT');
      }
      assert.deepEqual(await store.keys.list(), []);
    });

    it('other fields', async () => {
      await expectCode(store.keys.insert(newKey(1, { uri: 'https://x' })), 'HSM_ERR_INVALID_INPUT');
      await expectCode(store.keys.insert(newKey(1, { member: '' })), 'HSM_ERR_INVALID_INPUT');
      await expectCode(store.keys.insert(newKey(1, { status: 'gone' as never })), 'HSM_ERR_INVALID_INPUT');
      await expectCode(
        store.keys.insert(newKey(1, { publicKeySpki: 'MFkw' as never })),
        'HSM_ERR_INVALID_INPUT',
      );
      await expectCode(store.keys.insert(null as never), 'HSM_ERR_INVALID_INPUT');
      await expectCode(store.keys.get(42 as never), 'HSM_ERR_INVALID_INPUT');
      await expectCode(store.keys.update(newKey(1).uri, null as never), 'HSM_ERR_INVALID_INPUT');
      assert.deepEqual(await store.keys.list(), []);
    });
  });
});
