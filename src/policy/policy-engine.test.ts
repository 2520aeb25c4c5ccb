import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../errors/index.js';
import { bootstrapPolicy } from './bootstrap-policy.js';
import { diffPolicies } from './policy-diff.js';
import { parsePolicyDocument, validatePolicyDocument } from './policy-document.js';
import { evaluatePolicy } from './policy-engine.js';
import type { KeyFacts, PolicyRequest } from './policy-request.js';
import { runPolicyTests } from './policy-tests.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const DAY = 86_400_000;

const POLICY = validatePolicyDocument({
  security_policy: {
    minimum_key_size: { rsa: 3072, ecdsa: 'P-384' },
    key_attributes: { extractable: false, persistent: true, sensitive: true },
    allowed_mechanisms: [
      'CKM_RSA_PKCS_KEY_PAIR_GEN',
      'CKM_EC_KEY_PAIR_GEN',
      'CKM_SHA384_RSA_PKCS',
      'CKM_ECDSA_SHA384',
      'CKM_ECDSA_SHA512',
    ],
  },
  keys: {
    purposes: {
      root_ca: {
        key_types: ['ec-p521', 'rsa-4096'],
        usages: ['sign', 'verify'],
        max_age_days: 3650,
        rotation_days: 1825,
      },
      ocsp: { usages: ['sign', 'verify'], max_age_days: 365 },
    },
  },
  access: {
    default_role: 'operator',
    local_users: { alice: ['security_officer', 'auditor'] },
    roles: {
      admin: [{ operations: ['*'] }],
      operator: [{ operations: ['key.create', 'key.sign', 'key.get', 'key.export'] }],
      signer: [{ operations: ['key.sign'], keys: ['label:app-*', 'purpose:ocsp'] }],
      auditor: [{ operations: ['key.list', 'audit.verify'] }],
      security_officer: [{ operations: ['policy.apply'] }],
    },
  },
  algorithms: { hashes: ['sha384', 'sha512'], curves: ['P-384', 'P-521'], pqc: 'forbidden' },
  export: { mode: 'wrap_trusted', trusted_wrapping_keys: ['hsmkit-replication'] },
});

function key(extra: Partial<KeyFacts> = {}): KeyFacts {
  return {
    label: 'k',
    type: 'ec-p384',
    extractable: false,
    sensitive: true,
    persistent: true,
    private: true,
    usages: ['sign', 'verify'],
    createdAt: new Date(NOW.getTime() - DAY).toISOString(),
    ...extra,
  };
}

type Case = [
  name: string,
  req: Omit<PolicyRequest, 'actor' | 'now'> & { role?: string; user?: string },
  rule: string | null,
];

