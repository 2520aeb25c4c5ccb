import { type ConfigIssue, configError, formatPath, issueAt, type PathSegment } from './issues.js';

/** A string scalar whose value was (partly) taken from the environment. */
export interface InterpolatedValue {
  /** Its YAML path, e.g. `hsm_configuration.authentication.partition_password`. */
  path: string;
  /** The same path as segments. */
  segments: PathSegment[];
  /** The environment variables it used, in order of appearance. */
  variables: string[];
}

/** What `interpolateEnvDetailed` returns. */
export interface InterpolationResult {
  /** A copy of the tree with every `${NAME}` replaced. */
  value: unknown;
  /** The YAML paths whose value came (at least partly) from the environment. */
  paths: ReadonlySet<string>;
  /** Each interpolated scalar with the variables it used. */
  interpolated: InterpolatedValue[];
}

/** Internal result: never throws, so callers can report interpolation issues with other issues. */
export interface InterpolationOutcome {
  /** The interpolated copy; a scalar that failed keeps its original text. */
  value: unknown;
  /** Each interpolated scalar with the variables it used. */
  interpolated: InterpolatedValue[];
  /** Problems found (unset variables, bad `${…}` syntax, recursive aliases). */
  issues: ConfigIssue[];
  /** Paths (as segments) of the scalars that failed. */
  failed: PathSegment[][];
}

/** Environment variable names accepted inside `${…}`. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;
const MAX_DEPTH = 64;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

interface StringOutcome {
  text: string;
  variables: string[];
  problems: string[];
}

/** Expands `${NAME}`, `${NAME:-default}` and the `$${` escape in one string. */
function expand(input: string, env: Record<string, string | undefined>): StringOutcome {
  const variables: string[] = [];
  const problems: string[] = [];
  let text = '';
  let i = 0;
  while (i < input.length) {
    const dollar = input.indexOf('$', i);
    if (dollar < 0) {
      text += input.slice(i);
      break;
    }
    text += input.slice(i, dollar);
    if (input.startsWith('$${', dollar)) {
      text += '${';
      i = dollar + 3;
      continue;
    }
    if (!input.startsWith('${', dollar)) {
      text += '$';
      i = dollar + 1;
      continue;
    }
    const close = input.indexOf('}', dollar + 2);
    if (close < 0) {
      problems.push('unterminated "${" (write "$${" for a literal "${")');
      text += input.slice(dollar);
      break;
    }
    const match = REFERENCE.exec(input.slice(dollar + 2, close));
    i = close + 1;
    if (match === null) {
      problems.push(
        `invalid "\${…}" reference: expected \${NAME} or \${NAME:-default} (write "$\${" for a literal "\${")`,
      );
      text += input.slice(dollar, close + 1);
      continue;
    }
    const name = match[1]!;
    const fallback = match[2];
    const value = env[name];
    variables.push(name);
    if (fallback !== undefined && (value === undefined || value === '')) text += fallback;
    else if (value !== undefined) text += value;
    else {
      problems.push(`environment variable ${name} is not set (or write \${${name}:-default})`);
      text += input.slice(dollar, close + 1);
    }
  }
  return { text, variables, problems };
}

/** Walks a parsed YAML tree and expands `${…}` in string scalars, collecting (not throwing) problems. */
export function interpolateTree(
  tree: unknown,
  env: Record<string, string | undefined>,
): InterpolationOutcome {
  const out: InterpolationOutcome = { value: undefined, interpolated: [], issues: [], failed: [] };
  const ancestors = new Set<object>();

  const walk = (node: unknown, segments: PathSegment[]): unknown => {
    if (typeof node === 'string') {
      if (!node.includes('$')) return node;
      const result = expand(node, env);
      if (result.variables.length > 0) {
        out.interpolated.push({ path: formatPath(segments), segments, variables: result.variables });
      }
      if (result.problems.length > 0) {
        out.failed.push(segments);
        for (const problem of result.problems) out.issues.push(issueAt(segments, problem));
        return node;
      }
      return result.text;
    }
    if (typeof node !== 'object' || node === null) return node;
    if (ancestors.has(node)) {
      out.failed.push(segments);
      out.issues.push(issueAt(segments, 'a YAML alias refers to its own ancestor (recursive structure)'));
      return null;
    }
    if (segments.length >= MAX_DEPTH) {
      out.failed.push(segments);
      out.issues.push(issueAt(segments, `nested deeper than ${MAX_DEPTH} levels`));
      return null;
    }
    ancestors.add(node);
    try {
      if (Array.isArray(node)) return node.map((item, index) => walk(item, [...segments, index]));
      if (isPlainObject(node)) {
        return Object.fromEntries(
          Object.entries(node).map(([key, item]) => [key, walk(item, [...segments, key])]),
        );
      }
      return node;
    } finally {
      ancestors.delete(node);
    }
  };

  out.value = walk(tree, []);
  return out;
}

/**
 * Like `interpolateEnv`, and also returns which YAML paths took their value from the environment.
 * Throws HSM_ERR_CONFIG listing every unset variable (by name and path, never by value).
 */
export function interpolateEnvDetailed(
  tree: unknown,
  env: Record<string, string | undefined>,
): InterpolationResult {
  const outcome = interpolateTree(tree, env);
  if (outcome.issues.length > 0) throw configError(outcome.issues);
  return {
    value: outcome.value,
    paths: new Set(outcome.interpolated.map((i) => i.path)),
    interpolated: outcome.interpolated,
  };
}

/**
 * Returns a copy of a parsed YAML tree with `${NAME}` and `${NAME:-default}` in string scalars
 * replaced from `env` (`:-` also applies when the variable is empty); `$${` gives a literal `${`.
 * Throws HSM_ERR_CONFIG naming the path and variable when a variable without default is unset.
 */
export function interpolateEnv(tree: unknown, env: Record<string, string | undefined>): unknown {
  return interpolateEnvDetailed(tree, env).value;
}
