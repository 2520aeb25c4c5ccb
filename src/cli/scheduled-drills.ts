import type { Registry } from 'prom-client';
import { Pkcs11KeyManager } from '../adapters/pkcs11/pkcs11-key-manager.js';
import type { AlertDispatcher } from '../alerting/alert-dispatcher.js';
import { type DrillDuty, DrillScheduler, type DrillTimer, runDrillOnce } from '../backup/drill-schedule.js';
import type { HsmkitConfig } from '../config/schema.js';
import { HsmError } from '../errors/index.js';
import { BackupDrillMonitor } from '../server/backup-drill-monitor.js';
import { loadBackup } from './backup-storage-url.js';
import { memberOptions } from './member-options.js';

/**
 * The drill duty from `backup.drill` (composition root: chooses the PKCS#11 adapter and the
 * storage adapter). The drill member must be configured and have `role: staging`, so a drill
 * never restores into, or deletes from, a production token.
 */
export function drillDutyFromConfig(config: HsmkitConfig): DrillDuty | undefined {
  const d = config.backup.drill;
  if (!d) return undefined;
  const m = config.members.find((x) => x.name === d.member);
  if (!m) throw new HsmError('HSM_ERR_CONFIG', `backup.drill.member: no member "${d.member}"`);
  if (m.role !== 'staging')
    throw new HsmError(
      'HSM_ERR_CONFIG',
      `backup.drill.member: "${d.member}" must have role: staging (drills restore into it and delete what they restored)`,
    );
  return {
    rtoMs: d.rtoMs,
    load: () => loadBackup(d.backup, d.s3Endpoint),
    openTarget: () => Pkcs11KeyManager.open(memberOptions(config, m)),
    ...(d.signer === undefined ? {} : { expectedSigner: d.signer }),
  };
}

/**
 * The configured drill schedule for `hsmkit serve`, not started (the service starts it on the
 * instance that leads the `backup-drill` duty): each result sets the drill gauges on `registry`
 * and raises or resolves the `backup_drill_failed` alert. Undefined when no drill is configured.
 */
export function scheduledDrills(
  config: HsmkitConfig,
  registry: Registry,
  alerts: Pick<AlertDispatcher, 'raise' | 'resolve'>,
  timer?: DrillTimer,
): DrillScheduler | undefined {
  const duty = drillDutyFromConfig(config);
  const d = config.backup.drill;
  if (!duty || !d) return undefined;
  const monitor = new BackupDrillMonitor(registry, alerts, {
    member: d.member,
    repeatAfterMs: d.intervalMs * 24,
  });
  const scheduler = new DrillScheduler({
    intervalMs: d.intervalMs,
    rtoMs: d.rtoMs,
    run: () => runDrillOnce(duty),
    onResult: (r) => monitor.report(r),
    ...(timer ? { timer } : {}),
  });
  return scheduler;
}
