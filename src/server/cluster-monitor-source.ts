import type { ClusterKeyManager } from '../cluster/cluster-key-manager.js';
import type { MonitorSource } from './monitoring.js';

/** What monitoring observes of a cluster: member states and their changes, queue depth, cluster alerts, key counts. */
export function clusterMonitorSource(
  cluster: ClusterKeyManager,
): MonitorSource & Required<Pick<MonitorSource, 'onClusterAlert' | 'memberKeyCounts'>> {
  return {
    memberStates: () => Object.fromEntries(cluster.members.map((m) => [m.name, m.health])),
    onMemberState: (fn) => {
      const on = (e: { member: string; to: string }) => fn(e.member, e.to);
      cluster.on('member-state', on);
      return () => cluster.off('member-state', on);
    },
    queueDepth: () => cluster.queueDepth,
    onClusterAlert: (fn) => {
      cluster.on('alert', fn);
      return () => cluster.off('alert', fn);
    },
    memberKeyCounts: async () => {
      const counts: Record<string, number> = {};
      for (const m of cluster.members) {
        if (m.health === 'down') continue;
        const keys = await m.km.listKeys().catch(() => undefined);
        if (keys) counts[m.name] = keys.length;
      }
      return counts;
    },
  };
}
