// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are ${NAME} references in YAML under test, not templates.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { HsmError } from '../errors/index.js';
import { parseConfig } from './load.js';
import { PROVIDERS } from './schema.js';

const SECRET = 'S3CRET-PIN';
const ENV = { HSM_PIN: SECRET, HSM_PARTITION_PASSWORD: SECRET, DATABASE_URL: SECRET, PORT: '1792' };
const RUNS = { seed: 42, numRuns: 1000 };

/** parseConfig either returns or throws HSM_ERR_CONFIG, and never shows a secret. */
function parsesOrConfigError(text: string): boolean {
  try {
    const config = parseConfig(text, { env: ENV, baseDir: '/etc/hsmkit' });
    assert.equal(typeof config, 'object');
    return true;
  } catch (err) {
    if (!(err instanceof HsmError) || err.code !== 'HSM_ERR_CONFIG') throw err;
    assert.ok(!err.message.includes(SECRET), err.message);
    assert.ok(!JSON.stringify(err.toJSON()).includes(SECRET));
    return false;
  }
}

const yamlish = fc.string({
  unit: fc.constantFrom(
    ...'abcxyz019 :-_.,#&*!|>%@`"\'?[]{}$\n\t\\'.split(''),
    'hsm_configuration',
    'provider',
    'connection',
    'members',
    'endpoints',
    'pin',
    'softhsm2',
    '${HSM_PIN}',
    '$${',
    '${PORT:-1}',
    '\n  ',
    '\n    - ',
  ),
  maxLength: 80,
});

const leaf = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('${HSM_PIN}', '${PORT}', '${UNSET}', '${UNSET:-7}', '$${x}', '', 'P-384', 'CKM_X'),
);

/** Values for secret fields (pin, partition_password, url, env entries): the secret inline or from the environment. */
const secretLeaf = fc.oneof(fc.constantFrom(SECRET, '${HSM_PIN}', `x${SECRET}`, '${DATABASE_URL}'), leaf);

/** Mostly a plausible value, sometimes anything. */
const mostly = <T>(plausible: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: plausible, weight: 6 }, { arbitrary: leaf as fc.Arbitrary<unknown>, weight: 1 });

const member = fc.record(
  {
    module: mostly(fc.constantFrom('/usr/lib/softhsm/libsofthsm2.so', 'libp11.so', './lib/x.so')),
    slot: mostly(fc.integer({ min: 0, max: 10 })),
    token_label: mostly(fc.constantFrom('hsmkit', 'a'.repeat(33))),
    pin: secretLeaf,
    pin_file: mostly(fc.constantFrom('secrets/user-pin', '/run/pin')),
    user_type: mostly(fc.constantFrom('user', 'so', 'crypto_officer')),
    env: mostly(fc.dictionary(fc.constantFrom('SOFTHSM2_CONF', 'A', 'bad key'), secretLeaf, { maxKeys: 2 })),
    host_processes: mostly(fc.integer({ min: 0, max: 17 })),
    host: mostly(fc.constantFrom('hsm1', 'hsm2', '::1')),
    port: mostly(fc.integer({ min: 0, max: 65536 })),
    name: mostly(fc.constantFrom('a', 'b')),
    provider: mostly(fc.constantFrom(...PROVIDERS)),
    bogus: leaf,
  },
  { requiredKeys: [] },
);

const configShaped = fc.record(
  {
    hsm_configuration: mostly(
      fc.record(
        {
          provider: mostly(fc.constantFrom(...PROVIDERS)),
          connection: mostly(
            fc.record(
              {
                type: mostly(fc.constantFrom('local', 'network')),
                members: mostly(fc.array(member, { maxLength: 3 })),
                endpoints: mostly(fc.array(member, { maxLength: 3 })),
                pin: secretLeaf,
                slot: mostly(fc.integer({ min: -1, max: 3 })),
              },
              { requiredKeys: [] },
            ),
          ),
          authentication: mostly(
            fc.record({ partition: leaf, partition_password: secretLeaf }, { requiredKeys: [] }),
          ),
          performance: mostly(
            fc.record(
              {
                batch_size: mostly(fc.integer({ min: 0, max: 5000 })),
                async_operations: mostly(fc.boolean()),
              },
              { requiredKeys: [] },
            ),
          ),
          security_policy: mostly(
            fc.record(
              {
                minimum_key_size: mostly(fc.record({ rsa: leaf, ecdsa: leaf }, { requiredKeys: [] })),
                allowed_mechanisms: mostly(fc.array(mostly(fc.constant('CKM_ECDSA')), { maxLength: 3 })),
              },
              { requiredKeys: [] },
            ),
          ),
        },
        { requiredKeys: ['provider'] },
      ),
    ),
    store: mostly(
      fc.record(
        {
          driver: mostly(fc.constantFrom('sqlite', 'postgres')),
          path: mostly(fc.constant('./hsmkit.db')),
          url: secretLeaf,
        },
        { requiredKeys: [] },
      ),
    ),
    junk: leaf,
  },
  { requiredKeys: ['hsm_configuration'] },
);

