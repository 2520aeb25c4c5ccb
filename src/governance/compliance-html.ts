import type { ComplianceReport } from './compliance-scan.js';

const escapeHtml = (s: unknown): string =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** A self-contained HTML page of a compliance report (no scripts, no external resources). */
export function complianceHtml(r: ComplianceReport): string {
  const rows = r.violations
    .map(
      (v) =>
        `<tr><td>${escapeHtml(v.kind)}</td><td>${escapeHtml(v.label)}</td><td><code>${escapeHtml(v.keyUri)}</code></td><td>${escapeHtml(v.member)}</td><td><code>${escapeHtml(v.rule)}</code></td><td>${escapeHtml(v.message)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hsmkit compliance report</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:left}.bad{color:#a00}.ok{color:#070}</style>
</head><body>
<h1>hsmkit compliance report</h1>
<p class="${r.compliant ? 'ok' : 'bad'}">${r.compliant ? 'Compliant' : `${r.violations.length} violation(s)`}</p>
<p>Generated ${escapeHtml(r.generatedAt)} under policy version ${escapeHtml(r.policyVersion)} (sha256 ${escapeHtml(r.policyHash)}); ${escapeHtml(r.keysScanned)} key(s) scanned on the token(s), ${escapeHtml(r.metadataRecords)} metadata record(s).</p>
<table><thead><tr><th>Finding</th><th>Label</th><th>Key</th><th>Member</th><th>Rule</th><th>Detail</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
