import { z } from 'zod';
import { ENV_NAME } from './interpolate.js';
import type { PathSegment } from './issues.js';
import type { Secret } from './secret.js';

/** PKCS#11 providers hsmkit knows; `provider` (top level or per member) must be one of these. */
export const PROVIDERS = [
  'softhsm2',
  'opencryptoki',
  'nss',
  'tpm2',
  'p11-kit-remote',
  'thales_luna',
  'entrust_nshield',
  'utimaco',
  'aws_cloudhsm',
  'azure_dedicated',
  'gcp_kms',
] as const;

/** One of `PROVIDERS`. */
export type Provider = (typeof PROVIDERS)[number];

/** PKCS#11 user types for C_Login: CKU_USER, CKU_SO, or the vendor's crypto-officer role. */
export const USER_TYPES = ['user', 'so', 'crypto_officer'] as const;

/** Values of `symbols` (how a member host binds a module's symbols). */
export const SYMBOL_BINDINGS = ['isolated', 'global'] as const;

/** Curves `security_policy.minimum_key_size.ecdsa` accepts. */
export const ECDSA_CURVES = ['P-256', 'P-384', 'P-521'] as const;

/** Defaults applied to settings that are merged from connection level into each member. */
export const MEMBER_DEFAULTS = {
  /** `user_type` when neither member nor connection gives one. */
  userType: 'user',
  /** `host_processes` when neither member nor connection gives one. */
  hostProcesses: 1,
} as const;

/** Longest PKCS#11 token label in UTF-8 bytes (CK_TOKEN_INFO.label is 32 bytes). */
export const MAX_TOKEN_LABEL_BYTES = 32;

const MAX_MS = 3_600_000;

// ---- leaf helpers: each gives one message for every way the value can be wrong ----

function int(min: number, max: number, what = `an integer from ${min} to ${max}`) {
  const error = `expected ${what}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

function ms(min = 1) {
  return int(min, MAX_MS, `a duration in milliseconds from ${min} to ${MAX_MS}`);
}

function text(what = 'a non-empty string') {
  const error = `expected ${what}`;
  return z.string({ error }).min(1, { error });
}

function secretText() {
  return z
    .string({ error: 'expected a string (quote PINs and passwords in YAML)' })
    .min(1, { error: 'expected a non-empty string' });
}

function bool() {
  return z.boolean({ error: 'expected true or false' });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of: ${values.join(', ')}` });
}

const noWhitespace = (what: string) =>
  text(what).regex(/^\S+$/, { error: `expected ${what} without spaces` });

// ---- the file as written ----

/** PKCS#11 settings allowed on `connection` (as defaults) and on each endpoint or member. */
const pkcs11Shape = {
  /** Path of the PKCS#11 library (absolute, relative to the config file when it has a `/`, or a bare library name). */
  module: text('a path to a PKCS#11 library'),
  /** Slot id to use; alternative to `token_label`. */
  slot: int(0, Number.MAX_SAFE_INTEGER, 'a slot id (a non-negative integer)'),
  /** Label of the token to use (at most 32 UTF-8 bytes); alternative to `slot`. */
  token_label: text('a token label').refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_TOKEN_LABEL_BYTES, {
    error: `expected a token label of at most ${MAX_TOKEN_LABEL_BYTES} UTF-8 bytes`,
  }),
  /** The login PIN, usually `${ENV_VAR}`; alternative to `pin_file`. */
  pin: secretText(),
  /** File holding the login PIN (mode 600), relative to the config file; alternative to `pin`. */
  pin_file: text('a file path'),
  /** Who logs in; default `user` (applied after merging). */
  user_type: oneOf(USER_TYPES),
  /** Environment for the member host process (e.g. SOFTHSM2_CONF); member entries win over connection entries. */
  env: z.record(
    z.string().regex(ENV_NAME, { error: 'expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)' }),
    z.string({ error: 'expected a string (quote numbers in env values)' }),
    { error: 'expected a mapping of variable names to strings' },
  ),
  /** NSS-style library parameters passed as C_Initialize pReserved. */
  init_args: text(),
  /** Number of host processes loading the module; 1..16, default 1 (applied after merging). */
  host_processes: int(1, 16),
  /**
   * How the member host binds the module's symbols: `isolated` (own libcrypto etc., RTLD_DEEPBIND
   * through hsmkit's shim) or `global` (Node's exported OpenSSL first). Default: isolated when the
   * shim is available, else global with a note in the capability report.
   */
  symbols: oneOf(SYMBOL_BINDINGS),
};

