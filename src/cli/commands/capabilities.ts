import type { Command } from 'commander';
import type { Pkcs11CapabilityReport } from '../../adapters/pkcs11/vendors/token-capabilities.js';
import type { CapabilityReport } from '../../kms/key-manager.js';
import { withContext } from '../context.js';
import { emit, type GlobalOptions, table } from '../output.js';

/** `hsmkit hsm capabilities [--json]`: the capability report of each configured member. */
export function registerCapabilities(hsm: Command, globals: () => GlobalOptions): void {
  hsm
    .command('capabilities')
    .description(
      'vendor profile, usable key types, checked security properties and probe results of each member',
    )
    .action(async () => {
      const reports = await withContext(globals(), (ctx) => ctx.km.capabilities());
      emit(globals(), reports, () => reports.map(describeReport).join('\n\n'));
    });
}

/** How a member's capability probe result came about: `cached (probed <time>)`, `probed at connect (<time>)` or `none`. */
export function probeOrigin(probe: { source?: string; probedAt?: string } | undefined): string {
  if (probe?.source === 'cached') return `cached (probed ${probe.probedAt})`;
  if (probe?.source === 'probed') return `probed at connect (${probe.probedAt})`;
  return 'none';
}

/** A PKCS#11 member's report carries the vendor part; other backends' reports print their KMS part only. */
function isPkcs11Report(r: CapabilityReport): r is Pkcs11CapabilityReport {
  return 'vendor' in r && 'securityProperties' in r;
}

function describeReport(r: CapabilityReport): string {
  if (!isPkcs11Report(r)) {
    return table([
      ['member', r.member],
      ['module', r.module.path],
      ['key types', r.keyTypes.join(', ') || '(none)'],
    ]);
  }
  const lines = [
    table([
      ['member', r.member],
      ['vendor', `${r.vendor.name} (${r.vendor.id}, ${r.vendor.selectedBy}; ${r.vendor.evidence})`],
      ['module', `${r.module.path} — ${r.module.manufacturer} ${r.module.libraryVersion}`],
      ['token', `${r.token.label} (${r.token.manufacturer} ${r.token.model})`],
      ['key types', r.keyTypes.join(', ') || '(none)'],
      ['wrap/unwrap', `${r.wrap.status}: ${r.wrap.detail}`],
      ['probe', `${r.probe.objects} objects, ${r.probe.durationMs} ms, ${probeOrigin(r.probe)}`],
    ]),
    '',
    'Checked security properties:',
    ...r.securityProperties.map((p) => `  ${p.status.padEnd(11)} ${p.title}\n              ${p.detail}`),
  ];
  if (r.unusableMechanisms.length > 0) {
    lines.push('', 'Listed but not used:', ...r.unusableMechanisms.map((m) => `  ${m.name}: ${m.reason}`));
  }
  if (r.refusedKeyTypes.length > 0) {
    lines.push(
      '',
      'Refused key types:',
      ...r.refusedKeyTypes.map((k) => `  ${k.type}: ${k.code} (${k.reason})`),
    );
  }
  for (const n of r.probe.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
