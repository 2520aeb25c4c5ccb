// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are ${NAME} references in YAML under test, not templates.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { HsmError } from '../errors/index.js';
import { loadConfig, parseConfig, readPinFile } from './load.js';
import { Secret } from './secret.js';

const SEED = `hsm_configuration:
  provider: "thales_luna"
  connection: { type: "network", endpoints: [{host: "hsm1.datacenter.local", port: 1792}, {host: "hsm2.datacenter.local", port: 1792}] }
  authentication: { partition: "PROD_CERT_MANAGER", partition_password: "\${HSM_PARTITION_PASSWORD}", client_certificate: "/etc/hsm/client.pem", client_key: "/etc/hsm/client-key.pem" }
  high_availability: { mode: "active_active", load_balancing: "round_robin", failover_timeout_ms: 1000, retry_attempts: 3 }
  performance: { connection_pool_size: 10, operation_timeout_ms: 5000, batch_size: 100, async_operations: true }
  security_policy:
    minimum_key_size: { rsa: 4096, ecdsa: "P-384" }
    key_attributes: { extractable: false, persistent: true, sensitive: true }
    allowed_mechanisms: ["CKM_RSA_PKCS_KEY_PAIR_GEN", "CKM_EC_KEY_PAIR_GEN", "CKM_SHA384_RSA_PKCS", "CKM_ECDSA_SHA384"]
`;

const SEED_ENV = { HSM_PARTITION_PASSWORD: 'luna-partition-pw' };

/** Runs `fn`, asserts it throws HSM_ERR_CONFIG, and returns the error and its issue paths. */
function configError(fn: () => unknown): { err: HsmError; paths: string[] } {
  try {
    fn();
  } catch (err) {
    assert.ok(HsmError.is(err, 'HSM_ERR_CONFIG'), `expected HSM_ERR_CONFIG, got ${String(err)}`);
    const issues = (err.details?.issues ?? []) as { path: string; message: string }[];
    assert.equal(err.details?.path, issues[0]?.path);
    for (const issue of issues) assert.ok(issue.message.startsWith(`${issue.path}: `), issue.message);
    assert.equal(err.message, issues.map((i) => i.message).join('\n'));
    return { err, paths: issues.map((i) => i.path) };
  }
  assert.fail('expected HSM_ERR_CONFIG');
}

const minimal = (connection: string) =>
  `hsm_configuration:\n  provider: softhsm2\n  connection:\n${connection}`;