/** Identity and placement of one endpoint or member. */
const placementShape = {
  /** Member name; default `host:port`, else `member-<index>`. */
  name: noWhitespace('a name'),
  /** Provider of this member; default the top-level `provider`. */
  provider: oneOf(PROVIDERS),
  /** Host name or address of a network HSM. */
  host: noWhitespace('a host name or address'),
  /** TCP port of a network HSM, 1..65535. */
  port: int(1, 65535, 'a port from 1 to 65535'),
  /** Region label, for placement-aware routing. */
  region: text(),
  /** Site (datacenter) label, for placement-aware routing. */
  site: text(),
  /** `production` (default) or `staging`: staging members take recovery drills and firmware trials. */
  role: oneOf(['production', 'staging']),
};

/** One entry of `connection.members`: host and port optional. */
const memberSchema = z.strictObject(
  { ...optionalShape(placementShape), ...optionalShape(pkcs11Shape) },
  { error: 'expected a mapping' },
);

/** One entry of `connection.endpoints`: host and port required. */
const endpointSchema = z.strictObject(
  {
    ...optionalShape(placementShape),
    host: placementShape.host,
    port: placementShape.port,
    ...optionalShape(pkcs11Shape),
  },
  { error: 'expected a mapping with host and port' },
);

function optionalShape<S extends Record<string, z.ZodType>>(
  shape: S,
): { [K in keyof S]: z.ZodOptional<S[K]> } {
  const out: Record<string, z.ZodType> = {};
  for (const [key, schema] of Object.entries(shape)) out[key] = schema.optional();
  return out as { [K in keyof S]: z.ZodOptional<S[K]> };
}

const connectionSchema = z.strictObject(
  {
    /** `local` (module on this host) or `network` (network-attached HSM); default `local`. */
    type: oneOf(['local', 'network']).default('local'),
    /** Network HSM endpoints (`host`, `port` and optional PKCS#11 settings); alternative to `members`. */
    endpoints: z
      .array(endpointSchema, { error: 'expected a list of endpoints' })
      .min(1, { error: 'expected at least one endpoint' })
      .optional(),
    /** HSM members (like endpoints, host and port optional); alternative to `endpoints`. */
    members: z
      .array(memberSchema, { error: 'expected a list of members' })
      .min(1, { error: 'expected at least one member' })
      .optional(),
    ...optionalShape(pkcs11Shape),
  },
  { error: 'expected a mapping' },
);

const authenticationSchema = z.strictObject(
  {
    /** Partition (token) name on a network HSM. */
    partition: text().optional(),
    /** Partition password, usually `${ENV_VAR}`; the members' PIN when none gives `pin` or `pin_file`. */
    partition_password: secretText().optional(),
    /** Client certificate for the HSM's TLS/NTLS link, relative to the config file. */
    client_certificate: text('a file path').optional(),
    /** Client private key for the HSM's TLS/NTLS link, relative to the config file. */
    client_key: text('a file path').optional(),
  },
  { error: 'expected a mapping' },
);

