import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { complianceHtml } from '../../governance/compliance-html.js';
import { scanCompliance } from '../../governance/compliance-scan.js';
import { withContext } from '../context.js';
import { writeOutput } from '../files.js';
import { emit, type GlobalOptions } from '../output.js';

/** `hsmkit compliance report [--json|--html]`. */
export function registerCompliance(program: Command, globals: () => GlobalOptions): void {
  const compliance = program
    .command('compliance')
    .description('compliance of the keys on the HSM with the policy');
  compliance
    .command('report')
    .option('--html', 'an HTML report')
    .option('--out <file>', 'write the report (JSON or HTML) to a file')
    .option('--force', 'overwrite --out')
    .description('scan every key on the token (attributes read from the HSM); non-zero exit on violations')
    .action(async (o: { html?: boolean; out?: string; force?: boolean }) => {
      const report = await withContext(globals(), (ctx) =>
        ctx.governance.governor.run({ operation: 'compliance.report', params: {} }, () =>
          scanCompliance(ctx.km, ctx.store.keys, ctx.governance.policy()),
        ),
      );
      const text = o.html ? complianceHtml(report) : `${JSON.stringify(report, null, 2)}\n`;
      if (o.out !== undefined) writeOutput(o.out, text, o.force);
      else if (o.html) process.stdout.write(text);
      else if (report.compliant || !globals().json) {
        emit(globals(), report, () =>
          [
            `Scanned ${report.keysScanned} key(s) under policy v${report.policyVersion}: ${report.compliant ? 'compliant' : `${report.violations.length} violation(s)`}.`,
            ...report.violations.map(
              (v) => `  ${v.kind.padEnd(18)} ${v.label.padEnd(24)} ${v.rule}: ${v.message}`,
            ),
          ].join('\n'),
        );
      }
      if (!report.compliant) {
        throw new HsmError('HSM_ERR_NONCOMPLIANT', `${report.violations.length} compliance violation(s)`, {
          details: { report },
        });
      }
    });
}
