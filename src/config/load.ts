import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { HsmError } from '../errors/index.js';
import { type InterpolatedValue, interpolateTree } from './interpolate.js';
import {
  type ConfigIssue,
  configError,
  describeValue,
  formatPath,
  isSecretPath,
  issueAt,
  type PathSegment,
  ROOT_PATH,
} from './issues.js';
import {
  type AlertingConfig,
  type ConfigFile,
  configFileSchema,
  type HsmkitConfig,
  keysAt,
  kindAt,
  MEMBER_DEFAULTS,
  type MemberConfig,
  type MemberEntry,
  type ServiceConfig,
} from './schema.js';
import { Secret } from './secret.js';
import { checkYamlSize, MAX_YAML_ALIASES } from './yaml-limits.js';

/** Options of `parseConfig`. */
export interface ParseConfigOptions {
  /** Environment for `${NAME}` interpolation; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Folder that relative paths (pin_file, store.path, module, client files) resolve against; default the working directory. */
  baseDir?: string;
  /** Where the text came from (a file path), copied to the result and to error details. */
  source?: string;
}

/** Largest number of YAML alias expansions accepted (guards against "billion laughs" documents). */
const MAX_ALIAS_COUNT = MAX_YAML_ALIASES;

/** Short, source-free descriptions of YAML error codes (the library's own messages may quote the text). */
const YAML_ERRORS: Record<string, string> = {
  ALIAS_PROPS: 'an alias cannot have an anchor or tag',
  BAD_ALIAS: 'bad alias',
  BAD_COLLECTION_TYPE: 'a tag does not fit the collection type',
  BAD_DIRECTIVE: 'bad directive',
  BAD_DQ_ESCAPE: 'invalid escape sequence in a double-quoted string',
  BAD_INDENT: 'bad indentation',
  BAD_PROP_ORDER: 'anchors and tags must come after the ? : - indicators',
  BAD_SCALAR_START: 'a plain value cannot start with this character (quote it)',
  BLOCK_AS_IMPLICIT_KEY: 'a block collection cannot be an implicit key',
  BLOCK_IN_FLOW: 'a block collection cannot be inside a flow collection',
  DUPLICATE_KEY: 'duplicate key',
  IMPOSSIBLE: 'unparseable input',
  KEY_OVER_1024_CHARS: 'implicit key longer than 1024 characters',
  MISSING_CHAR: 'missing character (a closing quote or bracket, a comma or a colon)',
  MULTILINE_IMPLICIT_KEY: 'an implicit key must be on one line',
  MULTIPLE_ANCHORS: 'a node can have only one anchor',
  MULTIPLE_DOCS: 'more than one YAML document',
  MULTIPLE_TAGS: 'a node can have only one tag',
  NON_STRING_KEY: 'keys must be strings',
  TAB_AS_INDENT: 'tabs are not allowed as indentation',
  TAG_RESOLVE_FAILED: 'unknown tag',
  UNEXPECTED_TOKEN: 'unexpected token',
};