const highAvailabilitySchema = z.strictObject(
  {
    /** `active_active` (all members serve) or `active_standby`; default `active_active`. */
    mode: oneOf(['active_active', 'active_standby']).default('active_active'),
    /** How requests are spread over members: `round_robin` or `least_loaded`; default `round_robin`. */
    load_balancing: oneOf(['round_robin', 'least_loaded']).default('round_robin'),
    /** Time before a silent member is failed over, default 1000 ms. */
    failover_timeout_ms: ms().default(1000),
    /** Retries of a retryable failure on another member, 0..10, default 3. */
    retry_attempts: int(0, 10).default(3),
    /** Interval between member health checks, default 5000 ms (at least 100). */
    health_interval_ms: ms(100).default(5000),
    /** Health-check latency above which a member is degraded (used last), default 250 ms. */
    sla_ms: ms().default(250),
    /** Per-member circuit breaker. */
    breaker: z
      .strictObject(
        {
          /** Consecutive device errors or timeouts that open the breaker, 1..100, default 3. */
          failure_threshold: int(1, 100).default(3),
          /** First open period before a half-open probe, default 250 ms. */
          open_ms: ms().default(250),
          /** Longest open period (doubling backoff), default 10000 ms. */
          max_open_ms: ms().default(10_000),
        },
        { error: 'expected a mapping' },
      )
      .prefault({}),
    /** Operations waiting while no member can serve. */
    queue: z
      .strictObject(
        {
          /** Most waiting operations, 1..1000000, default 10000. */
          max: int(1, 1_000_000).default(10_000),
        },
        { error: 'expected a mapping' },
      )
      .prefault({}),
    /** HSM-to-HSM key replication; absent = keys are placed on one member. */
    replication: z
      .strictObject(
        {
          /** Label of the AES-256 replication key on every member, default `hsmkit-replication`. */
          key_label: text().default('hsmkit-replication'),
          /** Copies a new key must reach before creation succeeds, default 2. */
          min_copies: int(1, 64).default(2),
        },
        { error: 'expected a mapping' },
      )
      .optional(),
    /** The site this instance runs in; members with this `site` are preferred. */
    local_site: text().optional(),
  },
  { error: 'expected a mapping' },
);

const performanceSchema = z.strictObject(
  {
    /** Sessions kept open per member, 1..1024, default 4. */
    connection_pool_size: int(1, 1024).default(4),
    /** Deadline of one HSM operation, default 5000 ms. */
    operation_timeout_ms: ms().default(5000),
    /** Deadline of one key generation, default 120000 ms. */
    keygen_timeout_ms: ms().default(120_000),
    /** Largest batch of operations sent together, 1..4096, default 64. */
    batch_size: int(1, 4096).default(64),
    /** Whether operations may be pipelined asynchronously; default false. */
    async_operations: bool().default(false),
    /** Reuse of each token's capability-probe result between processes (keyed by a fingerprint). */
    capability_cache: z
      .strictObject(
        {
          /** Whether the CLI and the service cache probe results; default true. */
          enabled: bool().default(true),
          /** Hours after which a cached probe is ignored and the token probed again, 1..8760, default 168 (7 days). */
          max_age_hours: int(1, 8760).default(168),
          /**
           * Directory of the cache files, relative to the config file; default `$HSMKIT_HOME/cache/capabilities`
           * when HSMKIT_HOME is set, else `cache/capabilities` beside the config file.
           */
          dir: text('a directory path').optional(),
        },
        { error: 'expected a mapping' },
      )
      .prefault({}),
  },
  { error: 'expected a mapping' },
);

const securityPolicySchema = z.strictObject(
  {
    /** Smallest key sizes generated or used; no minimum when absent. */
    minimum_key_size: z
      .strictObject(
        {
          /** Smallest RSA modulus in bits, 1024..16384. */
          rsa: int(1024, 16384, 'an RSA key size in bits from 1024 to 16384').optional(),
          /** Weakest allowed ECDSA curve: P-256, P-384 or P-521. */
          ecdsa: oneOf(ECDSA_CURVES).optional(),
        },
        { error: 'expected a mapping' },
      )
      .prefault({}),
    /** Attributes forced on generated private keys. */
    key_attributes: z
      .strictObject(
        {
          /** CKA_EXTRACTABLE; default false. */
          extractable: bool().default(false),
          /** CKA_TOKEN (the key outlives the session); default true. */
          persistent: bool().default(true),
          /** CKA_SENSITIVE; default true. */
          sensitive: bool().default(true),
        },
        { error: 'expected a mapping' },
      )
      .prefault({}),
    /** Mechanisms hsmkit may use (CKM_* names); all when absent. */
    allowed_mechanisms: z
      .array(
        text().regex(/^CKM_[A-Z0-9_]+$/, { error: 'expected a mechanism name such as CKM_ECDSA_SHA384' }),
        {
          error: 'expected a list of mechanism names',
        },
      )
      .min(1, { error: 'expected at least one mechanism (leave the key out to allow all)' })
      .optional(),
  },
  { error: 'expected a mapping' },
);

