/**
 * Fuzz: governance policy documents (`parsePolicyDocument`) and `policy apply` on a real store.
 * Hostile YAML gives a document or HSM_ERR_INVALID_INPUT; a refused document is never stored
 * (policy_version unchanged); no prototype is polluted.
 */
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parsePolicyDocument } from '../../src/policy/index.js';
import {
  assertPrototypeClean,
  Bounds,
  captureWarnings,
  checkCorpus,
  describeInput,
  fuzzParams,
  HUGE_INPUT_LIMITS,
  hugeString,
  PROTOTYPE_KEYS,
  typedOutcome,
} from './support/harness.js';

const CODES = ['HSM_ERR_INVALID_INPUT'] as const;

const SEED = {
  version: 1,
  name: 'fuzz',
  security_policy: { minimum_key_size: { rsa: 3072, ecdsa: 'P-384' } },
  keys: { purposes: { ocsp: { key_types: ['ec-p384'], max_age_days: 30 } } },
  access: {
    default_role: 'operator',
    local_users: { [userInfo().username]: ['admin'] },
    roles: { operator: [{ operations: ['key.sign'], keys: ['label:app-*'] }] },
  },
  export: { mode: 'never' },
  tests: [{ name: 't', role: 'operator', operation: 'key.sign', key: { label: 'app-1' }, expect: 'allow' }],
};

function parse(text: string) {
  return typedOutcome(
    () => parsePolicyDocument(text, 'fuzz'),
    CODES,
    () => describeInput(text),
  );
}

const key = fc.oneof(
  fc.constantFrom(
    ...PROTOTYPE_KEYS,
    'version',
    'security_policy',
    'keys',
    'purposes',
    'access',
    'roles',
    'local_users',
    'operations',
    'export',
    'quorum',
    'audit',
    'tests',
    'admin',
    'root_ca',
  ),
  fc.string({ maxLength: 8 }),
);
const scalar = fc.oneof(
  fc.constantFrom(
    '*',
    'label:*',
    'key.sign',
    'admin',
    'ec-p384',
    'never',
    1,
    0,
    -1,
    Number.POSITIVE_INFINITY,
    null,
    true,
  ),
  fc.double(),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
);
const tree = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(key, tie('node'), { maxKeys: 5 }),
  ),
})).node;

/** The seed with one subtree replaced by a random one, at a random path. */
const graft = fc.tuple(fc.array(key, { minLength: 1, maxLength: 4 }), tree).map(([path, value]) => {
  const doc = structuredClone(SEED) as Record<string, unknown>;
  let node: Record<string, unknown> = doc;
  for (const k of path.slice(0, -1)) {
    const next = Object.hasOwn(node, k) ? node[k] : undefined;
    if (typeof next !== 'object' || next === null) {
      const fresh: Record<string, unknown> = {};
      Object.defineProperty(node, k, { value: fresh, enumerable: true, writable: true, configurable: true });
      node = fresh;
    } else node = next as Record<string, unknown>;
  }
  Object.defineProperty(node, path.at(-1)!, { value, enumerable: true, writable: true, configurable: true });
  return stringify(doc);
});

describe('fuzz: policy documents', () => {
  it('the seed parses', () => {
    assert.equal(parse(stringify(SEED)).ok, true);
  });

  it('committed corpus: valid seeds parse, every malformed file is HSM_ERR_INVALID_INPUT', async () => {
    // proto-in-*.yaml: "Unknown keys are errors at every level" (docs/policy.md), and the config
    // loader refuses __proto__ for the same reason; zod's records drop it silently instead.
    await checkCorpus('policy', (file) => parse(file.bytes.toString('utf8')).ok);
    assertPrototypeClean();
  });

  it('no YAML warning reaches stderr (the yaml library quotes the document text in them)', async () => {
    const warnings = captureWarnings();
    for (const text of ['!!set { a, b }\n', 'name: !unknown x\n', 'keys: { ? [a] : b }\n']) parse(text);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.stop(), []);
  });

  it('grafted subtrees (prototype keys, odd scalars, deep lists): a document or HSM_ERR_INVALID_INPUT', () => {
    const bounds = new Bounds('parsePolicyDocument(graft)');
    fc.assert(
      fc.property(graft, (text) => {
        const out = bounds.run(() => parse(text));
        if (out.ok) {
          // Whatever is accepted is a plain, fully validated document.
          assert.equal(out.value.version, 1);
          assert.ok(Array.isArray(out.value.tests));
        }
        assertPrototypeClean();
      }),
      fuzzParams(),
    );
    bounds.finish();
  });

  it('arbitrary text: a document or HSM_ERR_INVALID_INPUT', () => {
    const bounds = new Bounds('parsePolicyDocument(text)');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc
            .array(
              fc.constantFrom(
                'a: ',
                '- ',
                '&x ',
                '*x',
                '!!set ',
                '!!binary ',
                '{',
                '}',
                '[',
                ']',
                '"',
                "'",
                '\n',
                '  ',
                '? ',
                '---\n',
                '__proto__',
                'version',
                '1',
              ),
              { maxLength: 30 },
            )
            .map((p) => p.join('')),
        ),
        (text) => {
          bounds.run(() => parse(text));
        },
      ),
      fuzzParams(),
    );
    bounds.finish();
    assertPrototypeClean();
  });

  it('10 MB values: bounded time and memory', () => {
    const big = hugeString();
    const stats: unknown[] = [];
    for (const text of [
      `name: ${big}\n`,
      `name: "${big}"\n`,
      `# ${big}\n`,
      `${big}: 1\n`,
      // 250,000 list items in 500 KB: cost grows with the item count (one issue per item).
      `tests: [${'1,'.repeat(250_000)}1]\n`,
    ]) {
      const bounds = new Bounds('parsePolicyDocument(10 MB)', HUGE_INPUT_LIMITS);
      bounds.run(() => parse(text));
      stats.push(bounds.finish());
    }
    console.log('parsePolicyDocument(huge inputs)', JSON.stringify(stats));
  });
});
