/** Commander option parser for a repeatable flag (`--meta a=1 --meta b=2`): collects every value. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