const hsmConfigurationSchema = z.strictObject(
  {
    /** The PKCS#11 provider of the members (required; members may override it). */
    provider: oneOf(PROVIDERS),
    /** How to reach the HSM(s); default a single local member. */
    connection: connectionSchema.prefault({}),
    /** Partition and client credentials. */
    authentication: authenticationSchema.prefault({}),
    /** Failover and load balancing. */
    high_availability: highAvailabilitySchema.prefault({}),
    /** Pool sizes, timeouts and batching. */
    performance: performanceSchema.prefault({}),
    /** Key sizes, key attributes and allowed mechanisms. */
    security_policy: securityPolicySchema.prefault({}),
  },
  { error: 'expected a mapping' },
);

const storeSchema = z.strictObject(
  {
    /** `sqlite` or `postgres`; default `sqlite`. */
    driver: oneOf(['sqlite', 'postgres']).default('sqlite'),
    /** SQLite file, relative to the config file; default the caller's (`~/.hsmkit/hsmkit.db`). */
    path: text('a file path').optional(),
    /** PostgreSQL connection URL, usually `${DATABASE_URL}`; required for `postgres`. */
    url: secretText()
      .regex(/^postgres(ql)?:\/\//, { error: 'expected a postgres:// or postgresql:// URL' })
      .optional(),
  },
  { error: 'expected a mapping' },
);

/** Roles a service identity may hold (the access policy's roles; its grants decide what each may do). */
export const SERVICE_ROLES = [
  'admin',
  'security_officer',
  'operator',
  'auditor',
  'custodian',
  'signer',
  'service',
] as const;

const listenAddress = () =>
  text('host:port').regex(/^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/, {
    error: 'expected host:port, e.g. 127.0.0.1:8443 or [::1]:8443',
  });

const alertingSchema = z.strictObject(
  {
    /** Webhook URLs every alert is POSTed to as JSON (retried, then dead-lettered in the store). */
    webhooks: z
      .array(text('an http(s) URL').regex(/^https?:\/\/\S+$/, { error: 'expected an http(s) URL' }), {
        error: 'expected a list of URLs',
      })
      .default([]),
    /** Alert when a member goes down (cluster health); default true. */
    member_down: z.boolean({ error: 'expected true or false' }).default(true),
    /** Alert when no member can serve an operation; default true. */
    unavailable: z.boolean({ error: 'expected true or false' }).default(true),
    /** Alert on replication failures; default true. */
    replication_failures: z.boolean({ error: 'expected true or false' }).default(true),
    /** Alert on audit and checkpoint failures and policy violations (governance); default true. */
    audit_failures: z.boolean({ error: 'expected true or false' }).default(true),
    /** Alert when a member's key objects reach this percentage of its limit; default 80. */
    capacity_threshold_percent: int(1, 100).default(80),
    /**
     * Key-object limit per member, standing in for a token/profile limit (SoftHSM reports none).
     * Without it (and without a profile limit) the capacity rule has nothing to compare with.
     */
    capacity_limit_keys: int(1, 10_000_000).optional(),
    /** Alert when the mean HSM operation latency over an evaluation period exceeds this. */
    latency_sla_ms: ms().optional(),
    /** Alert for keys whose metadata expiry falls within this many days; default 30, 0 turns it off. */
    key_expiry_days: int(0, 3650).default(30),
    /** How often capacity, latency and expiry are evaluated; default 30000. */
    evaluate_interval_ms: ms(100).default(30_000),
    /** Webhook delivery: attempts, exponential backoff bounds and per-attempt timeout. */
    retry: z
      .strictObject(
        {
          attempts: int(1, 20).default(5),
          initial_backoff_ms: ms().default(500),
          max_backoff_ms: ms().default(30_000),
          timeout_ms: ms().default(5000),
        },
        { error: 'expected a mapping' },
      )
      .prefault({}),
  },
  { error: 'expected a mapping' },
);

const serviceSchema = z.strictObject(
  {
    /** Address of the API listener (the HSM network segment); default 127.0.0.1:8443. */
    listen: listenAddress().optional(),
    /** Address of the separate Prometheus listener; no metrics listener when absent. */
    metrics_listen: listenAddress().optional(),
    /** Server certificate and the CA that client certificates must chain to (mutual TLS). */
    tls: z
      .strictObject(
        {
          /** Server certificate chain, PEM, relative to the config file. */
          certificate: text('a file path'),
          /** Server private key, PEM, relative to the config file. */
          key: text('a file path'),
          /** CA certificate(s) client certificates must chain to, PEM, relative to the config file. */
          client_ca: text('a file path'),
        },
        { error: 'expected a mapping with certificate, key and client_ca' },
      )
      .optional(),
    /**
     * Client certificate → identity → roles. `match` is `cn:NAME` (subject CN) or `uri:URI` (a SAN
     * URI, e.g. a SPIFFE id); a certificate must match exactly one entry. `human` identities also
     * need a TOTP code (MFA); `service` identities authenticate with the certificate alone.
     */
    identities: z
      .array(
        z.strictObject(
          {
            /** Name recorded in the audit log as the actor. */
            name: noWhitespace('an identity name'),
            /** `cn:NAME` or `uri:URI`. */
            match: text('cn:NAME or uri:URI').regex(/^(cn|uri):.+$/, {
              error: 'expected cn:NAME or uri:URI',
            }),
            /** `human` (certificate + TOTP) or `service` (certificate only). */
            kind: oneOf(['human', 'service']),
            /** Roles the identity may act in; the first is the default, header X-Hsmkit-Role picks another. */
            roles: z.array(oneOf(SERVICE_ROLES)).min(1, { error: 'expected at least one role' }),
          },
          { error: 'expected a mapping with name, match, kind and roles' },
        ),
        { error: 'expected a list of identities' },
      )
      .default([]),
    /** Token bucket per identity: sustained requests per second (default 50) and burst (default 100). */
    rate_limit: z
      .strictObject(
        { per_second: int(1, 100_000).default(50), burst: int(1, 1_000_000).default(100) },
        { error: 'expected a mapping' },
      )
      .prefault({}),
    /** Largest JSON request body in bytes; default 1048576 (1 MiB). */
    body_limit_bytes: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
    /** Alert rules and their delivery (docs/dashboard.md); every alert is also one stderr line. */
    alerting: alertingSchema.prefault({}),
    /**
     * Lock-out of wrong TOTP codes per identity: `attempts` wrong codes (default 5), then one more
     * attempt per `refill_seconds` (default 60); a locked identity's codes are not even checked.
     */
    totp_lockout: z
      .strictObject(
        { attempts: int(1, 100).default(5), refill_seconds: int(1, 86_400).default(60) },
        { error: 'expected a mapping' },
      )
      .prefault({}),
    /**
     * Break-glass (docs/security/runbooks.md): an identity may ask to act as `role` (a role of the
     * access policy; its grants are what break-glass activates); once `quorum` distinct approvers
     * (named `identities`, or holders of `roles`, always human so certificate + TOTP) approve, the
     * requester may send X-Hsmkit-Role: `role` until the grant expires. No block: no break-glass.
     */
    break_glass: z
      .strictObject(
        {
          /** The emergency role; one of the access policy's roles. */
          role: oneOf(SERVICE_ROLES),
          /** Who may approve: identity names and/or roles (human identities only). */
          approvers: z
            .strictObject(
              {
                identities: z.array(noWhitespace('an identity name')).default([]),
                roles: z.array(oneOf(SERVICE_ROLES)).default([]),
              },
              { error: 'expected a mapping with identities and/or roles' },
            )
            .refine((a) => a.identities.length + a.roles.length > 0, {
              error: 'expected at least one approver identity or role',
            }),
          /** Approvals needed (M of the approvers); the requester never counts. */
          quorum: int(1, 20),
          /** Longest grant a request may ask for, in minutes; default 60. */
          max_duration_minutes: int(1, 1440).default(60),
        },
        { error: 'expected a mapping with role, approvers and quorum' },
      )
      .optional(),
  },
  { error: 'expected a mapping' },
);

/** `backup`: scheduled recovery drills and maintenance checks (docs/operations/backup-and-recovery.md). */
const backupSchema = z.strictObject(
  {
    /**
     * Where `hsmkit serve` keeps backups made through the API (`POST /v1/backups`): storage URLs,
     * `file:///dir` or `s3://bucket/prefix`; the first is the default. Absent: a `backups` folder
     * beside the SQLite store (none with PostgreSQL: several instances need shared storage, e.g. S3).
     */
    locations: z
      .array(
        text('a storage URL').regex(/^(file|s3):\/\//, {
          error: 'expected file:///dir or s3://bucket/prefix',
        }),
        {
          error: 'expected a list of storage URLs',
        },
      )
      .min(1)
      .optional(),
    /** Endpoint of an S3-compatible service for `s3://` locations; credentials come from the AWS SDK chain. */
    s3_endpoint: text('a URL').optional(),
    /** A recovery drill `hsmkit serve` runs on a schedule; absent = none. */
    drill: z
      .strictObject(
        {
          /** Minutes between drills, 1..44640 (31 days); the first runs one interval after start. */
          interval_minutes: int(1, 44_640),
          /** The backup: a file path, or `file:///dir/NAME` / `s3://bucket/prefix/NAME`. */
          backup: text('a file path or storage URL'),
          /** Endpoint for an `s3://` backup on an S3-compatible service; credentials come from the AWS SDK chain. */
          s3_endpoint: text('a URL').optional(),
          /** The staging member holding the backup KEK that drills restore into (`role: staging`). */
          member: noWhitespace('a member name'),
          /** Recovery time objective in milliseconds, 1..86400000. */
          rto_ms: int(1, 86_400_000),
          /** Expected SHA-256 fingerprint of the backup signing key; default any valid signer. */
          signer: text('a SHA-256 fingerprint')
            .regex(/^[0-9a-fA-F]{64}$/)
            .optional(),
        },
        { error: 'expected a mapping with interval_minutes, backup, member and rto_ms' },
      )
      .optional(),
    /** `hsmkit maintenance plan` settings. */
    maintenance: z
      .strictObject(
        {
          /** Default `--max-backup-age-hours`, default 24. */
          max_backup_age_hours: int(1, 8760).default(24),
          /** Vendor firmware signature check: argv run with the firmware file appended; exit 0 = valid. */
          firmware_verify_command: z
            .array(text(), { error: 'expected a list of strings (argv)' })
            .min(1)
            .optional(),
        },
        { error: 'expected a mapping' },
      )
      .prefault({}),
  },
  { error: 'expected a mapping' },
);

