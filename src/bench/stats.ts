/** Nearest-rank percentile (q in 0..1) of unsorted samples; NaN when there are none. */
export function pct(samples: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(samples).sort();
  if (s.length === 0) return Number.NaN;
  const rank = Math.min(s.length, Math.max(1, Math.ceil(q * s.length)));
  return s[rank - 1]!;
}

/** Median (nearest rank). */
export const median = (x: ArrayLike<number>): number => pct(x, 0.5);

/** Rounds to `d` decimals. */
export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** A ratio rounded to 3 decimals; NaN when the baseline is missing. */
export const ratio = (hsmkit: number, baseline: number): number =>
  baseline > 0 ? round(hsmkit / baseline, 3) : Number.NaN;

/** CPU seconds (user + system) a process has used, from /proc (NaN once it has gone). */
export function procCpuSeconds(pid: number, read: (path: string) => string): number {
  try {
    const stat = read(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return Number.NaN;
  }
}
