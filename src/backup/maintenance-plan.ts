/**
 * Firmware-update safety: the checklist `hsmkit maintenance plan` produces before a member is
 * taken out of rotation. Every check is decided here from injected facts (the backup's bytes, the
 * members, the rollback file, the vendor's firmware-signature hook), so the rules are testable and
 * the CLI only gathers and records. A plan with any failed check is refused: nothing is recorded.
 */
import { HsmError, toHsmError } from '../errors/index.js';
import { parseBackup, verifyBackup } from './format.js';

/** One line of the checklist. */
export interface MaintenanceCheck {
  /** Stable id: `backup-verified`, `backup-fresh`, `test-member`, `rotation`, `rollback-plan`, `firmware-signature`, `window`. */
  id: string;
  status: 'pass' | 'fail' | 'skipped';
  detail: string;
}

/** A member as the plan sees it. */
export interface PlanMember {
  name: string;
  /** `staging` members are where firmware is tried first. */
  role: 'production' | 'staging';
  /** Already out of rotation. */
  inMaintenance: boolean;
}

/** What the plan is decided from. */
export interface MaintenanceInputs {
  member: string;
  members: PlanMember[];
  /** Loads the backup (file, or storage with its SHA-256 checked). */
  loadBackup: () => Promise<Uint8Array>;
  backupLocation: string;
  maxBackupAgeHours: number;
  expectedSigner?: string;
  /** The rollback plan's path and whether it exists with content; undefined when not given. */
  rollbackPlan?: { path: string; present: boolean };
  /** The firmware file and the configured verification hook's verdict; undefined when no file is given. */
  firmware?: { path: string; verify?: () => Promise<{ exitCode: number | null; output: string }> };
  window: { start: Date; end: Date };
  now: Date;
}

/** The checklist and its verdict. */
export interface MaintenancePlan {
  member: string;
  ok: boolean;
  window: { start: string; end: string };
  backup: { location: string; createdAt?: string; ageHours?: number; entries?: number; signer?: string };
  checks: MaintenanceCheck[];
}

