/**
 * Canonical JSON: object keys sorted, no whitespace, `undefined` fields left out. The same value
 * always gives the same bytes, so hashes and signatures over it can be recomputed by anyone
 * (the scheme of RFC 8785 for the values hsmkit records: strings, safe integers, booleans, null).
 *
 * It runs for every audit record (twice: the parameters digest and the record hash), so it is
 * written as one loop per object rather than entries/filter/sort/map chains; canonical-json.test.ts
 * checks it against the plain definition on generated values.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += canonicalJson(value[i] ?? null);
    }
    return `${out}]`;
  }
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    // Code-unit order, as the plain `<` comparison gives (RFC 8785 sorts by UTF-16 code units).
    const keys = Object.keys(obj).sort();
    let out = '{';
    let first = true;
    for (const k of keys) {
      const v = obj[k];
      if (v === undefined) continue;
      if (!first) out += ',';
      first = false;
      out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
    }
    return `${out}}`;
  }
  throw new TypeError(`canonical JSON cannot encode ${typeof value}`);
}
