/** One difference between two policy documents, by YAML path. */
export interface PolicyChange {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

/** The differences between two documents (after defaults), path by path, sorted by path. */
export function diffPolicies(a: unknown, b: unknown): PolicyChange[] {
  const out: PolicyChange[] = [];
  walk(a, b, '', out);
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function walk(a: unknown, b: unknown, path: string, out: PolicyChange[]): void {
  if (isMap(a) && isMap(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in b)) out.push({ path: p, kind: 'removed', before: a[k] });
      else if (!(k in a)) out.push({ path: p, kind: 'added', after: b[k] });
      else walk(a[k], b[k], p, out);
    }
    return;
  }
  // Lists are compared whole: an access list or a mechanism list is read as one rule.
  if (JSON.stringify(a) !== JSON.stringify(b))
    out.push({ path: path || '(root)', kind: 'changed', before: a, after: b });
}
