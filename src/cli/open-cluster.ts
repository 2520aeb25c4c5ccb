/**
 * Composition of a cluster from the configuration: one Pkcs11KeyManager per configured member
 * (each behind its own member hosts, failing fast so the cluster can fail over) joined in a
 * ClusterKeyManager with the high_availability settings. Lives in the composition root because
 * only here may adapters be chosen.
 */
import { Pkcs11KeyManager } from '../adapters/pkcs11/pkcs11-key-manager.js';
import { ClusterKeyManager } from '../cluster/cluster-key-manager.js';
import type { HsmkitConfig } from '../config/schema.js';
import type { KeyMetadataRepository } from '../store/key-metadata.js';
import { capabilityCacheFor } from './capability-cache.js';
import { memberOptions } from './member-options.js';

/**
 * Opens every member (in parallel) and starts the cluster. A member that cannot be opened is left
 * out (and named on stderr); the cluster starts when at least one member opens. With `store`, the
 * cluster keeps its logical keys' metadata there (the members themselves keep none).
 */
export async function openCluster(
  config: HsmkitConfig,
  store?: KeyMetadataRepository,
): Promise<ClusterKeyManager> {
  const ha = config.highAvailability;
  // One cache for all members: each member's entry is keyed by its own token's fingerprint.
  const capabilityCache = capabilityCacheFor(config);
  const opened = await Promise.allSettled(
    config.members.map((m) =>
      Pkcs11KeyManager.open(memberOptions(config, m, { failFast: true }), {
        policy: config.securityPolicy,
        capabilityCache,
      }),
    ),
  );
  const failed = opened.find((r) => r.status === 'rejected');
  const kms = opened
    .filter((r): r is PromiseFulfilledResult<Pkcs11KeyManager> => r.status === 'fulfilled')
    .map((r) => r.value);
  if (kms.length === 0 && failed) throw (failed as PromiseRejectedResult).reason;
  const names = config.members.filter((_, i) => opened[i]!.status === 'fulfilled');
  config.members.forEach((m, i) => {
    const r = opened[i]!;
    if (r.status === 'rejected')
      process.stderr.write(`hsmkit: member ${m.name} is left out: ${String((r.reason as Error).message)}\n`);
  });
  const cluster = new ClusterKeyManager(
    kms.map((km, i) => {
      const m = names[i]!;
      return {
        name: m.name,
        km,
        ...(m.site ? { site: m.site } : {}),
        ...(m.region ? { region: m.region } : {}),
      };
    }),
    {
      mode: ha.mode,
      loadBalancing: ha.loadBalancing,
      retryAttempts: ha.retryAttempts,
      failoverTimeoutMs: ha.failoverTimeoutMs,
      healthIntervalMs: ha.healthIntervalMs,
      slaMs: ha.slaMs,
      breaker: ha.breaker,
      queueMax: ha.queue.max,
      ...(ha.replication
        ? { replicationKeyLabel: ha.replication.keyLabel, minCopies: ha.replication.minCopies }
        : {}),
      ...(ha.localSite ? { localSite: ha.localSite } : {}),
      ...(store ? { store } : {}),
    },
  );
  await cluster.start();
  return cluster;
}