describe('parseConfig: the seed example', () => {
  it('parses and normalises', () => {
    const config = parseConfig(SEED, { env: SEED_ENV });
    assert.equal(config.provider, 'thales_luna');
    assert.equal(config.connectionType, 'network');
    assert.deepEqual(
      config.members.map((m) => m.name),
      ['hsm1.datacenter.local:1792', 'hsm2.datacenter.local:1792'],
    );
    const [first] = config.members;
    assert.ok(first?.pin instanceof Secret);
    assert.equal(first.pin.reveal(), 'luna-partition-pw');
    assert.equal(first.pin.source, 'env:HSM_PARTITION_PASSWORD');
    assert.equal(first.host, 'hsm1.datacenter.local');
    assert.equal(first.port, 1792);
    assert.equal(first.provider, 'thales_luna');
    assert.equal(first.userType, 'user');
    assert.equal(first.hostProcesses, 1);
    assert.deepEqual(first.env, {});
    assert.deepEqual(config.authentication, {
      partition: 'PROD_CERT_MANAGER',
      clientCertificate: '/etc/hsm/client.pem',
      clientKey: '/etc/hsm/client-key.pem',
    });
    assert.deepEqual(config.highAvailability, {
      mode: 'active_active',
      loadBalancing: 'round_robin',
      failoverTimeoutMs: 1000,
      retryAttempts: 3,
      healthIntervalMs: 5000,
      slaMs: 250,
      breaker: { failureThreshold: 3, openMs: 250, maxOpenMs: 10_000 },
      queue: { max: 10_000 },
    });
    assert.deepEqual(config.performance, {
      connectionPoolSize: 10,
      operationTimeoutMs: 5000,
      keygenTimeoutMs: 120000,
      batchSize: 100,
      asyncOperations: true,
      capabilityCache: { enabled: true, maxAgeMs: 7 * 24 * 3_600_000 },
    });
    assert.deepEqual(config.securityPolicy, {
      minimumKeySize: { rsa: 4096, ecdsa: 'P-384' },
      keyAttributes: { extractable: false, persistent: true, sensitive: true },
      allowedMechanisms: [
        'CKM_RSA_PKCS_KEY_PAIR_GEN',
        'CKM_EC_KEY_PAIR_GEN',
        'CKM_SHA384_RSA_PKCS',
        'CKM_ECDSA_SHA384',
      ],
    });
    assert.deepEqual(config.store, { driver: 'sqlite' });
  });

  it('never shows the partition password when the config is printed', () => {
    const config = parseConfig(SEED, { env: SEED_ENV });
    assert.ok(!JSON.stringify(config).includes('luna-partition-pw'));
    assert.ok(!inspect(config, { depth: 20 }).includes('luna-partition-pw'));
  });

  it('names partition_password when HSM_PARTITION_PASSWORD is unset', () => {
    const { err, paths } = configError(() => parseConfig(SEED, { env: {} }));
    assert.deepEqual(paths, ['hsm_configuration.authentication.partition_password']);
    assert.match(err.message, /HSM_PARTITION_PASSWORD/);
  });

  it('reads the cluster settings: breaker, queue, replication, local site', () => {
    const config = parseConfig(
      [
        'hsm_configuration:',
        '  provider: softhsm2',
        '  high_availability:',
        '    breaker: { failure_threshold: 5, open_ms: 100, max_open_ms: 2000 }',
        '    queue: { max: 50 }',
        '    replication: { min_copies: 3 }',
        '    local_site: eu-1',
      ].join('\n'),
      { env: {} },
    );
    assert.deepEqual(config.highAvailability.breaker, { failureThreshold: 5, openMs: 100, maxOpenMs: 2000 });
    assert.deepEqual(config.highAvailability.queue, { max: 50 });
    assert.deepEqual(config.highAvailability.replication, { keyLabel: 'hsmkit-replication', minCopies: 3 });
    assert.equal(config.highAvailability.localSite, 'eu-1');
  });

  it('applies the documented defaults', () => {
    const config = parseConfig('hsm_configuration: { provider: softhsm2 }', { env: {} });
    assert.equal(config.connectionType, 'local');
    assert.deepEqual(config.members, [
      { name: 'default', provider: 'softhsm2', userType: 'user', env: {}, hostProcesses: 1 },
    ]);
    assert.deepEqual(config.highAvailability, {
      mode: 'active_active',
      loadBalancing: 'round_robin',
      failoverTimeoutMs: 1000,
      retryAttempts: 3,
      healthIntervalMs: 5000,
      slaMs: 250,
      breaker: { failureThreshold: 3, openMs: 250, maxOpenMs: 10_000 },
      queue: { max: 10_000 },
    });
    assert.deepEqual(config.performance, {
      connectionPoolSize: 4,
      operationTimeoutMs: 5000,
      keygenTimeoutMs: 120000,
      batchSize: 64,
      asyncOperations: false,
      capabilityCache: { enabled: true, maxAgeMs: 7 * 24 * 3_600_000 },
    });
    assert.deepEqual(config.securityPolicy, {
      minimumKeySize: {},
      keyAttributes: { extractable: false, persistent: true, sensitive: true },
    });
    assert.deepEqual(config.store, { driver: 'sqlite' });
  });
});