/** Schema of the YAML file as written (snake_case); unknown keys are errors at every level. */
export const configFileSchema = z.strictObject(
  {
    /** The HSM configuration (required). */
    hsm_configuration: hsmConfigurationSchema,
    /** The metadata store; default SQLite at the caller's default path. */
    store: storeSchema.prefault({}),
    /** The HTTP service (`hsmkit serve`): listeners, mutual TLS, identities and limits. */
    service: serviceSchema.prefault({}),
    /** Backup drills and maintenance checks. */
    backup: backupSchema.prefault({}),
  },
  { error: 'expected a mapping with hsm_configuration' },
);

/** The YAML file after schema validation and defaults, before normalisation. */
export type ConfigFile = z.output<typeof configFileSchema>;

/** One endpoint or member entry as written. */
export type MemberEntry = z.output<typeof memberSchema>;

/** The `connection` section as written. */
export type ConnectionSection = z.output<typeof connectionSchema>;

// ---- normalised output ----

/** One HSM member (module + token) after merging connection-level defaults. */
export interface MemberConfig {
  /** Member name: given, else `host:port`, else `member-<index>` (`default` for the implicit single member). */
  name: string;
  /** Provider: the member's, else the top-level `provider`. */
  provider: string;
  /** Path of the PKCS#11 library (absolute when it was a relative path). */
  module?: string;
  /** Slot id, when the token is chosen by slot. */
  slot?: number;
  /** Token label, when the token is chosen by label. */
  tokenLabel?: string;
  /** Login PIN: member.pin ?? connection.pin ?? authentication.partition_password. */
  pin?: Secret;
  /** Absolute path of the PIN file, when the PIN is read from a file at login time. */
  pinFile?: string;
  /** Who logs in; default `user`. */
  userType: 'user' | 'so' | 'crypto_officer';
  /** Environment for the host process: connection.env merged with member.env (member wins). */
  env: Record<string, string>;
  /** NSS-style C_Initialize parameters. */
  initArgs?: string;
  /** Host processes loading the module; default 1. */
  hostProcesses: number;
  /** `symbols` as configured (member wins over connection); absent: the adapter's default (isolated). */
  symbols?: (typeof SYMBOL_BINDINGS)[number];
  /** Network HSM host. */
  host?: string;
  /** Network HSM port. */
  port?: number;
  /** Region label. */
  region?: string;
  /** Site label. */
  site?: string;
  /** `staging` for a non-production member (drills, firmware trials); absent = production. */
  role?: 'production' | 'staging';
}

