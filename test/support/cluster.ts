/**
 * Test fixture: N simulated HSM nodes, each its own SoftHSM token directory behind its own member
 * host, with the replication key established by the SO ceremony, joined in a ClusterKeyManager.
 * A node "dies" when its member host is SIGKILLed while its token directory is moved away (so the
 * respawned host cannot find the token) and "comes back" when the directory is restored.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { Pkcs11KeyManager } from '../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { Pkcs11ReplicationCeremonyMember } from '../../src/adapters/pkcs11/replication-ceremony.js';
import { ClusterKeyManager, type ClusterOptions } from '../../src/cluster/cluster-key-manager.js';
import { establishReplicationKey, REPLICATION_KEY_LABEL } from '../../src/cluster/replication-ceremony.js';
import { Secret } from '../../src/config/secret.js';
import { createSoftHsmToken, type SoftHsmToken } from './softhsm.js';

/** A test cluster and handles on its nodes. */
export interface TestCluster {
  cluster: ClusterKeyManager;
  tokens: SoftHsmToken[];
  kms: Pkcs11KeyManager[];
  /** Kills node i's host and keeps the node down until revive(i). */
  kill(i: number): number[];
  revive(i: number): void;
  cleanup(): Promise<void>;
}

/** Builds an n-node cluster with replication. */
export async function createTestCluster(
  n: number,
  opts: ClusterOptions = {},
  replication = true,
): Promise<TestCluster> {
  const tokens = Array.from({ length: n }, (_, i) => createSoftHsmToken(`node${i}`));
  if (replication) {
    const so = await Promise.all(
      tokens.map((t, i) =>
        Pkcs11ReplicationCeremonyMember.open({
          ...t.member(),
          name: `node${i}`,
          pin: new Secret(t.soPin, 'test'),
        }),
      ),
    );
    try {
      await establishReplicationKey(so);
    } finally {
      await Promise.all(so.map((m) => m.close()));
    }
  }
  const kms = await Promise.all(
    tokens.map((t, i) =>
      Pkcs11KeyManager.open({ ...t.member(), name: `node${i}`, failFast: true, operationTimeoutMs: 2000 }),
    ),
  );
  const cluster = new ClusterKeyManager(
    kms.map((km, i) => ({ name: `node${i}`, km })),
    {
      healthIntervalMs: 200,
      failoverTimeoutMs: 3000,
      ...(replication ? { replicationKeyLabel: REPLICATION_KEY_LABEL } : {}),
      ...opts,
    },
  );
  await cluster.start();
  const hidden = new Set<number>();
  const revive = (i: number) => {
    if (!hidden.delete(i)) return;
    renameSync(join(tokens[i]!.dir, 'tokens.down'), join(tokens[i]!.dir, 'tokens'));
  };
  return {
    cluster,
    tokens,
    kms,
    kill(i) {
      const pids = kms[i]!.member.hostPids;
      renameSync(join(tokens[i]!.dir, 'tokens'), join(tokens[i]!.dir, 'tokens.down'));
      hidden.add(i);
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      return pids;
    },
    revive,
    async cleanup() {
      for (const i of [...hidden]) revive(i);
      await cluster.close();
      for (const t of tokens) t.cleanup();
    },
  };
}
