import type { Kysely } from 'kysely';
import type { ClusterKeyManager } from '../cluster/cluster-key-manager.js';
import type { HsmkitConfig } from '../config/schema.js';
import {
  type MemberMaintenance,
  MemberMaintenanceRepository,
} from '../store/member-maintenance-repository.js';
import type { Database } from '../store/schema.js';
import { openStore } from './open-store.js';

/** How often a long-running process re-reads which members are in maintenance. */
const MAINTENANCE_REFRESH_MS = 5000;

/**
 * Keeps the cluster's maintenance set in step with the store (`hsmkit maintenance plan|end`):
 * applied before the first operation, then re-read every 5 s so a running service takes a member
 * out of (or back into) rotation within that time. Returns the function that stops following.
 */
export async function followMaintenance(
  cluster: ClusterKeyManager,
  db: Kysely<Database>,
): Promise<() => void> {
  const repo = new MemberMaintenanceRepository(db);
  const apply = async () => cluster.setMaintenance((await repo.list()).map((m) => m.member));
  await apply();
  const t = setInterval(() => void apply().catch(() => undefined), MAINTENANCE_REFRESH_MS);
  t.unref();
  return () => clearInterval(t);
}

/** The members in maintenance, by name, read once from the configured store (for `cluster status`). */
export async function maintenanceOf(
  config: Pick<HsmkitConfig, 'store'>,
): Promise<Map<string, MemberMaintenance>> {
  const store = await openStore(config);
  try {
    return new Map((await new MemberMaintenanceRepository(store.db).list()).map((m) => [m.member, m]));
  } finally {
    await store.close();
  }
}