/** The normalised hsmkit configuration. */
export interface HsmkitConfig {
  /** Top-level provider. */
  provider: string;
  /** `local` or `network`; default `local`. */
  connectionType: 'local' | 'network';
  /** Endpoints/members; when neither is given, exactly one member named `default` built from the connection-level fields. */
  members: MemberConfig[];
  /** Partition and client credential paths. */
  authentication: {
    /** Partition (token) name on a network HSM. */
    partition?: string;
    /** Absolute path of the client certificate. */
    clientCertificate?: string;
    /** Absolute path of the client private key. */
    clientKey?: string;
  };
  /** Failover and load balancing. */
  highAvailability: {
    /** Default `active_active`. */
    mode: 'active_active' | 'active_standby';
    /** Default `round_robin`. */
    loadBalancing: 'round_robin' | 'least_loaded';
    /** Default 1000 ms. */
    failoverTimeoutMs: number;
    /** 0..10, default 3. */
    retryAttempts: number;
    /** Default 5000 ms. */
    healthIntervalMs: number;
    /** Default 250 ms. */
    slaMs: number;
    /** Breaker defaults: 3 failures, 250 ms, 10000 ms. */
    breaker: { failureThreshold: number; openMs: number; maxOpenMs: number };
    /** Default max 10000. */
    queue: { max: number };
    /** Present when replication is configured. */
    replication?: { keyLabel: string; minCopies: number };
    /** The local site, when configured. */
    localSite?: string;
  };
  /** Pool sizes, timeouts and batching. */
  performance: {
    /** 1..1024, default 4. */
    connectionPoolSize: number;
    /** Default 5000 ms. */
    operationTimeoutMs: number;
    /** Default 120000 ms. */
    keygenTimeoutMs: number;
    /** 1..4096, default 64. */
    batchSize: number;
    /** Default false. */
    asyncOperations: boolean;
    /** Capability-probe cache: enabled by default, entries older than 7 days re-probed. */
    capabilityCache: {
      /** Default true. */
      enabled: boolean;
      /** Default 604800000 (7 days). */
      maxAgeMs: number;
      /** Absolute directory of the cache files; absent: the CLI's default (cli/capability-cache.ts). */
      dir?: string;
    };
  };
  /** Key sizes, key attributes and allowed mechanisms. */
  securityPolicy: {
    /** Smallest key sizes; a missing entry means no minimum. */
    minimumKeySize: {
      /** Smallest RSA modulus in bits. */
      rsa?: number;
      /** Weakest allowed ECDSA curve. */
      ecdsa?: 'P-256' | 'P-384' | 'P-521';
    };
    /** Attributes forced on generated private keys. */
    keyAttributes: {
      /** CKA_EXTRACTABLE; default false. */
      extractable: boolean;
      /** CKA_TOKEN; default true. */
      persistent: boolean;
      /** CKA_SENSITIVE; default true. */
      sensitive: boolean;
    };
    /** Allowed CKM_* mechanisms; absent means all. */
    allowedMechanisms?: string[];
  };
  /** Metadata store: SQLite (absolute `path`, or absent for the caller's default) or PostgreSQL (`url` as a Secret). */
  store: { driver: 'sqlite'; path?: string } | { driver: 'postgres'; url: Secret };
  /** The HTTP service's settings (defaults when the file has no `service` block). */
  service: ServiceConfig;
  /** Backup drills and maintenance checks. */
  backup: BackupConfig;
  /** Where the configuration came from (a file path), when known. */
  source?: string;
}