function yamlIssue(err: YAMLError): ConfigIssue {
  const pos = err.linePos?.[0];
  const where = pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`;
  const what = YAML_ERRORS[err.code] ?? 'syntax error';
  const issue = issueAt(ROOT_PATH, `invalid YAML${where}: ${what} (${err.code})`);
  return pos === undefined ? issue : { ...issue, line: pos.line, column: pos.col };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function own(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function valueAt(tree: unknown, segments: readonly PathSegment[]): unknown {
  let current = tree;
  for (const seg of segments) {
    if (Array.isArray(current) && typeof seg === 'number') current = current[seg];
    else if (isRecord(current) && typeof seg === 'string') current = own(current, seg);
    else return undefined;
  }
  return current;
}

/** Turns interpolated strings into numbers or booleans where the schema expects exactly that. */
function coerceInterpolated(tree: unknown, interpolated: readonly InterpolatedValue[]): void {
  for (const { segments } of interpolated) {
    const last = segments[segments.length - 1];
    if (last === undefined) continue;
    const parent = valueAt(tree, segments.slice(0, -1));
    const value = valueAt(tree, segments);
    if (typeof value !== 'string') continue;
    const kind = kindAt(segments);
    let coerced: unknown;
    if (kind === 'number' && /^[+-]?\d{1,15}$/.test(value.trim())) coerced = Number(value.trim());
    else if (kind === 'boolean' && /^(true|false)$/i.test(value.trim()))
      coerced = value.trim().toLowerCase() === 'true';
    else continue;
    if (Array.isArray(parent) && typeof last === 'number') parent[last] = coerced;
    else if (isRecord(parent) && typeof last === 'string') parent[last] = coerced;
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function unknownKeyText(key: string, allowed: readonly string[]): string {
  let hint = '';
  if (key.length <= 64) {
    const best = allowed
      .map((k) => ({ k, d: editDistance(key.toLowerCase(), k) }))
      .filter(({ d }) => d <= 2)
      .sort((x, y) => x.d - y.d)[0];
    if (best !== undefined) hint = ` (did you mean ${best.k}?)`;
  }
  const list = allowed.length > 0 ? `; allowed keys: ${allowed.join(', ')}` : '';
  return `unknown key${hint}${list}`;
}

function fallbackMessage(issue: { code?: string; expected?: string }): string {
  if (issue.code === 'invalid_type') {
    switch (issue.expected) {
      case 'object':
      case 'record':
        return 'expected a mapping';
      case 'array':
        return 'expected a list';
      case 'string':
        return 'expected a string';
      case 'number':
      case 'int':
        return 'expected a number';
      case 'boolean':
        return 'expected true or false';
      default:
        return `expected ${issue.expected ?? 'another type'}`;
    }
  }
  return 'invalid value';
}

/** Which paths took their value from which environment variables. */
type VariablesByPath = Map<string, readonly string[]>;

function zodIssues(error: z.ZodError, tree: unknown, variables: VariablesByPath): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const segments = issue.path.filter(
      (s): s is PathSegment => typeof s === 'string' || typeof s === 'number',
    );
    if (issue.code === 'unrecognized_keys') {
      const allowed = keysAt(segments);
      for (const key of issue.keys) out.push(issueAt([...segments, key], unknownKeyText(key, allowed)));
      continue;
    }
    if (issue.code === 'invalid_key') {
      out.push(issueAt(segments, issue.issues[0]?.message ?? 'invalid key'));
      continue;
    }
    const value = valueAt(tree, segments);
    if (value === undefined && issue.code === 'invalid_type') {
      out.push(issueAt(segments, segments.length === 0 ? issue.message : 'required'));
      continue;
    }
    if (segments.length === 0) {
      out.push(issueAt(segments, `${issue.message}, got ${describeValue(value, { secret: true })}`));
      continue;
    }
    const got = describeValue(value, {
      secret: isSecretPath(segments),
      variables: variables.get(formatPath(segments)) ?? [],
    });
    out.push(issueAt(segments, `${issue.message}, got ${got}`));
  }
  return out;
}

/** Checks that involve several fields; works on the unvalidated tree so all issues are reported at once. */
function crossCheck(tree: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!isRecord(tree)) return issues;
  const hc = own(tree, 'hsm_configuration');
  const connection = isRecord(hc) ? own(hc, 'connection') : undefined;
  if (isRecord(connection)) {
    const base: PathSegment[] = ['hsm_configuration', 'connection'];
    checkLevel(connection, base, issues);
    const members = own(connection, 'members');
    const endpoints = own(connection, 'endpoints');
    if (members !== undefined && endpoints !== undefined) {
      issues.push(issueAt(base, 'members and endpoints are alternatives; give only one of them'));
    }
    const listKey = members !== undefined ? 'members' : 'endpoints';
    const list = own(connection, listKey);
    if (Array.isArray(list)) {
      const seen = new Map<string, number>();
      list.forEach((entry, index) => {
        const path: PathSegment[] = [...base, listKey, index];
        if (!isRecord(entry)) return;
        checkLevel(entry, path, issues);
        const name = memberName(entry, index, true);
        const first = seen.get(name);
        if (first !== undefined) {
          const at = own(entry, 'name') !== undefined ? [...path, 'name'] : path;
          issues.push(
            issueAt(at, `duplicate member name ${JSON.stringify(name)} (also ${listKey}[${first}])`),
          );
        } else seen.set(name, index);
      });
    }
  }
  const store = own(tree, 'store');
  if (isRecord(store)) {
    const driver = own(store, 'driver') ?? 'sqlite';
    if (driver === 'postgres') {
      if (own(store, 'url') === undefined)
        issues.push(issueAt(['store', 'url'], 'required when driver is postgres'));
      if (own(store, 'path') !== undefined)
        issues.push(issueAt(['store', 'path'], 'only allowed with driver sqlite'));
    } else if (driver === 'sqlite' && own(store, 'url') !== undefined) {
      issues.push(issueAt(['store', 'url'], 'only allowed with driver postgres'));
    }
  }
  return issues;
}

function checkLevel(level: Record<string, unknown>, path: PathSegment[], issues: ConfigIssue[]): void {
  // zod's record parser silently drops a __proto__ key; refuse it rather than lose a setting.
  const env = own(level, 'env');
  if (isRecord(env) && Object.hasOwn(env, '__proto__')) {
    issues.push(issueAt([...path, 'env', '__proto__'], 'not allowed as an environment variable name'));
  }
  if (own(level, 'slot') !== undefined && own(level, 'token_label') !== undefined) {
    issues.push(issueAt(path, 'slot and token_label are alternatives; give only one of them'));
  }
  if (own(level, 'pin') !== undefined && own(level, 'pin_file') !== undefined) {
    issues.push(issueAt(path, 'pin and pin_file are alternatives; give only one of them'));
  }
}

/** A member's name: given, else `host:port` (`[v6]:port`), else `member-<index>` (or `default`). */
function memberName(entry: Record<string, unknown>, index: number, listed: boolean): string {
  const name = own(entry, 'name');
  if (typeof name === 'string') return name;
  const host = own(entry, 'host');
  const port = own(entry, 'port');
  if (typeof host === 'string') {
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return typeof port === 'number' ? `${shownHost}:${port}` : host;
  }
  return listed ? `member-${index}` : 'default';
}

/** Resolves a file path against `baseDir`; `~/` means the home folder. */
function resolveFile(path: string, baseDir: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return resolve(homedir(), path.slice(2));
  return isAbsolute(path) ? resolve(path) : resolve(baseDir, path);
}

/** Resolves a module path when it is a path (has a `/`); a bare library name is left to the dynamic loader. */
function resolveModule(path: string, baseDir: string): string {
  return path.includes('/') ? resolveFile(path, baseDir) : path;
}

function secretSource(segments: PathSegment[], variables: VariablesByPath): string {
  const used = variables.get(formatPath(segments));
  return used !== undefined && used.length > 0 ? `env:${used.join(',')}` : 'inline';
}

type Pkcs11Level = Pick<MemberEntry, 'slot' | 'token_label' | 'pin' | 'pin_file'>;

function normalise(
  file: ConfigFile,
  baseDir: string,
  variables: VariablesByPath,
  source?: string,
): HsmkitConfig {
  const hc = file.hsm_configuration;
  const conn = hc.connection;
  const connPath: PathSegment[] = ['hsm_configuration', 'connection'];
  const listKey = conn.members !== undefined ? 'members' : 'endpoints';
  const list: MemberEntry[] | undefined = conn.members ?? conn.endpoints;

  const pinOf = (level: Pkcs11Level, path: PathSegment[]): { pin?: Secret; pinFile?: string } | undefined => {
    if (level.pin !== undefined)
      return { pin: new Secret(level.pin, secretSource([...path, 'pin'], variables)) };
    if (level.pin_file !== undefined) return { pinFile: resolveFile(level.pin_file, baseDir) };
    return undefined;
  };

  const buildMember = (entry: MemberEntry, index: number, listed: boolean): MemberConfig => {
    const path: PathSegment[] = listed ? [...connPath, listKey, index] : connPath;
    const member: MemberConfig = {
      name: memberName(entry, index, listed),
      provider: entry.provider ?? hc.provider,
      userType: entry.user_type ?? conn.user_type ?? MEMBER_DEFAULTS.userType,
      env: { ...conn.env, ...entry.env },
      hostProcesses: entry.host_processes ?? conn.host_processes ?? MEMBER_DEFAULTS.hostProcesses,
    };
    const module = entry.module ?? conn.module;
    if (module !== undefined) member.module = resolveModule(module, baseDir);
    // The token is chosen by the member's slot/token_label if it gives either, else by the connection's.
    const selector = entry.slot !== undefined || entry.token_label !== undefined ? entry : conn;
    if (selector.slot !== undefined) member.slot = selector.slot;
    if (selector.token_label !== undefined) member.tokenLabel = selector.token_label;
    // The credential is the member's pin/pin_file, else the connection's, else the partition password.
    const credential = pinOf(entry, path) ?? pinOf(conn, connPath);
    if (credential !== undefined) Object.assign(member, credential);
    else if (hc.authentication.partition_password !== undefined) {
      const pwPath: PathSegment[] = ['hsm_configuration', 'authentication', 'partition_password'];
      member.pin = new Secret(hc.authentication.partition_password, secretSource(pwPath, variables));
    }
    const initArgs = entry.init_args ?? conn.init_args;
    if (initArgs !== undefined) member.initArgs = initArgs;
    const symbols = entry.symbols ?? conn.symbols;
    if (symbols !== undefined) member.symbols = symbols;
    if (entry.host !== undefined) member.host = entry.host;
    if (entry.port !== undefined) member.port = entry.port;
    if (entry.region !== undefined) member.region = entry.region;
    if (entry.site !== undefined) member.site = entry.site;
    if (entry.role !== undefined) member.role = entry.role;
    return member;
  };

  const members =
    list === undefined
      ? [buildMember({}, 0, false)]
      : list.map((entry, index) => buildMember(entry, index, true));

  const auth = hc.authentication;
  const authentication: HsmkitConfig['authentication'] = {};
  if (auth.partition !== undefined) authentication.partition = auth.partition;
  if (auth.client_certificate !== undefined) {
    authentication.clientCertificate = resolveFile(auth.client_certificate, baseDir);
  }
  if (auth.client_key !== undefined) authentication.clientKey = resolveFile(auth.client_key, baseDir);

  const ha = hc.high_availability;
  const perf = hc.performance;
  const policy = hc.security_policy;
  const minimumKeySize: HsmkitConfig['securityPolicy']['minimumKeySize'] = {};
  if (policy.minimum_key_size.rsa !== undefined) minimumKeySize.rsa = policy.minimum_key_size.rsa;
  if (policy.minimum_key_size.ecdsa !== undefined) minimumKeySize.ecdsa = policy.minimum_key_size.ecdsa;
  const securityPolicy: HsmkitConfig['securityPolicy'] = {
    minimumKeySize,
    keyAttributes: { ...policy.key_attributes },
  };
  if (policy.allowed_mechanisms !== undefined)
    securityPolicy.allowedMechanisms = [...policy.allowed_mechanisms];

  let store: HsmkitConfig['store'];
  if (file.store.driver === 'postgres') {
    // crossCheck guarantees the url is present for postgres.
    store = {
      driver: 'postgres',
      url: new Secret(file.store.url!, secretSource(['store', 'url'], variables)),
    };
  } else {
    store = { driver: 'sqlite' };
    const path = file.store.path;
    if (path !== undefined) store.path = path === ':memory:' ? path : resolveFile(path, baseDir);
  }

  const config: HsmkitConfig = {
    provider: hc.provider,
    connectionType: conn.type,
    members,
    authentication,
    highAvailability: {
      mode: ha.mode,
      loadBalancing: ha.load_balancing,
      failoverTimeoutMs: ha.failover_timeout_ms,
      retryAttempts: ha.retry_attempts,
      healthIntervalMs: ha.health_interval_ms,
      slaMs: ha.sla_ms,
      breaker: {
        failureThreshold: ha.breaker.failure_threshold,
        openMs: ha.breaker.open_ms,
        maxOpenMs: ha.breaker.max_open_ms,
      },
      queue: { max: ha.queue.max },
      ...(ha.replication
        ? { replication: { keyLabel: ha.replication.key_label, minCopies: ha.replication.min_copies } }
        : {}),
      ...(ha.local_site !== undefined ? { localSite: ha.local_site } : {}),
    },
    performance: {
      connectionPoolSize: perf.connection_pool_size,
      operationTimeoutMs: perf.operation_timeout_ms,
      keygenTimeoutMs: perf.keygen_timeout_ms,
      batchSize: perf.batch_size,
      asyncOperations: perf.async_operations,
      capabilityCache: {
        enabled: perf.capability_cache.enabled,
        maxAgeMs: perf.capability_cache.max_age_hours * 3_600_000,
        ...(perf.capability_cache.dir !== undefined
          ? { dir: resolveFile(perf.capability_cache.dir, baseDir) }
          : {}),
      },
    },
    securityPolicy,
    store,
    service: normaliseService(file.service, baseDir),
    backup: normaliseBackup(file.backup, baseDir),
  };
  if (source !== undefined) config.source = source;
  return config;
}

/** The `backup` block in camelCase (drill interval in milliseconds). */
function normaliseBackup(b: ConfigFile['backup'], baseDir: string): HsmkitConfig['backup'] {
  const m = b.maintenance;
  const out: HsmkitConfig['backup'] = {
    maintenance: {
      maxBackupAgeHours: m.max_backup_age_hours,
      ...(m.firmware_verify_command ? { firmwareVerifyCommand: [...m.firmware_verify_command] } : {}),
    },
  };
  if (b.locations) out.locations = [...b.locations];
  if (b.s3_endpoint !== undefined) out.s3Endpoint = b.s3_endpoint;
  if (b.drill) {
    const d = b.drill;
    out.drill = {
      intervalMs: d.interval_minutes * 60_000,
      // A plain path is relative to the config file; a URL (file://, s3://) is kept as written.
      backup: d.backup.includes('://') ? d.backup : resolveFile(d.backup, baseDir),
      member: d.member,
      rtoMs: d.rto_ms,
      ...(d.s3_endpoint === undefined ? {} : { s3Endpoint: d.s3_endpoint }),
      ...(d.signer === undefined ? {} : { signer: d.signer.toLowerCase() }),
    };
  }
  return out;
}

/** The `service` block with paths resolved and `match` split into kind and value. */
function normaliseService(svc: ConfigFile['service'], baseDir: string): ServiceConfig {
  const out: ServiceConfig = {
    listen: svc.listen ?? '127.0.0.1:8443',
    identities: svc.identities.map((i) => {
      const colon = i.match.indexOf(':');
      return {
        name: i.name,
        match: { kind: i.match.slice(0, colon) as 'cn' | 'uri', value: i.match.slice(colon + 1) },
        kind: i.kind,
        roles: [...i.roles],
      };
    }),
    rateLimit: { perSecond: svc.rate_limit.per_second, burst: svc.rate_limit.burst },
    bodyLimitBytes: svc.body_limit_bytes,
    alerting: normaliseAlerting(svc.alerting),
    totpLockout: { attempts: svc.totp_lockout.attempts, refillSeconds: svc.totp_lockout.refill_seconds },
  };
  if (svc.break_glass !== undefined) {
    const b = svc.break_glass;
    out.breakGlass = {
      role: b.role,
      approvers: { identities: [...b.approvers.identities], roles: [...b.approvers.roles] },
      quorum: b.quorum,
      maxDurationMinutes: b.max_duration_minutes,
    };
  }
  if (svc.metrics_listen !== undefined) out.metricsListen = svc.metrics_listen;
  if (svc.tls !== undefined) {
    out.tls = {
      certificate: resolveFile(svc.tls.certificate, baseDir),
      key: resolveFile(svc.tls.key, baseDir),
      clientCa: resolveFile(svc.tls.client_ca, baseDir),
    };
  }
  return out;
}

/** The `service.alerting` block in camelCase. */
function normaliseAlerting(a: ConfigFile['service']['alerting']): AlertingConfig {
  const out: AlertingConfig = {
    webhooks: [...a.webhooks],
    memberDown: a.member_down,
    unavailable: a.unavailable,
    replicationFailures: a.replication_failures,
    auditFailures: a.audit_failures,
    capacityThresholdPercent: a.capacity_threshold_percent,
    keyExpiryDays: a.key_expiry_days,
    evaluateIntervalMs: a.evaluate_interval_ms,
    retry: {
      attempts: a.retry.attempts,
      initialBackoffMs: a.retry.initial_backoff_ms,
      maxBackoffMs: a.retry.max_backoff_ms,
      timeoutMs: a.retry.timeout_ms,
    },
  };
  if (a.capacity_limit_keys !== undefined) out.capacityLimitKeys = a.capacity_limit_keys;
  if (a.latency_sla_ms !== undefined) out.latencySlaMs = a.latency_sla_ms;
  return out;
}

/** Every string value at a secret path (PINs, passwords, URLs, env maps), to scrub from error text. */
function secretValues(tree: unknown): string[] {
  const found: string[] = [];
  const walk = (node: unknown, segments: PathSegment[], depth: number): void => {
    if (depth > 64) return;
    if (typeof node === 'string') {
      if (isSecretPath(segments)) found.push(node);
    } else if (Array.isArray(node)) {
      for (const [i, item] of node.entries()) walk(item, [...segments, i], depth + 1);
    } else if (isRecord(node))
      for (const [k, v] of Object.entries(node)) walk(v, [...segments, k], depth + 1);
  };
  walk(tree, [], 0);
  return found;
}

/**
 * Parses, interpolates, validates and normalises hsmkit YAML. Throws one HSM_ERR_CONFIG listing every
 * problem (each line starting with its YAML path); secret values never appear in the error.
 */
export function parseConfig(text: string, opts: ParseConfigOptions = {}): HsmkitConfig {
  const env = opts.env ?? process.env;
  const baseDir = resolve(opts.baseDir ?? process.cwd());
  const extra = opts.source === undefined ? {} : { source: opts.source };

  // Refused before parsing: the parser's memory grows with the document (src/config/yaml-limits.ts).
  checkYamlSize(text, opts.source ?? 'config');
  // logLevel 'error': the yaml library otherwise prints warnings (process.emitWarning) that quote
  // the document's text, e.g. a collection used as a key, and the text may hold a PIN.
  const doc = parseDocument(text, {
    version: '1.2',
    schema: 'core',
    merge: false,
    uniqueKeys: true,
    logLevel: 'error',
  });
  if (doc.errors.length > 0) throw configError(doc.errors.map(yamlIssue), { extra });
  let tree: unknown;
  try {
    tree = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch {
    throw configError(
      [issueAt(ROOT_PATH, `invalid YAML: too many or bad aliases (at most ${MAX_ALIAS_COUNT})`)],
      {
        extra,
      },
    );
  }
  if (tree === null || tree === undefined) {
    throw configError(
      [issueAt(ROOT_PATH, 'the document is empty; expected a mapping with hsm_configuration')],
      {
        extra,
      },
    );
  }

  const interpolation = interpolateTree(tree, env);
  const value = interpolation.value;
  coerceInterpolated(value, interpolation.interpolated);
  const variables: VariablesByPath = new Map(interpolation.interpolated.map((i) => [i.path, i.variables]));
  const secrets = secretValues(value);

  const result = configFileSchema.safeParse(value, { error: fallbackMessage });
  const issues: ConfigIssue[] = [...interpolation.issues];
  if (!result.success) {
    const failed = interpolation.failed;
    const fresh = zodIssues(result.error, value, variables).filter((issue) => {
      return !failed.some(
        (prefix) => issue.path === formatPath(prefix) || startsWithPath(issue.path, prefix),
      );
    });
    issues.push(...fresh);
  }
  issues.push(...crossCheck(value));
  if (issues.length > 0 || !result.success) throw configError(issues, { secrets, extra });
  return normalise(result.data, baseDir, variables, opts.source);
}

function startsWithPath(path: string, prefix: PathSegment[]): boolean {
  const p = formatPath(prefix);
  return p !== ROOT_PATH && (path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
}

/** Reads and parses a config file; relative paths in it resolve against the file's folder. */
export function loadConfig(
  file: string,
  env: Record<string, string | undefined> = process.env,
): HsmkitConfig {
  const absolute = resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const why = code === 'ENOENT' ? 'not found' : `cannot be read (${code})`;
    const issue = issueAt(ROOT_PATH, `config file ${absolute} ${why}`);
    throw new HsmError('HSM_ERR_CONFIG', issue.message, {
      details: { path: issue.path, file: absolute, issues: [issue] },
      cause: err,
    });
  }
  return parseConfig(text, { env, baseDir: dirname(absolute), source: absolute });
}

/** Largest PIN file accepted, in bytes. */
const MAX_PIN_FILE_BYTES = 4096;

function pinFileError(file: string, yamlPath: string | undefined, text: string, cause?: unknown): HsmError {
  const path = yamlPath ?? file;
  const message = `${path}: PIN file ${yamlPath === undefined ? '' : `${file} `}${text}`;
  const ctx = { details: { path, file, issues: [{ path, message }] } };
  return new HsmError('HSM_ERR_CONFIG', message, cause === undefined ? ctx : { ...ctx, cause });
}

/**
 * Reads a PIN file into a Secret (source `file:<path>`), stripping one trailing newline. Refuses a
 * missing or empty file, and one that group or others may access (mode & 0o077): chmod 600 it.
 * `yamlPath`, when given, starts the error message.
 */
export function readPinFile(path: string, yamlPath?: string): Secret {
  const file = resolve(path);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const why = code === 'ENOENT' ? 'not found' : `cannot be opened (${code})`;
    throw pinFileError(file, yamlPath, why, err);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw pinFileError(file, yamlPath, 'is not a regular file');
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(3, '0');
      throw pinFileError(
        file,
        yamlPath,
        `is accessible by group or others (mode ${mode}); run: chmod 600 ${file}`,
      );
    }
    if (stat.size > MAX_PIN_FILE_BYTES)
      throw pinFileError(file, yamlPath, `is larger than ${MAX_PIN_FILE_BYTES} bytes`);
    let pin = readFileSync(fd, 'utf8');
    if (pin.endsWith('\r\n')) pin = pin.slice(0, -2);
    else if (pin.endsWith('\n')) pin = pin.slice(0, -1);
    if (pin === '') throw pinFileError(file, yamlPath, 'is empty');
    return new Secret(pin, `file:${file}`);
  } finally {
    closeSync(fd);
  }
}
