import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { HsmError } from '../errors/index.js';
import type { GovernedKeyManager } from '../governance/governed-key-manager.js';
import type { KeyManager } from '../kms/key-manager.js';
import { ServiceJobRepository } from '../store/service-job-repository.js';
import { Store } from '../store/store.js';
import { JobRunner } from './job-runner.js';
import type { ServiceRuntime } from './service-deps.js';

// A fake of the one seam the runner uses (runtime.governFor): the governed key manager either
// refuses before the HSM (as the governor does when the audit probe fails) or reaches the inner
// key manager through the runner's `wrap`. The real path runs in test/chaos/postgres-restart.test.ts.
const KEY_INFO = { label: 'k', uri: 'pkcs11:object=k', id: '01', type: 'ec-p256', family: 'ec' };

function runtimeWith(script: Array<'refuse-before-hsm' | 'refuse-after-hsm' | 'ok'>): {
  runtime: ServiceRuntime;
  calls: string[];
} {
  const calls: string[] = [];
  const inner = { createKey: async () => KEY_INFO } as unknown as KeyManager;
  const runtime = {
    governFor: (_actor: unknown, _id: string, wrap?: (km: KeyManager) => KeyManager) => {
      const km = wrap ? wrap(inner) : inner;
      return {
        createKey: async (req: unknown) => {
          const step = script.shift() ?? 'ok';
          calls.push(step);
          if (step === 'refuse-before-hsm') throw new HsmError('HSM_ERR_AUDIT', 'store down');
          const info = await km.createKey(req as never);
          if (step === 'refuse-after-hsm') throw new HsmError('HSM_ERR_AUDIT', 'store down after');
          return info;
        },
      } as unknown as GovernedKeyManager;
    },
  } as unknown as ServiceRuntime;
  return { runtime, calls };
}

async function settle(jobs: ServiceJobRepository, id: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const s = (await jobs.get(id))?.status;
    if (s === 'succeeded' || s === 'failed') return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  return 'pending';
}

describe('JobRunner', () => {
  let store: Store;
  let jobs: ServiceJobRepository;
  let runner: JobRunner | undefined;
  beforeEach(async () => {
    store = await Store.openMemory();
    jobs = new ServiceJobRepository(store.db);
    await jobs.add({
      id: 'j1',
      kind: 'key.create',
      request: { label: 'k', key_type: 'ec-p256' },
      actor: 'alice',
      role: 'operator',
    });
  });
  afterEach(async () => {
    await runner?.stop();
    await store.close();
  });

  it('queues a job again when it was refused before reaching the HSM, then runs it', async () => {
    const { runtime, calls } = runtimeWith(['refuse-before-hsm', 'ok']);
    runner = new JobRunner(jobs, runtime, ['softhsm2'], undefined, { instanceId: 'me' });
    await runner.start(20);
    assert.equal(await settle(jobs, 'j1'), 'succeeded');
    assert.deepEqual(calls, ['refuse-before-hsm', 'ok']);
  });

  it('fails (never re-runs) a job refused after it reached the HSM', async () => {
    const { runtime, calls } = runtimeWith(['refuse-after-hsm', 'ok']);
    runner = new JobRunner(jobs, runtime, ['softhsm2'], undefined, { instanceId: 'me' });
    await runner.start(20);
    assert.equal(await settle(jobs, 'j1'), 'failed');
    assert.equal((await jobs.get('j1'))?.error?.code, 'HSM_ERR_AUDIT');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(calls, ['refuse-after-hsm']);
  });

  it('leaves another live instance’s running job alone at start-up', async () => {
    assert.ok(await jobs.claimNext('other-instance', 60_000));
    const { runtime, calls } = runtimeWith([]);
    runner = new JobRunner(jobs, runtime, ['softhsm2'], undefined, { instanceId: 'me' });
    await runner.start(20);
    await new Promise((r) => setTimeout(r, 100));
    const j = await jobs.get('j1');
    assert.equal(j?.status, 'running');
    assert.equal(j?.owner, 'other-instance');
    assert.deepEqual(calls, []);
    assert.equal(await runner.recoverExpired(), 0);
  });
});