/** One client identity of the service. */
export interface ServiceIdentity {
  /** Actor name in the audit log. */
  name: string;
  /** What in the client certificate identifies it. */
  match: { kind: 'cn' | 'uri'; value: string };
  /** `human` needs certificate + TOTP; `service` the certificate only. */
  kind: 'human' | 'service';
  /** Roles it may act in; the first is the default. */
  roles: Array<(typeof SERVICE_ROLES)[number]>;
}

/** The normalised `service` block. */
export interface ServiceConfig {
  /** API listener; default 127.0.0.1:8443. */
  listen: string;
  /** Prometheus listener, when configured. */
  metricsListen?: string;
  /** Absolute paths of the server certificate, key and client CA, when TLS is configured. */
  tls?: { certificate: string; key: string; clientCa: string };
  identities: ServiceIdentity[];
  /** Default 50 per second, burst 100. */
  rateLimit: { perSecond: number; burst: number };
  /** Default 1048576. */
  bodyLimitBytes: number;
  /** Alert rules and delivery. */
  alerting: AlertingConfig;
  /** Wrong TOTP codes allowed (default 5), then one per `refillSeconds` (default 60). */
  totpLockout: { attempts: number; refillSeconds: number };
  /** Break-glass, when configured. */
  breakGlass?: BreakGlassConfig;
}

