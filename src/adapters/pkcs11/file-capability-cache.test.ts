import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CachedProbe } from './capability-cache.js';
import { DEFAULT_PROBE_MAX_AGE_MS, FileCapabilityCache } from './file-capability-cache.js';

const root = mkdtempSync(join(tmpdir(), 'hsmkit-file-capcache-'));
after(() => rmSync(root, { recursive: true, force: true }));

const FP = 'a'.repeat(64);
const T0 = Date.parse('2026-11-01T00:00:00.000Z');

function entry(fingerprint = FP, probedAt = new Date(T0).toISOString()): CachedProbe {
  return {
    fingerprint,
    probedAt,
    result: {
      probeObjects: 'session',
      label: 'hsmkit-capability-probe-000000000000',
      mechanisms: [{ mechanism: 0x1041, ok: true }],
      properties: [{ id: 'sensitive-enforced', title: 't', status: 'holds', detail: 'd' }],
      wrap: { status: 'works', mechanism: 0x210a, detail: 'd' },
      durationMs: 250,
      notes: [],
    },
  };
}

describe('FileCapabilityCache', () => {
  it('round-trips an entry in a 0600 file under a 0700 directory, named by the fingerprint', async () => {
    const dir = join(root, 'a', 'b');
    const cache = new FileCapabilityCache({ dir, now: () => T0 + 1000 });
    await cache.set(entry());
    assert.deepEqual(await cache.get(FP), entry());
    assert.deepEqual(readdirSync(dir), [`${FP}.json`]);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(cache.fileOf(FP)).mode & 0o777, 0o600);
  });

  it('treats entries past the maximum age, or dated in the future, as absent', async () => {
    const dir = join(root, 'age');
    let now = T0;
    const cache = new FileCapabilityCache({ dir, now: () => now });
    await cache.set(entry());
    now = T0 + DEFAULT_PROBE_MAX_AGE_MS;
    assert.ok(await cache.get(FP), 'an entry exactly at the maximum age is still used');
    now = T0 + DEFAULT_PROBE_MAX_AGE_MS + 1;
    assert.equal(await cache.get(FP), undefined);
    now = T0 - 24 * 3_600_000;
    assert.equal(await cache.get(FP), undefined, 'an entry from the future was used');
    const short = new FileCapabilityCache({ dir, maxAgeMs: 1000, now: () => T0 + 1001 });
    assert.equal(await short.get(FP), undefined);
  });

  it('ignores a key that is not a fingerprint (no path outside the directory)', async () => {
    const dir = join(root, 'keys');
    const cache = new FileCapabilityCache({ dir, now: () => T0 });
    await cache.set(entry('../escape'));
    assert.ok(!existsSync(dir) || readdirSync(dir).length === 0);
    assert.ok(!existsSync(join(root, 'escape.json')));
    assert.equal(await cache.get('../escape'), undefined);
  });

  it('treats unreadable, corrupt and wrongly shaped files as absent', async () => {
    const dir = join(root, 'bad');
    const cache = new FileCapabilityCache({ dir, now: () => T0 });
    await cache.set(entry());
    const file = cache.fileOf(FP);
    const bad = [
      '',
      '{',
      'null',
      '[]',
      JSON.stringify({ ...entry(), probedAt: 'yesterday' }),
      JSON.stringify({
        ...entry(),
        result: { ...entry().result, mechanisms: [{ mechanism: '1', ok: true }] },
      }),
      JSON.stringify({
        ...entry(),
        result: { ...entry().result, properties: [{ id: 'x', status: 'maybe' }] },
      }),
      JSON.stringify({ ...entry(), result: { ...entry().result, notes: [1] } }),
    ];
    for (const text of bad) {
      writeFileSync(file, text);
      assert.equal(await cache.get(FP), undefined, text);
    }
    rmSync(file);
    assert.equal(await cache.get(FP), undefined);
  });

  it('removes files not written for twice the maximum age when it writes', async () => {
    const dir = join(root, 'prune');
    const writer = new FileCapabilityCache({ dir, maxAgeMs: 1000, now: () => T0 });
    await writer.set(entry());
    const stale = writer.fileOf(FP);
    utimesSync(stale, (T0 - 2001) / 1000, (T0 - 2001) / 1000);
    const fresh = 'c'.repeat(64);
    await writer.set(entry(fresh));
    assert.ok(!existsSync(stale), 'the stale file was kept');
    assert.ok(existsSync(writer.fileOf(fresh)));
  });

  it('does not throw when the directory cannot be created', async () => {
    // A file where the directory should be: mkdir fails for every user, root included.
    const blocked = join(root, 'blocked-file');
    writeFileSync(blocked, 'x');
    const cache = new FileCapabilityCache({ dir: join(blocked, 'sub'), now: () => T0 });
    await cache.set(entry());
    assert.equal(await cache.get(FP), undefined);
  });
});
