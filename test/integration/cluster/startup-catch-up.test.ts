/**
 * Start-up catch-up: a cluster that starts with members holding different keys brings every member
 * up to date, and lists each member's keys once for the whole pass (a listing reads every key's
 * attributes from the token, so listing once per other member made restarts grow with
 * members² × keys; docs/performance.md).
 */
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { ClusterKeyManager } from '../../../src/cluster/cluster-key-manager.js';
import { REPLICATION_KEY_LABEL } from '../../../src/cluster/replication-ceremony.js';
import { createTestCluster, type TestCluster } from '../../support/cluster.js';
import { countObjects } from '../../support/cluster-tools.js';

/** The member's key manager, counting listKeys; closing it is left to the test cluster. */
function counted(km: Pkcs11KeyManager, lists: number[], i: number): Pkcs11KeyManager {
  return new Proxy(km, {
    get(target, prop, receiver) {
      if (prop === 'close') return async () => undefined;
      const v = Reflect.get(target, prop, receiver);
      if (prop === 'listKeys') {
        return (...args: unknown[]) => {
          lists[i] = (lists[i] ?? 0) + 1;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('cluster start-up catch-up', () => {
  let tc: TestCluster;
  before(async () => {
    tc = await createTestCluster(3);
  });
  after(async () => {
    await tc?.cleanup();
  });

  it('copies every member’s missing keys, listing each member once', async () => {
    const replicable = { extractable: true, wrapWithTrusted: true };
    const a = await tc.kms[0]!.createKey({ label: 'only-on-0', type: 'ec-p256', protection: replicable });
    const b = await tc.kms[1]!.createKey({ label: 'only-on-1', type: 'ec-p384', protection: replicable });
    const lists: number[] = [];
    const restarted = new ClusterKeyManager(
      tc.kms.map((km, i) => ({ name: `node${i}`, km: counted(km, lists, i) })),
      { healthIntervalMs: 60_000, replicationKeyLabel: REPLICATION_KEY_LABEL },
    );
    try {
      await restarted.start();
    } finally {
      await restarted.close();
    }
    assert.deepEqual(lists, [1, 1, 1]);
    for (const [label, info, on] of [
      ['only-on-0', a, [1, 2]],
      ['only-on-1', b, [0, 2]],
    ] as const) {
      for (const i of on) {
        assert.equal(countObjects(tc.tokens[i]!, label), 2, `${label} copied to node ${i}`);
        const data = Buffer.from(`${label} on node ${i}`);
        const sig = await tc.kms[i]!.sign({
          key: label,
          data,
          algorithm: { scheme: 'ecdsa', hash: 'sha256' },
        });
        assert.ok(verify('sha256', data, info.publicKeyPem, sig), `node ${i}'s copy of ${label} signs`);
      }
    }
  });
});
