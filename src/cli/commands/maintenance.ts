import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { assertPlanAdmitted, type MaintenancePlan, planMaintenance } from '../../backup/maintenance-plan.js';
import { HsmError } from '../../errors/index.js';
import { MemberMaintenanceRepository } from '../../store/member-maintenance-repository.js';
import { loadBackup } from '../backup-storage-url.js';
import { loadCliConfig, withContext } from '../context.js';
import { emit, type GlobalOptions } from '../output.js';

interface PlanOptions {
  member: string;
  backup: string;
  s3Endpoint?: string;
  maxBackupAgeHours?: string;
  window?: string;
  rollbackPlan?: string;
  firmware?: string;
  signer?: string;
  reason: string;
}

/** Default maintenance window when `--window` is not given: from now, 4 hours. */
const DEFAULT_WINDOW_MS = 4 * 3_600_000;

/**
 * `hsmkit maintenance plan|end`: the firmware-update checklist (verified fresh backup, a staging
 * member, a rollback plan, the vendor's firmware signature through the configured hook, a window);
 * when every check passes the member is taken out of rotation (recorded in the store, honoured by
 * the cluster and shown by `cluster status`). Refusals exit non-zero with the checklist. Audited.
 */
export function registerMaintenance(program: Command, globals: () => GlobalOptions): void {
  const maintenance = program
    .command('maintenance')
    .description('firmware-update safety: plan and end maintenance');

  maintenance
    .command('plan')
    .description('check a member is safe to update and take it out of rotation')
    .requiredOption('--member <name>', 'member to update')
    .requiredOption('--backup <file|url>', 'backup file, or file:///dir/NAME / s3://bucket/prefix/NAME')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint for an s3:// backup')
    .option(
      '--max-backup-age-hours <n>',
      'newest backup must be younger (default backup.maintenance.max_backup_age_hours, 24)',
    )
    .option('--window <start/end>', 'ISO-8601 START/END (default now, 4 hours)')
    .option('--rollback-plan <file>', 'the rollback plan document (must exist)')
    .option('--firmware <file>', 'firmware image, checked by backup.maintenance.firmware_verify_command')
    .option('--signer <fingerprint>', 'expected SHA-256 fingerprint of the backup signing key')
    .option('--reason <text>', 'why (recorded)', 'firmware update')
    .action(async (o: PlanOptions) => {
      const config = loadCliConfig(globals());
      const maxAge =
        o.maxBackupAgeHours === undefined
          ? config.backup.maintenance.maxBackupAgeHours
          : Number(o.maxBackupAgeHours);
      if (!Number.isFinite(maxAge) || maxAge <= 0)
        throw new HsmError('HSM_ERR_INVALID_INPUT', '--max-backup-age-hours must be > 0');
      const now = new Date();
      const window = parseWindow(o.window, now);
      const hook = config.backup.maintenance.firmwareVerifyCommand;
      let plan: MaintenancePlan | undefined;
      try {
        await withContext(globals(), async (ctx) => {
          const repo = new MemberMaintenanceRepository(ctx.store.db);
          const out = new Set((await repo.list()).map((m) => m.member));
          await ctx.governance.governor.run(
            {
              operation: 'maintenance.plan',
              member: o.member,
              params: {
                member: o.member,
                backup: o.backup,
                window: `${window.start.toISOString()}/${window.end.toISOString()}`,
              },
            },
            async () => {
              plan = await planMaintenance({
                member: o.member,
                members: config.members.map((m) => ({
                  name: m.name,
                  role: m.role ?? 'production',
                  inMaintenance: out.has(m.name),
                })),
                loadBackup: () => loadBackup(o.backup, o.s3Endpoint),
                backupLocation: o.backup,
                maxBackupAgeHours: maxAge,
                ...(o.signer === undefined ? {} : { expectedSigner: o.signer }),
                ...(o.rollbackPlan === undefined
                  ? {}
                  : { rollbackPlan: { path: o.rollbackPlan, present: nonEmptyFile(o.rollbackPlan) } }),
                ...(o.firmware === undefined
                  ? {}
                  : {
                      firmware: {
                        path: o.firmware,
                        ...(hook ? { verify: () => runHook(hook, o.firmware!) } : {}),
                      },
                    }),
                window,
                now,
              });
              assertPlanAdmitted(plan);
              await repo.begin({
                member: o.member,
                windowStart: plan.window.start,
                windowEnd: plan.window.end,
                reason: o.reason,
                plan: JSON.stringify(plan),
                createdBy: ctx.governance.governor.options.actor.name,
                createdAt: now.toISOString(),
              });
            },
          );
        });
      } catch (err) {
        if (plan) printPlan(globals(), plan);
        throw err;
      }
      printPlan(globals(), plan!);
    });

  maintenance
    .command('end')
    .description('return a member to rotation after its maintenance')
    .requiredOption('--member <name>', 'member')
    .action(async (o: { member: string }) => {
      const ended = await withContext(globals(), (ctx) =>
        ctx.governance.governor.run(
          { operation: 'maintenance.end', member: o.member, params: { member: o.member } },
          async () => {
            if (!(await new MemberMaintenanceRepository(ctx.store.db).end(o.member)))
              throw new HsmError('HSM_ERR_NOT_FOUND', `member ${o.member} is not in maintenance`);
            return true;
          },
        ),
      );
      emit(globals(), { member: o.member, inRotation: ended }, () => `${o.member} is back in rotation.`);
    });
}

function printPlan(g: GlobalOptions, plan: MaintenancePlan): void {
  emit(g, plan, () =>
    [
      `Maintenance plan for ${plan.member} (${plan.window.start} → ${plan.window.end}): ${plan.ok ? 'ADMITTED, out of rotation' : 'REFUSED'}`,
      ...plan.checks.map(
        (c) => `  [${c.status === 'pass' ? 'x' : c.status === 'skipped' ? '-' : ' '}] ${c.id}: ${c.detail}`,
      ),
    ].join('\n'),
  );
}

function parseWindow(text: string | undefined, now: Date): { start: Date; end: Date } {
  if (text === undefined) return { start: now, end: new Date(now.getTime() + DEFAULT_WINDOW_MS) };
  const [a, b, ...rest] = text.split('/');
  if (a === undefined || b === undefined || rest.length > 0)
    throw new HsmError('HSM_ERR_INVALID_INPUT', '--window takes START/END in ISO-8601');
  return { start: new Date(a), end: new Date(b) };
}

function nonEmptyFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile() && statSync(path).size > 0;
}

/**
 * Runs the vendor's firmware-signature hook: argv from the config with the firmware path appended,
 * no shell, 120 s limit; the exit status decides. Output is kept (trimmed) for the checklist.
 */
function runHook(argv: string[], firmware: string): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, [...argv.slice(1), firmware], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let output = '';
    const take = (b: Buffer) => {
      if (output.length < 4096) output += b.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err) =>
      reject(
        new HsmError(
          'HSM_ERR_CONFIG',
          `firmware_verify_command: ${(err as NodeJS.ErrnoException).code ?? 'failed'}`,
        ),
      ),
    );
    child.on('close', (code) => resolve({ exitCode: code, output: output.trim() }));
  });
}