/** Builds the checklist; never throws for a failed check (see {@link assertPlanAdmitted}). */
export async function planMaintenance(i: MaintenanceInputs): Promise<MaintenancePlan> {
  const checks: MaintenanceCheck[] = [];
  const add = (id: string, status: MaintenanceCheck['status'], detail: string) =>
    checks.push({ id, status, detail });
  const backup: MaintenancePlan['backup'] = { location: i.backupLocation };

  // 1. A verified backup, and its signed creation time within the limit.
  try {
    const file = parseBackup(Buffer.from(await i.loadBackup()).toString('utf8'));
    const report = verifyBackup(
      file,
      i.expectedSigner === undefined ? {} : { expectedSigner: i.expectedSigner },
    );
    backup.entries = report.entries;
    backup.signer = report.signerFingerprint;
    if (!report.ok) {
      add('backup-verified', 'fail', report.problems.map((p) => `${p.where}: ${p.problem}`).join('; '));
    } else {
      add('backup-verified', 'pass', `${report.entries} entries, signature by ${report.signerFingerprint}`);
      // The manifest (and so createdAt) is covered by the signature just verified.
      const created = new Date(file.manifest.createdAt);
      const ageHours = (i.now.getTime() - created.getTime()) / 3_600_000;
      backup.createdAt = file.manifest.createdAt;
      backup.ageHours = Math.round(ageHours * 100) / 100;
      if (Number.isNaN(ageHours)) add('backup-fresh', 'fail', 'the signed creation time is not a date');
      else if (ageHours > i.maxBackupAgeHours)
        add(
          'backup-fresh',
          'fail',
          `the backup is ${backup.ageHours} h old, over the limit of ${i.maxBackupAgeHours} h`,
        );
      else if (ageHours < -0.1) add('backup-fresh', 'fail', 'the signed creation time is in the future');
      else add('backup-fresh', 'pass', `${backup.ageHours} h old (limit ${i.maxBackupAgeHours} h)`);
    }
  } catch (err) {
    const e = toHsmError(err);
    add('backup-verified', 'fail', `${e.code}: ${e.message.slice(0, 200)}`);
  }

  // 2. A non-production member to try the firmware on first.
  const self = i.members.find((m) => m.name === i.member);
  const staging = i.members.filter((m) => m.role === 'staging' && m.name !== i.member);
  if (!self) add('test-member', 'fail', `no member "${i.member}" in the configuration`);
  else if (self.role === 'staging') add('test-member', 'pass', `${i.member} is itself a staging member`);
  else if (staging.length > 0)
    add(
      'test-member',
      'pass',
      `staging member(s) to try the firmware on first: ${staging.map((m) => m.name).join(', ')}`,
    );
  else add('test-member', 'fail', 'no member has role: staging to try the firmware on first');

  // 3. The rest of the cluster keeps serving.
  if (self?.inMaintenance) add('rotation', 'fail', `${i.member} is already in maintenance`);
  else {
    const serving = i.members.filter(
      (m) => m.name !== i.member && !m.inMaintenance && m.role === 'production',
    );
    if (self?.role === 'staging' || serving.length > 0)
      add('rotation', 'pass', `${serving.length} production member(s) stay in rotation`);
    else add('rotation', 'fail', `taking ${i.member} out would leave no production member in rotation`);
  }

  // 4. A rollback plan.
  if (!i.rollbackPlan) add('rollback-plan', 'fail', 'no --rollback-plan given');
  else if (!i.rollbackPlan.present)
    add('rollback-plan', 'fail', `${i.rollbackPlan.path} is missing or empty`);
  else add('rollback-plan', 'pass', i.rollbackPlan.path);

  // 5. The vendor's firmware signature, through the configured hook.
  if (!i.firmware) add('firmware-signature', 'skipped', 'no --firmware file given');
  else if (!i.firmware.verify)
    add('firmware-signature', 'fail', 'no backup.maintenance.firmware_verify_command configured to check it');
  else {
    try {
      const r = await i.firmware.verify();
      if (r.exitCode === 0)
        add('firmware-signature', 'pass', `the verification hook accepted ${i.firmware.path}`);
      else
        add(
          'firmware-signature',
          'fail',
          `the verification hook refused ${i.firmware.path} (exit ${r.exitCode ?? 'signal'}): ${r.output.slice(0, 200)}`,
        );
    } catch (err) {
      add(
        'firmware-signature',
        'fail',
        `the verification hook could not run: ${toHsmError(err).message.slice(0, 200)}`,
      );
    }
  }

  // 6. A window that makes sense.
  const { start, end } = i.window;
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()))
    add('window', 'fail', 'the window is not START/END in ISO-8601');
  else if (end <= start) add('window', 'fail', 'the window ends before it starts');
  else if (end <= i.now) add('window', 'fail', 'the window is over');
  else add('window', 'pass', `${start.toISOString()} → ${end.toISOString()}`);

  return {
    member: i.member,
    ok: checks.every((c) => c.status !== 'fail'),
    window: {
      start: Number.isNaN(start.getTime()) ? String(start) : start.toISOString(),
      end: Number.isNaN(end.getTime()) ? String(end) : end.toISOString(),
    },
    backup,
    checks,
  };
}

/**
 * Throws when the plan has a failed check: HSM_ERR_BACKUP_INVALID when the backup does not verify
 * (or cannot be read), else HSM_ERR_POLICY naming every failed check (a stale backup among them).
 */
export function assertPlanAdmitted(plan: MaintenancePlan): void {
  const failed = plan.checks.filter((c) => c.status === 'fail');
  if (failed.length === 0) return;
  const text = failed.map((c) => `${c.id}: ${c.detail}`).join('; ');
  const code = failed.some((c) => c.id === 'backup-verified') ? 'HSM_ERR_BACKUP_INVALID' : 'HSM_ERR_POLICY';
  throw new HsmError(code, `maintenance of ${plan.member} refused: ${text}`, {
    details: { failed: failed.map((c) => c.id).join(',') },
  });
}