const ec384 = { scheme: 'ecdsa', hash: 'sha384' } as const;
const CASES: Case[] = [
  // access
  ['operator may create', { operation: 'key.create', key: key() }, null],
  [
    'auditor may not create',
    { operation: 'key.create', key: key(), role: 'auditor', user: 'alice' },
    'access.roles.auditor',
  ],
  ['unknown role', { operation: 'key.list', role: 'wizard' }, 'access.roles'],
  [
    'listed user in an unlisted role',
    { operation: 'key.list', role: 'admin', user: 'alice' },
    'access.local_users.alice',
  ],
  ['listed user in a listed role', { operation: 'key.list', role: 'auditor', user: 'alice' }, null],
  ['unlisted user beyond the default role', { operation: 'key.list', role: 'admin' }, 'access.default_role'],
  [
    'signer on a selected label',
    { operation: 'key.sign', key: key({ label: 'app-1' }), algorithm: ec384, role: 'signer', user: 'svc' },
    'access.default_role',
  ],
  // minimum sizes
  [
    'rsa-2048 below minimum',
    { operation: 'key.create', key: key({ type: 'rsa-2048' }) },
    'security_policy.minimum_key_size.rsa',
  ],
  ['rsa-3072 at minimum', { operation: 'key.create', key: key({ type: 'rsa-3072' }) }, null],
  [
    'ec-p256 below minimum',
    { operation: 'key.create', key: key({ type: 'ec-p256' }) },
    'security_policy.minimum_key_size.ecdsa',
  ],
  [
    'signing with a weak key',
    {
      operation: 'key.sign',
      key: key({ type: 'rsa-1024' }),
      algorithm: { scheme: 'rsa-pkcs1', hash: 'sha384' },
    },
    'security_policy.minimum_key_size.rsa',
  ],
  // attributes
  [
    'extractable',
    { operation: 'key.create', key: key({ extractable: true }) },
    'security_policy.key_attributes.extractable',
  ],
  [
    'not sensitive',
    { operation: 'key.create', key: key({ sensitive: false }) },
    'security_policy.key_attributes.sensitive',
  ],
  [
    'session key',
    { operation: 'key.create', key: key({ persistent: false }) },
    'security_policy.key_attributes.persistent',
  ],
  [
    'not private',
    { operation: 'key.create', key: key({ private: false }) },
    'security_policy.key_attributes.private',
  ],
  // mechanisms, hashes, curves, pqc
  [
    'ed25519 keygen mechanism not allowed',
    { operation: 'key.create', key: key({ type: 'ed25519' }) },
    'algorithms.curves',
  ],
  ['ECDSA-SHA384 allowed', { operation: 'key.sign', key: key(), algorithm: ec384 }, null],
  [
    'ECDSA-SHA256 hash not allowed',
    { operation: 'key.sign', key: key(), algorithm: { scheme: 'ecdsa', hash: 'sha256' } },
    'algorithms.hashes',
  ],
  [
    'RSA-PSS-SHA384 mechanism not allowed',
    {
      operation: 'key.sign',
      key: key({ type: 'rsa-4096' }),
      algorithm: { scheme: 'rsa-pss', hash: 'sha384' },
    },
    'security_policy.allowed_mechanisms',
  ],
  [
    'P-256 key in use',
    { operation: 'key.sign', key: key({ type: 'ec-p256' }), algorithm: ec384 },
    'security_policy.minimum_key_size.ecdsa',
  ],
  ['ML-DSA forbidden', { operation: 'key.create', key: key({ type: 'ml-dsa-65' }) }, 'algorithms.pqc'],
  // purposes, age, expiry
  [
    'root_ca of an allowed type',
    { operation: 'key.create', key: key({ type: 'ec-p521', purpose: 'root-ca' }) },
    null,
  ],
  [
    'root_ca of another type',
    { operation: 'key.create', key: key({ purpose: 'root_ca' }) },
    'keys.purposes.root_ca.key_types',
  ],
  [
    'ocsp key that may decrypt',
    { operation: 'key.create', key: key({ purpose: 'ocsp', usages: ['sign', 'decrypt'] }) },
    'keys.purposes.ocsp.usages',
  ],
  [
    'ocsp key too old to sign',
    {
      operation: 'key.sign',
      key: key({ purpose: 'ocsp', createdAt: new Date(NOW.getTime() - 400 * DAY).toISOString() }),
      algorithm: ec384,
    },
    'keys.purposes.ocsp.max_age_days',
  ],
  [
    'expired key',
    { operation: 'key.sign', key: key({ expiresAt: '2029-12-31T00:00:00Z' }), algorithm: ec384 },
    'keys.expiry',
  ],
  [
    'archived key (replaced by a re-key)',
    { operation: 'key.sign', key: key({ status: 'archived' }), algorithm: ec384 },
    'keys.archived',
  ],
  ['active key', { operation: 'key.sign', key: key({ status: 'active' }), algorithm: ec384 }, null],
  // export
  [
    'export under a trusted key',
    {
      operation: 'key.export',
      key: key({ extractable: true }),
      export: { wrappingKey: 'hsmkit-replication', approvals: 0 },
    },
    null,
  ],
  [
    'export under another key',
    {
      operation: 'key.export',
      key: key({ extractable: true }),
      export: { wrappingKey: 'mine', approvals: 0 },
    },
    'export.trusted_wrapping_keys',
  ],
  [
    'export of a non-extractable key',
    { operation: 'key.export', key: key(), export: { wrappingKey: 'hsmkit-replication', approvals: 0 } },
    'security_policy.key_attributes.extractable',
  ],
];

