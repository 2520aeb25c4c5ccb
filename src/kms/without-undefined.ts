/**
 * A copy of `o` without its undefined fields. Optional fields in hsmkit's request types are left
 * out rather than set to undefined, so records and JSON output stay free of empty keys.
 */
export function withoutUndefined<T extends Record<string, unknown>>(
  o: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}