/** The normalised `service.break_glass` block. */
export interface BreakGlassConfig {
  /** The emergency role (its grants come from the access policy). */
  role: (typeof SERVICE_ROLES)[number];
  /** Identities and roles whose (human) holders may approve. */
  approvers: { identities: string[]; roles: Array<(typeof SERVICE_ROLES)[number]> };
  /** Distinct approvals needed. */
  quorum: number;
  /** Longest grant, minutes (default 60). */
  maxDurationMinutes: number;
}

/** The normalised `service.alerting` block. */
export interface AlertingConfig {
  webhooks: string[];
  memberDown: boolean;
  unavailable: boolean;
  replicationFailures: boolean;
  auditFailures: boolean;
  capacityThresholdPercent: number;
  /** Stands in for a token/profile key limit (SoftHSM reports none). */
  capacityLimitKeys?: number;
  latencySlaMs?: number;
  /** 0: no expiry rule. */
  keyExpiryDays: number;
  evaluateIntervalMs: number;
  retry: { attempts: number; initialBackoffMs: number; maxBackoffMs: number; timeoutMs: number };
}

// ---- schema introspection (used for interpolated values and unknown-key hints) ----

interface DefLike {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  valueType?: z.ZodType;
  in?: z.ZodType;
}

function defOf(schema: z.ZodType): DefLike {
  return schema._zod.def as unknown as DefLike;
}

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional']);

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let guard = 0; guard < 16; guard++) {
    const def = defOf(current);
    if (WRAPPERS.has(def.type) && def.innerType !== undefined) current = def.innerType;
    else if (def.type === 'pipe' && def.in !== undefined) current = def.in;
    else break;
  }
  return current;
}

/** The schema found at a YAML path of the file, or undefined when the path is not part of the schema. */
export function schemaAt(
  segments: readonly PathSegment[],
  root: z.ZodType = configFileSchema,
): z.ZodType | undefined {
  let current: z.ZodType | undefined = root;
  for (const seg of segments) {
    if (current === undefined) return undefined;
    const def = defOf(unwrap(current));
    if (def.type === 'object' && typeof seg === 'string' && def.shape !== undefined) {
      current = Object.hasOwn(def.shape, seg) ? def.shape[seg] : undefined;
    } else if (def.type === 'array' && typeof seg === 'number') current = def.element;
    else if (def.type === 'record' && typeof seg === 'string') current = def.valueType;
    else return undefined;
  }
  return current === undefined ? undefined : unwrap(current);
}

/** The scalar kind the schema expects at a path (`number`, `boolean`, `string`, …), if any. */
export function kindAt(segments: readonly PathSegment[]): string | undefined {
  const schema = schemaAt(segments);
  return schema === undefined ? undefined : defOf(schema).type;
}

/** The keys the schema allows in the mapping at a path (for "did you mean" hints). */
export function keysAt(segments: readonly PathSegment[]): string[] {
  const schema = schemaAt(segments);
  if (schema === undefined) return [];
  const def = defOf(schema);
  return def.type === 'object' && def.shape !== undefined ? Object.keys(def.shape) : [];
}

/** The normalised `backup` block. */
export interface BackupConfig {
  /** Storage URLs for API-made backups (`backup.locations`), when configured. */
  locations?: string[];
  /** Endpoint of an S3-compatible service for `s3://` locations. */
  s3Endpoint?: string;
  /** The scheduled recovery drill, when configured. */
  drill?: {
    intervalMs: number;
    /** File path or storage URL of the backup. */
    backup: string;
    s3Endpoint?: string;
    member: string;
    rtoMs: number;
    signer?: string;
  };
  maintenance: {
    /** Default 24. */
    maxBackupAgeHours: number;
    /** argv of the vendor firmware signature check. */
    firmwareVerifyCommand?: string[];
  };
}
