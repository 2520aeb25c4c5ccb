import type { Command } from 'commander';
import { verifyAuditExport, writeAuditExport } from '../../audit/audit-export.js';
import type { AuditRange } from '../../audit/audit-store.js';
import { archiveExpired, verifyStoredChain } from '../../audit/retention.js';
import type { ChainReport } from '../../audit/verify-chain.js';
import { HsmError } from '../../errors/index.js';
import { withContext } from '../context.js';
import { emit, type GlobalOptions, required } from '../output.js';
import * as remote from '../remote/audit.js';

/** `hsmkit audit verify|export`. */
export function registerAudit(program: Command, globals: () => GlobalOptions): void {
  const audit = program.command('audit').description('tamper-evident audit log: verify, export, archive');
  registerArchive(audit, globals);

  audit
    .command('verify')
    .option('--export <dir>', 'verify an export folder offline (needs only its files)')
    .description('check the hash chain and the checkpoint signatures; names the first broken record')
    .action(async (o: { export?: string }) => {
      // An export folder is verified offline, with or without --server.
      if (globals().server && o.export === undefined) return remote.verifyAudit(globals());
      const report: ChainReport =
        o.export !== undefined
          ? verifyAuditExport(o.export)
          : await withContext(globals(), (ctx) =>
              ctx.governance.governor.run({ operation: 'audit.verify', params: {} }, async () => {
                const records = await ctx.governance.auditStore.list();
                const hasCheckpoints = records.some((r) => r.checkpoint !== undefined);
                // The key is created only by a checkpoint; verifying must not make one.
                const pem = hasCheckpoints ? (await ctx.governance.auditKey(false)).publicKeyPem : undefined;
                return verifyStoredChain(records, pem, await ctx.governance.auditStore.archiveAnchor());
              }),
            );
      if (!report.ok) {
        const b = report.firstBreak!;
        throw new HsmError('HSM_ERR_AUDIT_CHAIN', `audit log broken at record ${b.seq}: ${b.message}`, {
          details: { seq: b.seq, reason: b.reason, report },
        });
      }
      emit(
        globals(),
        report,
        () =>
          `Audit log OK: ${report.records} record(s)${report.records ? ` (${report.firstSeq}..${report.lastSeq})` : ''}, ${report.checkpoints} signed checkpoint(s)${report.uncheckpointed ? `; ${report.uncheckpointed} record(s) after the last checkpoint` : ''}.`,
      );
    });

  audit
    .command('export')
    .option('--out <dir>', 'folder to create (must not exist)')
    .option('--from <seq|time>', 'first record: a seq number or an ISO-8601 time')
    .option('--to <seq|time>', 'last record: a seq number or an ISO-8601 time')
    .description('write the records as JSONL, the checkpoint signatures and the audit public key')
    .action(async (o: { out?: string; from?: string; to?: string }) => {
      if (globals().server) return remote.exportAudit(globals(), o);
      const out = required(o.out, '--out');
      const range: AuditRange = { ...bound(o.from, 'from'), ...bound(o.to, 'to') };
      const manifest = await withContext(globals(), (ctx) =>
        ctx.governance.governor.run({ operation: 'audit.export', params: { ...range } }, async () => {
          // A fresh checkpoint first, so the export carries a signature over its newest records.
          const failed = await ctx.governance.governor.checkpoint();
          if (failed) throw failed;
          const key = await ctx.governance.auditKey();
          return writeAuditExport(
            out,
            await ctx.governance.auditStore.list(range),
            key.publicKeyPem,
            key.keyUri,
          );
        }),
      );
      emit(
        globals(),
        { out, ...manifest },
        () =>
          `Exported ${manifest.records} record(s) to ${out} (verify offline: hsmkit audit verify --export ${out}).`,
      );
    });
}

/** `hsmkit audit archive`: retention — export, sign and remove records past the audit policy's retention. */
function registerArchive(audit: Command, globals: () => GlobalOptions): void {
  audit
    .command('archive')
    .option('--out <dir>', 'folder for the signed archive (must not exist)')
    .option(
      '--before <time>',
      'archive records older than this ISO-8601 time (default: now − retention_days)',
    )
    .description('retention: export records past retention, sign the archive in the HSM, then remove them')
    .action(async (o: { out?: string; before?: string }) => {
      const out = required(o.out, '--out');
      const result = await withContext(globals(), async (ctx) => {
        const days = ctx.governance.policy().document.audit.retention_days;
        const cutoff =
          o.before !== undefined ? isoTime(o.before) : new Date(Date.now() - days * 86_400_000).toISOString();
        return ctx.governance.governor.run(
          { operation: 'audit.export', params: { archive: true, cutoff } },
          async () => {
            const key = await ctx.governance.auditKey();
            return archiveExpired(ctx.governance.auditStore, {
              cutoff,
              outDir: out,
              publicKeyPem: key.publicKeyPem,
              signer: key,
            });
          },
        );
      });
      emit(globals(), result, () =>
        result.archived === 0
          ? 'No audit records are past retention; nothing archived.'
          : `Archived records 1..${result.throughSeq} (${result.archived}) to ${out}; verify: openssl dgst -sha384 -verify ${out}/audit-public-key.pem -signature ${out}/archive.sig ${out}/archive.json`,
      );
    });
}

function isoTime(v: string): string {
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new HsmError('HSM_ERR_INVALID_INPUT', '--before is an ISO-8601 time');
  return new Date(t).toISOString();
}

function bound(v: string | undefined, side: 'from' | 'to'): AuditRange {
  if (v === undefined) return {};
  if (/^\d+$/.test(v)) return side === 'from' ? { fromSeq: Number(v) } : { toSeq: Number(v) };
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new HsmError('HSM_ERR_INVALID_INPUT', `--${side} is a seq number or an ISO-8601 time`);
  const iso = new Date(t).toISOString();
  return side === 'from' ? { fromTime: iso } : { toTime: iso };
}