describe('parseConfig: PKCS#11 settings', () => {
  it('builds one local SoftHSM member from connection-level fields', () => {
    const text = `hsm_configuration:
  provider: softhsm2
  connection:
    module: /usr/lib/softhsm/libsofthsm2.so
    token_label: hsmkit
    pin_file: secrets/user-pin
    env: { SOFTHSM2_CONF: /home/me/.hsmkit/softhsm2.conf }
store: { driver: sqlite, path: ./hsmkit.db }
`;
    const config = parseConfig(text, { env: {}, baseDir: '/etc/hsmkit', source: '/etc/hsmkit/hsmkit.yaml' });
    assert.equal(config.connectionType, 'local');
    assert.deepEqual(config.members, [
      {
        name: 'default',
        provider: 'softhsm2',
        module: '/usr/lib/softhsm/libsofthsm2.so',
        tokenLabel: 'hsmkit',
        pinFile: '/etc/hsmkit/secrets/user-pin',
        userType: 'user',
        env: { SOFTHSM2_CONF: '/home/me/.hsmkit/softhsm2.conf' },
        hostProcesses: 1,
      },
    ]);
    assert.deepEqual(config.store, { driver: 'sqlite', path: '/etc/hsmkit/hsmkit.db' });
    assert.equal(config.source, '/etc/hsmkit/hsmkit.yaml');
  });

  it('merges connection defaults into members, member values winning', () => {
    const text = minimal(`    module: libsofthsm2.so
    slot: 7
    pin: \${HSM_PIN}
    user_type: so
    host_processes: 2
    env: { A: conn, B: conn }
    init_args: "configdir='sql:/etc/pki/nssdb'"
    members:
      - { name: left, token_label: left-token, env: { B: member }, region: eu, site: fra1 }
      - { provider: opencryptoki, pin_file: /run/pin, user_type: crypto_officer, host_processes: 4, module: ./lib/p11.so }
      - { host: "::1", port: 2000 }
`);
    const config = parseConfig(text, { env: { HSM_PIN: '1234' }, baseDir: '/opt/app' });
    const [left, second, third] = config.members;
    assert.equal(left?.name, 'left');
    assert.equal(left.tokenLabel, 'left-token');
    assert.equal(left.slot, undefined, "the member's token_label replaces the connection's slot");
    assert.deepEqual(left.env, { A: 'conn', B: 'member' });
    assert.equal(left.pin?.reveal(), '1234');
    assert.equal(left.pin?.source, 'env:HSM_PIN');
    assert.equal(left.userType, 'so');
    assert.equal(left.hostProcesses, 2);
    assert.equal(left.module, 'libsofthsm2.so', 'a bare library name is left to the loader');
    assert.equal(left.initArgs, "configdir='sql:/etc/pki/nssdb'");
    assert.equal(left.region, 'eu');
    assert.equal(left.site, 'fra1');
    assert.equal(second?.name, 'member-1');
    assert.equal(second.provider, 'opencryptoki');
    assert.equal(second.slot, 7);
    assert.equal(second.pin, undefined, "the member's pin_file replaces the connection's pin");
    assert.equal(second.pinFile, '/run/pin');
    assert.equal(second.userType, 'crypto_officer');
    assert.equal(second.hostProcesses, 4);
    assert.equal(second.module, '/opt/app/lib/p11.so');
    assert.equal(third?.name, '[::1]:2000');
    assert.equal(third.provider, 'softhsm2');
  });

  it('coerces interpolated numbers and booleans where the schema expects them', () => {
    const text = `hsm_configuration:
  provider: softhsm2
  connection: { slot: "\${SLOT}", host_processes: "\${HP:-3}" }
  performance: { async_operations: "\${ASYNC}", batch_size: "\${BATCH:-10}" }
`;
    const config = parseConfig(text, { env: { SLOT: '42', ASYNC: 'true' } });
    assert.equal(config.members[0]?.slot, 42);
    assert.equal(config.members[0]?.hostProcesses, 3);
    assert.equal(config.performance.asyncOperations, true);
    assert.equal(config.performance.batchSize, 10);
  });

  it('reads the capability cache settings and refuses an unknown key or a zero age', () => {
    const text = `hsm_configuration:
  provider: softhsm2
  performance: { capability_cache: { enabled: false, max_age_hours: 24, dir: "/var/cache/hsmkit" } }
`;
    assert.deepEqual(parseConfig(text).performance.capabilityCache, {
      enabled: false,
      maxAgeMs: 24 * 3_600_000,
      dir: '/var/cache/hsmkit',
    });
    const bad = (cache: string) =>
      configError(() =>
        parseConfig(`hsm_configuration: {provider: softhsm2, performance: {capability_cache: ${cache}}}`),
      ).paths;
    assert.deepEqual(bad('{max_age_hours: 0}'), [
      'hsm_configuration.performance.capability_cache.max_age_hours',
    ]);
    assert.equal(bad('{ttl: 5}').length, 1);
  });

  it('reads a postgres store URL as a Secret', () => {
    const config = parseConfig(
      'hsm_configuration: {provider: softhsm2}\nstore: {driver: postgres, url: "${DATABASE_URL}"}',
      {
        env: { DATABASE_URL: 'postgres://u:pw@db/hsmkit' },
      },
    );
    assert.equal(config.store.driver, 'postgres');
    assert.ok(
      config.store.driver === 'postgres' && config.store.url.reveal() === 'postgres://u:pw@db/hsmkit',
    );
  });

  it('reads backup storage locations for the service, and refuses anything but file:// and s3://', () => {
    const config = parseConfig(
      'hsm_configuration: {provider: softhsm2}\nbackup: {locations: ["s3://bk/hsmkit", "file:///var/backups/hsmkit"], s3_endpoint: "http://127.0.0.1:9000"}',
      { env: {} },
    );
    assert.deepEqual(config.backup.locations, ['s3://bk/hsmkit', 'file:///var/backups/hsmkit']);
    assert.equal(config.backup.s3Endpoint, 'http://127.0.0.1:9000');
    assert.equal(
      parseConfig('hsm_configuration: {provider: softhsm2}', { env: {} }).backup.locations,
      undefined,
    );
    const { err, paths } = configError(() =>
      parseConfig('hsm_configuration: {provider: softhsm2}\nbackup: {locations: ["http://x/y"]}', {
        env: {},
      }),
    );
    assert.equal(err.code, 'HSM_ERR_CONFIG');
    assert.ok(
      paths.some((p) => p.startsWith('backup.locations')),
      paths.join(', '),
    );
  });

  it('keeps a UTF-8 token label of 32 bytes and rejects 33', () => {
    const ok = parseConfig(minimal(`    token_label: "${'é'.repeat(16)}"\n`), { env: {} });
    assert.equal(ok.members[0]?.tokenLabel, 'é'.repeat(16));
    const { paths } = configError(() =>
      parseConfig(minimal(`    token_label: "${'é'.repeat(16)}x"\n`), { env: {} }),
    );
    assert.deepEqual(paths, ['hsm_configuration.connection.token_label']);
  });
});

