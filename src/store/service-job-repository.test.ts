import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ServiceJobRepository } from './service-job-repository.js';
import { Store } from './store.js';

// The same claims on PostgreSQL, across two stores: test/integration/store/postgres.test.ts.
describe('ServiceJobRepository leases (SQLite)', () => {
  let store: Store;
  let jobs: ServiceJobRepository;
  beforeEach(async () => {
    store = await Store.openMemory();
    jobs = new ServiceJobRepository(store.db);
    for (let i = 0; i < 3; i++) {
      await jobs.add({ id: `j${i}`, kind: 'key.create', request: { i }, actor: 'alice', role: 'operator' });
      await new Promise((r) => setTimeout(r, 2)); // distinct created_at: claims go oldest first
    }
  });
  afterEach(async () => store.close());

  it('claims the oldest queued job once, with owner and lease', async () => {
    const before = Date.now();
    const first = await jobs.claimNext('inst-a', 30_000);
    assert.equal(first?.id, 'j0');
    assert.equal(first?.status, 'running');
    assert.equal(first?.owner, 'inst-a');
    assert.ok(Date.parse(first?.leaseUntil ?? '') >= before + 30_000);
    assert.equal((await jobs.claimNext('inst-b', 30_000))?.id, 'j1');
    assert.equal((await jobs.claimNext('inst-a', 30_000))?.id, 'j2');
    assert.equal(await jobs.claimNext('inst-b', 30_000), undefined);
  });

  it('fails only jobs whose lease expired; the old owner cannot finish them', async () => {
    await jobs.claimNext('dead', -1); // lease already over
    await jobs.claimNext('alive', 60_000);
    const failed = await jobs.failExpired({ code: 'HSM_ERR_INTERRUPTED', message: 'gone' });
    assert.deepEqual(
      failed.map((j) => [j.id, j.status, j.error?.code]),
      [['j0', 'failed', 'HSM_ERR_INTERRUPTED']],
    );
    assert.equal(await jobs.transition('j0', 'running', 'succeeded', { result: 1 }, 'dead'), false);
    assert.equal(await jobs.transition('j1', 'running', 'succeeded', { result: 1 }, 'dead'), false);
    assert.equal(await jobs.heartbeat('alive', 60_000), 1);
    assert.equal(await jobs.heartbeat('dead', 60_000), 0);
    assert.equal(await jobs.transition('j1', 'running', 'succeeded', { result: 1 }, 'alive'), true);
    assert.equal((await jobs.get('j1'))?.status, 'succeeded');
    assert.equal((await jobs.get('j2'))?.status, 'queued');
  });
});
