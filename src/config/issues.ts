import { HsmError } from '../errors/index.js';

/** One step of a YAML path: a mapping key or a list index. */
export type PathSegment = string | number;

/** One problem in a configuration. `message` starts with `path`; neither ever holds a secret value. */
export interface ConfigIssue {
  /** Dotted YAML path with `[i]` list indices, e.g. `hsm_configuration.connection.endpoints[0].port`; `(root)` for the whole document. */
  path: string;
  /** One line for people, starting with `path`. */
  message: string;
  /** 1-based line in the YAML text, for syntax errors. */
  line?: number;
  /** 1-based column in the YAML text, for syntax errors. */
  column?: number;
}

/** The path used for problems with the document as a whole. */
export const ROOT_PATH = '(root)';

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const MAX_KEY_SHOWN = 64;

/** Formats path segments as a dotted YAML path with `[i]` indices; odd keys are quoted; `[]` gives `(root)`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg) && seg.length <= MAX_KEY_SHOWN) out += out === '' ? seg : `.${seg}`;
    else {
      const shown = seg.length > MAX_KEY_SHOWN ? `${seg.slice(0, MAX_KEY_SHOWN)}…` : seg;
      out += `[${JSON.stringify(shown)}]`;
    }
  }
  return out === '' ? ROOT_PATH : out;
}

/** Builds an issue whose message is `<path>: <text>`. */
export function issueAt(segments: readonly PathSegment[] | string, text: string): ConfigIssue {
  const path = typeof segments === 'string' ? segments : formatPath(segments);
  return { path, message: `${path}: ${text}` };
}

const SECRET_KEYS = new Set(['pin', 'partition_password', 'password', 'url', 'init_args']);
const SECRET_KEY_PATTERN = /pass(word)?|secret|pin$|token$|credential/i;

/**
 * True when the value at this path may be secret and must never be shown: PINs, passwords, the
 * database URL, NSS init_args and anything inside an `env` map.
 */
export function isSecretPath(segments: readonly PathSegment[]): boolean {
  const last = segments[segments.length - 1];
  if (typeof last === 'string' && (SECRET_KEYS.has(last) || SECRET_KEY_PATTERN.test(last))) return true;
  return segments.slice(0, -1).includes('env');
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  switch (typeof value) {
    case 'string':
      return value === '' ? 'an empty string' : 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'a mapping';
    default:
      return `a ${typeof value}`;
  }
}

const MAX_VALUE_SHOWN = 40;

/**
 * Describes a received value for an error message. Secret paths and values that came from the
 * environment are described by kind only (e.g. `a string from $HSM_PIN`), never shown.
 */
export function describeValue(
  value: unknown,
  opts: { secret?: boolean; variables?: readonly string[] } = {},
): string {
  if (opts.variables !== undefined && opts.variables.length > 0) {
    return `${kindOf(value)} from ${opts.variables.map((v) => `$${v}`).join(', ')}`;
  }
  if (opts.secret === true) return kindOf(value);
  if (typeof value === 'string') {
    const shown = value.length > MAX_VALUE_SHOWN ? `${value.slice(0, MAX_VALUE_SHOWN)}…` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return kindOf(value);
}

const MIN_SCRUB_LENGTH = 4;

/** Replaces every occurrence of each secret (of at least 4 characters) in `text` with `[redacted]`. */
export function scrub(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= MIN_SCRUB_LENGTH) out = out.split(secret).join('[redacted]');
  }
  return out;
}

/**
 * The HSM_ERR_CONFIG error for one or more issues: the message is the issue lines joined with "\n";
 * details carry `path` (the first issue's), `issues` and any `extra` (e.g. `source`). Every text is
 * scrubbed of the given secret values as a last line of defence.
 */
export function configError(
  issues: readonly ConfigIssue[],
  opts: { secrets?: Iterable<string>; extra?: Record<string, unknown> } = {},
): HsmError {
  const secrets = [...(opts.secrets ?? [])];
  const seen = new Set<string>();
  const clean: ConfigIssue[] = [];
  for (const issue of issues) {
    const message = scrub(issue.message, secrets);
    if (seen.has(message)) continue;
    seen.add(message);
    clean.push({ ...issue, path: scrub(issue.path, secrets), message });
  }
  if (clean.length === 0) clean.push(issueAt(ROOT_PATH, 'invalid configuration'));
  const first = clean[0]!;
  return new HsmError('HSM_ERR_CONFIG', clean.map((i) => i.message).join('\n'), {
    details: {
      path: first.path,
      ...(first.line === undefined ? {} : { line: first.line, column: first.column }),
      issues: clean,
      ...opts.extra,
    },
  });
}