describe('policy engine: every rule allows and denies', () => {
  for (const [name, c, rule] of CASES) {
    it(`${rule === null ? 'allows' : 'denies'}: ${name}`, () => {
      const { role = 'operator', user = 'bob', ...rest } = c;
      const d = evaluatePolicy(POLICY, {
        ...rest,
        actor: { name: user, role, authMethod: 'local' },
        now: NOW,
      });
      if (rule === null) assert.deepEqual(d, { allowed: true });
      else {
        assert.equal(d.allowed, false, name);
        assert.equal((d as { rule: string }).rule, rule, name);
      }
    });
  }

  it('a signer may sign app-* and ocsp keys only (service accounts, not local users)', () => {
    const actor = { name: 'svc', role: 'signer', authMethod: 'mtls' };
    const sign = (k: KeyFacts) =>
      evaluatePolicy(POLICY, { actor, operation: 'key.sign', key: k, algorithm: ec384, now: NOW });
    assert.equal(sign(key({ label: 'app-1' })).allowed, true);
    assert.equal(sign(key({ label: 'ocsp-x', purpose: 'ocsp' })).allowed, true);
    assert.deepEqual(sign(key({ label: 'root' })), {
      allowed: false,
      rule: 'access.roles.signer',
      reason: 'role signer is not granted key.sign on key "root"',
    });
  });

  it('export: never, and wrap_backup needs the quorum', () => {
    const never = validatePolicyDocument({
      access: { default_role: 'admin', roles: { admin: [{ operations: ['*'] }] } },
    });
    const actor = { name: 'x', role: 'admin', authMethod: 'local' };
    assert.equal(
      (
        evaluatePolicy(never, { actor, operation: 'key.export', key: key({ extractable: true }) }) as {
          rule: string;
        }
      ).rule,
      'export.mode',
    );
    const backup = validatePolicyDocument({
      access: { default_role: 'admin', roles: { admin: [{ operations: ['*'] }] } },
      export: { mode: 'wrap_backup', quorum: { m: 2, n: 3 } },
    });
    const ask = (approvals: number) =>
      evaluatePolicy(backup, {
        actor,
        operation: 'key.export',
        key: key({ extractable: true }),
        export: { approvals },
      });
    assert.equal((ask(1) as { rule: string }).rule, 'export.quorum');
    assert.equal(ask(2).allowed, true);
  });

  it('pqc: required refuses a classical key', () => {
    const doc = validatePolicyDocument({
      access: { default_role: 'admin', roles: { admin: [{ operations: ['*'] }] } },
      algorithms: { pqc: 'required' },
    });
    const actor = { name: 'x', role: 'admin', authMethod: 'local' };
    assert.equal(
      (evaluatePolicy(doc, { actor, operation: 'key.create', key: key() }) as { rule: string }).rule,
      'algorithms.pqc',
    );
    assert.equal(
      evaluatePolicy(doc, { actor, operation: 'key.create', key: key({ type: 'ml-dsa-65' }) }).allowed,
      true,
    );
  });

  it('require_purpose refuses a key without one', () => {
    const doc = validatePolicyDocument({
      access: { default_role: 'admin', roles: { admin: [{ operations: ['*'] }] } },
      keys: { require_purpose: true },
    });
    const actor = { name: 'x', role: 'admin', authMethod: 'local' };
    assert.equal(
      (evaluatePolicy(doc, { actor, operation: 'key.create', key: key() }) as { rule: string }).rule,
      'keys.require_purpose',
    );
    assert.equal(
      evaluatePolicy(doc, { actor, operation: 'key.create', key: key({ purpose: 'ocsp' }) }).allowed,
      true,
    );
  });
});