describe('parseConfig: errors', () => {
  it('names unknown keys at every depth', () => {
    const cases: [string, string][] = [
      ['hsm_configuration: {provider: softhsm2}\nextra: 1', 'extra'],
      ['hsm_configuration: {provider: softhsm2, colour: blue}', 'hsm_configuration.colour'],
      [
        'hsm_configuration: {provider: softhsm2, connection: {modul: x.so}}',
        'hsm_configuration.connection.modul',
      ],
      [
        'hsm_configuration: {provider: softhsm2, connection: {members: [{name: a}, {name: b, tokn_label: t}]}}',
        'hsm_configuration.connection.members[1].tokn_label',
      ],
      [
        'hsm_configuration: {provider: softhsm2, security_policy: {key_attributes: {exportable: true}}}',
        'hsm_configuration.security_policy.key_attributes.exportable',
      ],
      ['hsm_configuration: {provider: softhsm2}\nstore: {drvier: sqlite}', 'store.drvier'],
      ['hsm_configuration: {provider: softhsm2, constructor: 1}', 'hsm_configuration.constructor'],
      ['__proto__: {polluted: true}\nhsm_configuration: {provider: softhsm2}', '__proto__'],
      [
        'hsm_configuration: {provider: softhsm2, connection: {env: {__proto__: {polluted: true}}}}',
        'hsm_configuration.connection.env.__proto__',
      ],
    ];
    for (const [text, path] of cases) {
      const { err, paths } = configError(() => parseConfig(text, { env: {} }));
      assert.deepEqual(paths, [path], text);
      assert.match(err.message, /unknown key|not allowed/);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('suggests the closest key', () => {
    const { err } = configError(() => parseConfig(minimal('    modul: x.so\n'), { env: {} }));
    assert.match(err.message, /did you mean module\?/);
  });

  it('reports wrong types with the path', () => {
    const cases: [string, string][] = [
      [SEED.replace('batch_size: 100', 'batch_size: "ten"'), 'hsm_configuration.performance.batch_size'],
      [
        SEED.replace('async_operations: true', 'async_operations: yes'),
        'hsm_configuration.performance.async_operations',
      ],
      [
        SEED.replace('port: 1792}, {host', 'port: "1792"}, {host'),
        'hsm_configuration.connection.endpoints[0].port',
      ],
      [SEED.replace('rsa: 4096', 'rsa: 4096.5'), 'hsm_configuration.security_policy.minimum_key_size.rsa'],
      [SEED.replace('"P-384"', '"P-999"'), 'hsm_configuration.security_policy.minimum_key_size.ecdsa'],
      [
        SEED.replace('"CKM_EC_KEY_PAIR_GEN"', '"ec_keygen"'),
        'hsm_configuration.security_policy.allowed_mechanisms[1]',
      ],
      [
        SEED.replace('retry_attempts: 3', 'retry_attempts: 11'),
        'hsm_configuration.high_availability.retry_attempts',
      ],
      [SEED.replace('"thales_luna"', '"luna"'), 'hsm_configuration.provider'],
      [SEED.replace('type: "network"', 'type: "cloud"'), 'hsm_configuration.connection.type'],
      [minimal('    endpoints: [{host: h}]\n'), 'hsm_configuration.connection.endpoints[0].port'],
      [minimal('    user_type: admin\n'), 'hsm_configuration.connection.user_type'],
      [minimal('    host_processes: 17\n'), 'hsm_configuration.connection.host_processes'],
      [minimal('    env: { SOFTHSM2_CONF: 3 }\n'), 'hsm_configuration.connection.env.SOFTHSM2_CONF'],
      [minimal('    members: []\n'), 'hsm_configuration.connection.members'],
      ['hsm_configuration: [1, 2]', 'hsm_configuration'],
      ['store: {}', 'hsm_configuration'],
      ['- a\n- b', '(root)'],
    ];
    for (const [text, path] of cases) {
      const { paths } = configError(() => parseConfig(text, { env: SEED_ENV }));
      assert.deepEqual(paths, [path], text);
    }
  });

  it('shows the offending value for ordinary fields', () => {
    const { err } = configError(() =>
      parseConfig(SEED.replace('batch_size: 100', 'batch_size: "ten"'), { env: SEED_ENV }),
    );
    assert.equal(
      err.message,
      'hsm_configuration.performance.batch_size: expected an integer from 1 to 4096, got "ten"',
    );
  });

  it('rejects members and endpoints together', () => {
    const { paths } = configError(() =>
      parseConfig(minimal('    members: [{name: a}]\n    endpoints: [{host: h, port: 1}]\n'), { env: {} }),
    );
    assert.deepEqual(paths, ['hsm_configuration.connection']);
  });

  it('rejects alternatives given together and duplicate member names', () => {
    const { paths } = configError(() =>
      parseConfig(
        minimal(`    slot: 1
    token_label: t
    members:
      - { name: a, pin: "1234", pin_file: /p }
      - { name: a }
`),
        { env: {} },
      ),
    );
    assert.deepEqual(paths, [
      'hsm_configuration.connection',
      'hsm_configuration.connection.members[0]',
      'hsm_configuration.connection.members[1].name',
    ]);
  });

  it('checks the store driver against path and url', () => {
    const { paths } = configError(() =>
      parseConfig('hsm_configuration: {provider: softhsm2}\nstore: {driver: postgres, path: x.db}', {
        env: {},
      }),
    );
    assert.deepEqual(paths, ['store.url', 'store.path']);
    const sqlite = configError(() =>
      parseConfig('hsm_configuration: {provider: softhsm2}\nstore: {url: "postgres://x"}', { env: {} }),
    );
    assert.deepEqual(sqlite.paths, ['store.url']);
  });

  it('reports an unset variable inside a member with its path', () => {
    const { err, paths } = configError(() =>
      parseConfig(minimal('    members: [{pin: "${MEMBER_PIN}"}]\n'), { env: {} }),
    );
    assert.deepEqual(paths, ['hsm_configuration.connection.members[0].pin']);
    assert.match(err.message, /MEMBER_PIN/);
  });

  it('gives line and column for invalid YAML', () => {
    const { err, paths } = configError(() =>
      parseConfig('hsm_configuration:\n  provider: [softhsm2\n  x: 1\n', { env: {} }),
    );
    assert.equal(paths[0], '(root)');
    assert.match(err.message, /line \d+, column \d+/);
    assert.equal(typeof err.details?.line, 'number');
    assert.equal(typeof err.details?.column, 'number');
    const dup = configError(() =>
      parseConfig('hsm_configuration: {provider: nss}\nhsm_configuration: {}', { env: {} }),
    );
    assert.match(dup.err.message, /duplicate key/);
  });

  it('rejects an empty document and alias bombs', () => {
    assert.deepEqual(configError(() => parseConfig('', { env: {} })).paths, ['(root)']);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      bomb.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    configError(() => parseConfig(bomb.join('\n'), { env: {} }));
  });

  it('reports several issues in one error', () => {
    const text = SEED.replace('batch_size: 100', 'batch_size: 0')
      .replace('retry_attempts: 3', 'retry_attempts: -1')
      .replace('async_operations: true', 'async_operations: true, turbo: on');
    const { err, paths } = configError(() => parseConfig(text, { env: {} }));
    assert.deepEqual(
      new Set(paths),
      new Set([
        'hsm_configuration.authentication.partition_password',
        'hsm_configuration.high_availability.retry_attempts',
        'hsm_configuration.performance.batch_size',
        'hsm_configuration.performance.turbo',
      ]),
    );
    assert.equal(err.message.split('\n').length, 4);
  });

  it('never puts a secret in an error message or its details', () => {
    const SECRET = 'S3CRET-PIN';
    const texts = [
      // Inline PIN with many other mistakes.
      minimal(`    pin: "${SECRET}"
    slot: "one"
    user_type: root
    host_processes: 99
    members: [{ name: a, pin: "${SECRET}", pin_file: /x, port: 0 }]
  performance: { batch_size: "${SECRET}" }
`),
      // PIN from the environment, used where a number or a URL is expected.
      minimal(`    pin: \${HSM_PIN}
    slot: \${HSM_PIN}
  high_availability: { mode: "\${HSM_PIN}" }
store: { driver: postgres, url: "\${HSM_PIN}" }
`),
      // Wrong type for the secret itself and a bad env map entry.
      minimal(`    env: { TOKEN: ["${SECRET}"], OTHER: "${SECRET}", "bad name": x }
    init_args: 5
    pin: ["${SECRET}"]
`),
      // Invalid YAML on the line with the secret.
      minimal(`    pin: "${SECRET}\n    slot: [1\n`),
      minimal(`    pin: ${SECRET}: nested: bad\n`),
      minimal(`    pin: "${SECRET}\\q"\n`),
    ];
    for (const text of texts) {
      const { err } = configError(() => parseConfig(text, { env: { HSM_PIN: SECRET } }));
      assert.ok(!err.message.includes(SECRET), err.message);
      assert.ok(!JSON.stringify(err.toJSON()).includes(SECRET), JSON.stringify(err.details));
    }
  });
});

describe('loadConfig and readPinFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves relative paths against the config file folder', () => {
    const folder = join(dir, 'etc');
    mkdirSync(folder, { recursive: true });
    const file = join(folder, 'hsmkit.yaml');
    writeFileSync(
      file,
      minimal('    pin_file: secrets/user-pin\n    members: [{name: a}, {name: b, pin_file: ../b-pin}]\n') +
        'store: { path: data/hsmkit.db }\n',
    );
    const config = loadConfig(file, {});
    assert.equal(config.source, file);
    assert.equal(config.members[0]?.pinFile, join(folder, 'secrets/user-pin'));
    assert.equal(config.members[1]?.pinFile, join(dir, 'b-pin'));
    assert.deepEqual(config.store, { driver: 'sqlite', path: join(folder, 'data/hsmkit.db') });
  });

  it('names a missing config file', () => {
    const missing = join(dir, 'nope.yaml');
    const { err } = configError(() => loadConfig(missing, {}));
    assert.match(err.message, new RegExp(missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  it('reads a 0600 PIN file and strips one trailing newline', () => {
    const file = join(dir, 'pin-ok');
    writeFileSync(file, '1234\n\n');
    chmodSync(file, 0o600);
    const secret = readPinFile(file);
    assert.equal(secret.reveal(), '1234\n');
    assert.equal(secret.source, `file:${file}`);
    writeFileSync(file, '5678\r\n');
    assert.equal(readPinFile(file).reveal(), '5678');
  });

  it('refuses a PIN file readable by group or others', { skip: process.platform === 'win32' }, () => {
    const file = join(dir, 'pin-open');
    writeFileSync(file, 'S3CRET-PIN\n');
    chmodSync(file, 0o644);
    const { err } = configError(() => readPinFile(file));
    assert.match(err.message, /chmod 600/);
    assert.ok(!err.message.includes('S3CRET-PIN'));
    chmodSync(file, 0o600);
    assert.equal(readPinFile(file).reveal(), 'S3CRET-PIN');
  });

  it('refuses an empty or missing PIN file, naming the path', () => {
    const empty = join(dir, 'pin-empty');
    writeFileSync(empty, '\n');
    chmodSync(empty, 0o600);
    assert.match(configError(() => readPinFile(empty)).err.message, /is empty/);
    const missing = join(dir, 'pin-missing');
    const { err } = configError(() => readPinFile(missing, 'hsm_configuration.connection.pin_file'));
    assert.ok(err.message.startsWith('hsm_configuration.connection.pin_file: '));
    assert.ok(err.message.includes(missing));
    assert.equal(err.details?.path, 'hsm_configuration.connection.pin_file');
  });
});
