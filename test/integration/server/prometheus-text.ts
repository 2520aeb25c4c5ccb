/** Test helper: a strict parser of the Prometheus text exposition format (the /metrics tests). */

/** One sample of the text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict parser of the Prometheus text exposition format 0.0.4: every line is a HELP, a TYPE,
 * or a sample of a family declared by TYPE (histogram/summary suffixes allowed); label values
 * are quoted with the three escapes; values are floats, NaN or ±Inf. Anything else throws.
 */
export function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const fail = (why: string) => new Error(`line ${i + 1}: ${why}: ${line}`);
    if (line.startsWith('# HELP ')) {
      if (!NAME.test(line.split(' ')[2] ?? '')) throw fail('bad HELP');
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (
        !NAME.test(name ?? '') ||
        !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? '')
      )
        throw fail('bad TYPE');
      if (types.has(name!)) throw fail('duplicate TYPE');
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('#')) throw fail('unknown comment');
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) throw fail('not a sample');
    const labels: Record<string, string> = {};
    let rest = m[3] ?? '';
    while (rest !== '') {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
      if (!lm) throw fail('bad labels');
      labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(lm[0].length);
    }
    const value =
      m[4] === 'NaN' ? Number.NaN : m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    if (!/^(NaN|[+-]Inf|-?\d+(\.\d+)?([eE][+-]?\d+)?)$/.test(m[4]!)) throw fail('bad value');
    const family = types.has(m[1]!) ? m[1]! : m[1]!.replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(family)) throw fail('sample of an undeclared family');
    samples.push({ name: m[1]!, labels, value });
  }
  return { types, samples };
}