describe('policy document', () => {
  it('accepts the seed security_policy block as written', () => {
    const doc = parsePolicyDocument(`security_policy:
  minimum_key_size: { rsa: 4096, ecdsa: "P-384" }
  key_attributes: { extractable: false, persistent: true, sensitive: true }
  allowed_mechanisms: ["CKM_RSA_PKCS_KEY_PAIR_GEN", "CKM_EC_KEY_PAIR_GEN", "CKM_SHA384_RSA_PKCS", "CKM_ECDSA_SHA384"]
`);
    assert.equal(doc.security_policy.minimum_key_size.rsa, 4096);
    assert.equal(doc.export.mode, 'never');
  });

  it('refuses unknown keys and bad values with HSM_ERR_INVALID_INPUT naming the path', () => {
    for (const [text, path] of [
      ['acces: {}', '(root)'],
      ['access: { roles: { wizard: [] } }', 'access.roles'],
      ['keys: { purposes: { ocsp: { usages: [fly] } } }', 'keys.purposes.ocsp.usages.0'],
      ['export: { mode: wrap_backup }', 'export.quorum'],
      ['export: { mode: wrap_backup, quorum: { m: 3, n: 2 } }', 'export.quorum'],
    ] as const) {
      try {
        parsePolicyDocument(text);
        assert.fail(`accepted: ${text}`);
      } catch (err) {
        assert.ok(HsmError.is(err, 'HSM_ERR_INVALID_INPUT'), String(err));
        const issues = err.details?.issues as Array<{ path: string }>;
        assert.equal(issues[0]?.path, path, text);
      }
    }
  });

  it('the bootstrap policy keeps the configured defaults and lets the local admin do everything', () => {
    const p = bootstrapPolicy({
      minimumKeySize: { rsa: 3072 },
      keyAttributes: { extractable: false, persistent: true, sensitive: true },
    });
    assert.equal(p.version, 0);
    const actor = { name: 'anyone', role: 'admin', authMethod: 'local' };
    assert.equal(
      evaluatePolicy(p.document, { actor, operation: 'key.create', key: key({ type: 'rsa-3072' }) }).allowed,
      true,
    );
    assert.equal(
      (
        evaluatePolicy(p.document, { actor, operation: 'key.create', key: key({ type: 'rsa-2048' }) }) as {
          rule: string;
        }
      ).rule,
      'security_policy.minimum_key_size.rsa',
    );
  });

  it('runs its test table and reports a failing case', () => {
    const doc =
      parsePolicyDocument(`access: { default_role: operator, roles: { operator: [{ operations: [key.sign] }] } }
tests:
  - { name: sign ok, role: operator, operation: key.sign, key: { type: ec-p384 }, expect: allow }
  - { name: create refused, role: operator, operation: key.create, key: {}, expect: deny, rule: access.roles.operator }
  - { name: wrong expectation, role: operator, operation: key.create, expect: allow }
`);
    const r = runPolicyTests(doc);
    assert.deepEqual(
      r.map((x) => x.passed),
      [true, true, false],
    );
  });

  it('diff lists changed paths', () => {
    const a = validatePolicyDocument({ security_policy: { minimum_key_size: { rsa: 2048 } } });
    const b = validatePolicyDocument({
      security_policy: { minimum_key_size: { rsa: 4096 } },
      algorithms: { hashes: ['sha384'] },
    });
    assert.deepEqual(
      diffPolicies(a, b).map((c) => [c.path, c.kind]),
      [
        ['algorithms.hashes', 'added'],
        ['security_policy.minimum_key_size.rsa', 'changed'],
      ],
    );
  });
});