const SEED = {
  hsm_configuration: {
    provider: 'thales_luna',
    connection: {
      type: 'network',
      endpoints: [
        { host: 'hsm1.datacenter.local', port: 1792 },
        { host: 'hsm2.datacenter.local', port: 1792, pin: '${HSM_PIN}' },
      ],
    },
    authentication: { partition: 'PROD', partition_password: '${HSM_PARTITION_PASSWORD}' },
    high_availability: { mode: 'active_active', failover_timeout_ms: 1000, retry_attempts: 3 },
    performance: { connection_pool_size: 10, batch_size: 100, async_operations: true },
    security_policy: {
      minimum_key_size: { rsa: 4096, ecdsa: 'P-384' },
      key_attributes: { extractable: false, persistent: true, sensitive: true },
      allowed_mechanisms: ['CKM_EC_KEY_PAIR_GEN', 'CKM_ECDSA_SHA384'],
    },
  },
  store: { driver: 'sqlite', path: './hsmkit.db' },
};

type Segment = string | number;

/** Every path in the seed, containers included. */
function pathsOf(node: unknown, prefix: Segment[] = []): Segment[][] {
  const out: Segment[][] = [prefix];
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) out.push(...pathsOf(item, [...prefix, i]));
  } else if (typeof node === 'object' && node !== null) {
    for (const [k, v] of Object.entries(node)) out.push(...pathsOf(v, [...prefix, k]));
  }
  return out;
}

const SEED_PATHS = pathsOf(SEED).filter((p) => p.length > 0);

type Edit = { at: number; kind: 'replace' | 'delete' | 'add'; value: unknown };

const mutations = fc.array(
  fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('replace', 'delete', 'add'),
    value: leaf,
  }) as fc.Arbitrary<Edit>,
  { maxLength: 3 },
);

/** Applies edits to a copy of the seed: replace a value, delete a key or element, or add an odd key. */
function mutate(edits: readonly Edit[]): unknown {
  const copy = structuredClone(SEED) as unknown;
  for (const edit of edits) {
    const path = SEED_PATHS[edit.at % SEED_PATHS.length]!;
    let parent: unknown = copy;
    for (const seg of path.slice(0, -1)) {
      parent =
        typeof parent === 'object' && parent !== null ? (parent as Record<Segment, unknown>)[seg] : undefined;
    }
    if (typeof parent !== 'object' || parent === null) continue;
    const container = parent as Record<Segment, unknown>;
    const last = path[path.length - 1]!;
    if (edit.kind === 'replace') container[last] = edit.value;
    else if (edit.kind === 'delete') delete container[last];
    else if (!Array.isArray(container)) container[`x_${String(last)}`] = edit.value;
  }
  return copy;
}

describe('parseConfig property: returns or throws HSM_ERR_CONFIG, nothing else', () => {
  it('on arbitrary YAML-ish text', () => {
    fc.assert(
      fc.property(yamlish, (text) => {
        parsesOrConfigError(text);
      }),
      RUNS,
    );
  });

  it('on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        parsesOrConfigError(JSON.stringify(value) ?? 'null');
      }),
      RUNS,
    );
  });

  it('on arbitrary config-shaped objects', () => {
    fc.assert(
      fc.property(configShaped, (value) => {
        parsesOrConfigError(stringify(value));
      }),
      RUNS,
    );
  });

  it('on the seed with a few random mutations', () => {
    let parsed = 0;
    fc.assert(
      fc.property(mutations, (edits) => {
        const text = stringify(mutate(edits));
        if (parsesOrConfigError(text)) parsed++;
      }),
      RUNS,
    );
    assert.ok(parsed > 0, 'unmutated and harmlessly mutated seeds should parse');
  });
});
