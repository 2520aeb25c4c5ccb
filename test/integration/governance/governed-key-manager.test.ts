/**
 * The enforcement point on a real SoftHSM token: every refused operation is refused with
 * HSM_ERR_POLICY_VIOLATION naming its rule, leaves a `denied` audit record, and creates nothing on
 * the token (pkcs11-tool --list-objects before and after). Audit writes fail closed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { HsmError } from '../../../src/errors/index.js';
import { type Governance, openGovernance } from '../../../src/governance/open-governance.js';
import type { KeyManager } from '../../../src/kms/key-manager.js';
import type { CreateKeyRequest, SignRequest } from '../../../src/kms/requests.js';
import { Store } from '../../../src/store/store.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';
import { listObjects } from '../../support/tools.js';

const USER = userInfo().username;
const SECURITY = {
  minimumKeySize: {},
  keyAttributes: { extractable: false, persistent: true, sensitive: true },
};
const POLICY = {
  name: 'integration',
  security_policy: {
    minimum_key_size: { rsa: 3072, ecdsa: 'P-384' },
    key_attributes: { extractable: false, persistent: true, sensitive: true },
    allowed_mechanisms: [
      'CKM_RSA_PKCS_KEY_PAIR_GEN',
      'CKM_EC_KEY_PAIR_GEN',
      'CKM_SHA384_RSA_PKCS',
      'CKM_ECDSA_SHA384',
    ],
  },
  keys: { purposes: { ocsp: { key_types: ['ec-p384'], usages: ['sign', 'verify'] } } },
  access: {
    local_users: { [USER]: ['operator', 'auditor', 'signer'] },
    roles: {
      operator: [{ operations: ['key.create', 'key.get', 'key.sign', 'key.list', 'key.delete'] }],
      signer: [{ operations: ['key.sign'], keys: ['label:app-*'] }],
      auditor: [{ operations: ['key.list'] }],
    },
  },
  algorithms: { hashes: ['sha384'] },
};

/** Counts the calls that reach the real key manager, to show a refusal performs nothing. */
function counting(inner: Pkcs11KeyManager): { km: KeyManager; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const km = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { km, calls };
}

describe('GovernedKeyManager on SoftHSM', () => {
  let token: SoftHsmToken;
  let dir: string;
  let store: Store;
  let inner: Pkcs11KeyManager;
  let calls: Map<string, number>;
  const sessions = new Map<string, Governance>();
  const counters = new Map<string, Map<string, number>>();

  async function as(role: string): Promise<Governance> {
    let g = sessions.get(role);
    if (!g) {
      const c = counting(inner);
      g = await openGovernance({ inner: c.km, db: store.db, security: SECURITY, env: { HSMKIT_ROLE: role } });
      sessions.set(role, g);
      counters.set(role, c.calls);
    }
    calls = counters.get(role)!;
    return g;
  }

  before(async () => {
    token = createSoftHsmToken();
    dir = mkdtempSync(join(tmpdir(), 'hsmkit-gov-'));
    store = await Store.openSqlite(join(dir, 'hsmkit.db'));
    inner = await Pkcs11KeyManager.open(token.member(), { store: store.keys });
    const g = await openGovernance({ inner, db: store.db, security: SECURITY });
    await g.admin.apply(stringify(POLICY), 'integration policy', false);
    // Keys the sign cases use, made while the bootstrap admin could still do anything.
    await g.km.createKey({ label: 'app-p384', type: 'ec-p384' });
    await g.km.createKey({ label: 'app-p256', type: 'ec-p256' });
    await g.km.createKey({ label: 'other-p384', type: 'ec-p384' });
  });

  after(async () => {
    await inner?.close();
    await store?.close();
    token?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const denied: Array<[string, string, CreateKeyRequest, string]> = [
    [
      'rsa-2048 below the minimum',
      'operator',
      { label: 'd-rsa2048', type: 'rsa-2048' },
      'security_policy.minimum_key_size.rsa',
    ],
    [
      'ec-p256 below the minimum',
      'operator',
      { label: 'd-p256', type: 'ec-p256' },
      'security_policy.minimum_key_size.ecdsa',
    ],
    [
      'an extractable key',
      'operator',
      { label: 'd-extract', type: 'ec-p384', protection: { extractable: true } },
      'security_policy.key_attributes.extractable',
    ],
    [
      'a non-sensitive key',
      'operator',
      { label: 'd-sens', type: 'ec-p384', protection: { sensitive: false } },
      'security_policy.key_attributes.sensitive',
    ],
    [
      'a session key',
      'operator',
      { label: 'd-session', type: 'ec-p384', protection: { token: false } },
      'security_policy.key_attributes.persistent',
    ],
    [
      'Ed25519 (mechanism not allowed)',
      'operator',
      { label: 'd-ed', type: 'ed25519' },
      'security_policy.allowed_mechanisms',
    ],
    [
      'an ocsp key of the wrong type',
      'operator',
      { label: 'd-ocsp', type: 'rsa-3072', metadata: { purpose: 'ocsp' } },
      'keys.purposes.ocsp.key_types',
    ],
    ['creation by an auditor', 'auditor', { label: 'd-aud', type: 'ec-p384' }, 'access.roles.auditor'],
    [
      'creation in a role the user does not hold',
      'admin',
      { label: 'd-admin', type: 'ec-p384' },
      `access.local_users.${USER}`,
    ],
  ];

  describe('key.create: each refusal names its rule, is recorded, and creates nothing', () => {
    for (const [name, role, req, rule] of denied) {
      it(name, async () => {
        const g = await as(role);
        const before = listObjects(token).length;
        const generated = calls.get('createKey') ?? 0;
        await assert.rejects(
          g.km.createKey(req),
          (e) => HsmError.is(e, 'HSM_ERR_POLICY_VIOLATION') && e.details?.rule === rule,
        );
        assert.equal(listObjects(token).length, before, 'an object was created');
        assert.equal(calls.get('createKey') ?? 0, generated, 'the request reached the HSM');
        const tip = await g.auditStore.tip();
        assert.equal(tip?.result, 'denied');
        assert.equal(tip?.rule, rule);
        assert.equal(tip?.errorCode, 'HSM_ERR_POLICY_VIOLATION');
      });
    }
    it('the allowed twin: an ocsp ec-p384 key is created and recorded', async () => {
      const g = await as('operator');
      const before = listObjects(token).length;
      const info = await g.km.createKey({ label: 'ok-ocsp', type: 'ec-p384', metadata: { purpose: 'ocsp' } });
      assert.equal(listObjects(token).length, before + 2);
      const tip = await g.auditStore.tip();
      assert.deepEqual([tip?.operation, tip?.result, tip?.keyUri], ['key.create', 'ok', undefined]);
      assert.ok(info.uri.startsWith('pkcs11:'));
    });
  });

  const signs: Array<[string, string, SignRequest, string | null]> = [
    [
      'ECDSA-SHA384 by an operator',
      'operator',
      { key: 'other-p384', data: Buffer.from('x'), algorithm: { scheme: 'ecdsa', hash: 'sha384' } },
      null,
    ],
    [
      'SHA-256 (hash not allowed)',
      'operator',
      { key: 'other-p384', data: Buffer.from('x'), algorithm: { scheme: 'ecdsa', hash: 'sha256' } },
      'algorithms.hashes',
    ],
    [
      'the default algorithm (SHA-256)',
      'operator',
      { key: 'other-p384', data: Buffer.from('x') },
      'algorithms.hashes',
    ],
    [
      'with a P-256 key (below the minimum)',
      'operator',
      { key: 'app-p256', data: Buffer.from('x'), algorithm: { scheme: 'ecdsa', hash: 'sha384' } },
      'security_policy.minimum_key_size.ecdsa',
    ],
    [
      'a signer on an app-* key',
      'signer',
      { key: 'app-p384', data: Buffer.from('x'), algorithm: { scheme: 'ecdsa', hash: 'sha384' } },
      null,
    ],
    [
      'a signer on another key',
      'signer',
      { key: 'other-p384', data: Buffer.from('x'), algorithm: { scheme: 'ecdsa', hash: 'sha384' } },
      'access.roles.signer',
    ],
    [
      'an auditor',
      'auditor',
      { key: 'app-p384', data: Buffer.from('x'), algorithm: { scheme: 'ecdsa', hash: 'sha384' } },
      'access.roles.auditor',
    ],
  ];

  describe('key.sign: refused signatures never reach the HSM', () => {
    for (const [name, role, req, rule] of signs) {
      it(`${rule === null ? 'allows' : 'denies'} ${name}`, async () => {
        const g = await as(role);
        const signed = calls.get('sign') ?? 0;
        if (rule === null) {
          const sig = await g.km.sign(req);
          assert.ok(sig.length > 0);
          assert.equal(calls.get('sign'), signed + 1);
          const tip = await g.auditStore.tip();
          assert.deepEqual([tip?.operation, tip?.result], ['key.sign', 'ok']);
          assert.match(tip?.keyUri ?? '', /^pkcs11:token=/);
        } else {
          await assert.rejects(
            g.km.sign(req),
            (e) => HsmError.is(e, 'HSM_ERR_POLICY_VIOLATION') && e.details?.rule === rule,
          );
          assert.equal(calls.get('sign') ?? 0, signed, 'the signature was made');
        }
      });
    }
  });

  it('signBatch decides and records every item alone, and looks each key up once per batch', async () => {
    const g = await as('signer');
    const getKeys = calls.get('getKey') ?? 0;
    const signed = calls.get('sign') ?? 0;
    const before = (await g.auditStore.tip())?.seq ?? 0;
    const alg = { scheme: 'ecdsa', hash: 'sha384' } as const;
    const messages = ['a', 'b', 'c'].map((m) => Buffer.from(m));
    const reqs: SignRequest[] = [
      ...messages.map((data) => ({ key: 'app-p384', data, algorithm: alg })),
      { key: 'other-p384', data: Buffer.from('d'), algorithm: alg },
      { key: 'other-p384', data: Buffer.from('e'), algorithm: alg },
      { key: 'app-no-such-key', data: Buffer.from('f'), algorithm: alg },
    ];
    const results = await g.km.signBatch!(reqs);
    // Three distinct references: three lookups, not six.
    assert.equal((calls.get('getKey') ?? 0) - getKeys, 3);
    // Only the allowed items reached the HSM.
    assert.equal((calls.get('sign') ?? 0) - signed, 3);
    const pem = Buffer.from(await inner.getPublicKey('app-p384'));
    const publicKey = createPublicKey({ key: pem, format: 'der', type: 'spki' });
    for (const [i, data] of messages.entries()) {
      const r = results[i]!;
      assert.ok(r.ok, `item ${i} failed`);
      assert.ok(cryptoVerify('sha384', data, { key: publicKey, dsaEncoding: 'der' }, r.signature));
    }
    for (const i of [3, 4]) {
      const r = results[i]!;
      assert.ok(!r.ok && HsmError.is(r.error, 'HSM_ERR_POLICY_VIOLATION'));
    }
    const last = results[5]!;
    assert.ok(!last.ok && HsmError.is(last.error, 'HSM_ERR_KEY_NOT_FOUND'));
    // One audit record per item, each with its own result.
    const records = (await g.auditStore.list({ fromSeq: before + 1 })).filter(
      (r) => r.operation === 'key.sign',
    );
    assert.deepEqual(records.map((r) => r.result).sort(), ['denied', 'denied', 'error', 'ok', 'ok', 'ok']);
    assert.equal(new Set(records.map((r) => r.paramsDigest)).size, 6);
  });

  it('a failed operation is recorded with its error code', async () => {
    const g = await as('operator');
    await assert.rejects(g.km.sign({ key: 'no-such-key', data: Buffer.from('x') }), (e) =>
      HsmError.is(e, 'HSM_ERR_KEY_NOT_FOUND'),
    );
    const tip = await g.auditStore.tip();
    assert.deepEqual(
      [tip?.operation, tip?.result, tip?.errorCode],
      ['key.sign', 'error', 'HSM_ERR_KEY_NOT_FOUND'],
    );
  });

  it('capabilities the inner key manager lacks are hidden from the type guards', async () => {
    const g = await as('operator');
    const { isKeyLister, isKeyReplicator } = await import('../../../src/kms/key-manager.js');
    assert.equal(isKeyLister(g.km), true);
    const minimal = await openGovernance({
      inner: {
        createKey: inner.createKey.bind(inner),
        getKey: inner.getKey.bind(inner),
        getPublicKey: inner.getPublicKey.bind(inner),
        sign: inner.sign.bind(inner),
        close: async () => undefined,
      },
      db: store.db,
      security: SECURITY,
    });
    assert.equal(isKeyLister(minimal.km), false);
    assert.equal(isKeyReplicator(minimal.km), false);
  });

  it('fails closed: with the audit database read-only, a signature is refused and never made', async () => {
    // A fresh process-like session opens the file after it was made read-only, as a CLI run would.
    const file = join(dir, 'hsmkit.db');
    const count = (await (await as('operator')).auditStore.list()).length;
    readOnly(file, true);
    let ro: Store | undefined;
    try {
      ro = await Store.openSqlite(file);
      const c = counting(inner);
      const g = await openGovernance({
        inner: c.km,
        db: ro.db,
        security: SECURITY,
        env: { HSMKIT_ROLE: 'operator' },
      });
      await assert.rejects(
        g.km.sign({
          key: 'other-p384',
          data: Buffer.from('x'),
          algorithm: { scheme: 'ecdsa', hash: 'sha384' },
        }),
        (e) => HsmError.is(e, 'HSM_ERR_AUDIT'),
      );
      assert.equal(c.calls.get('sign') ?? 0, 0, 'the HSM signed although nothing could be recorded');
      // A policy refusal cannot be recorded either, and is refused all the same.
      await assert.rejects(g.km.createKey({ label: 'ro-x', type: 'ec-p256' }), (e) =>
        HsmError.is(e, 'HSM_ERR_AUDIT'),
      );
      assert.equal(c.calls.get('createKey') ?? 0, 0);
    } finally {
      await ro?.close();
      readOnly(file, false);
    }
    assert.equal((await (await as('operator')).auditStore.list()).length, count);
  });

  it('the log of this file verifies, checkpoints sign in the HSM, and holds no PIN', async () => {
    const g = await as('operator');
    assert.equal(await g.governor.checkpoint(), undefined);
    const key = await g.auditKey(false);
    const { verifyChain } = await import('../../../src/audit/verify-chain.js');
    const records = await g.auditStore.list();
    const report = verifyChain(records, key.publicKeyPem);
    assert.equal(report.ok, true, JSON.stringify(report.firstBreak));
    assert.ok(report.checkpoints >= 1);
    const text = JSON.stringify(records);
    for (const pin of [token.userPin, token.soPin])
      assert.ok(!text.includes(pin), 'a PIN is in the audit log');
  });
});

/**
 * Makes the database file unwritable. chmod 0444 does not stop root, so as root the file is also
 * made immutable (chattr +i), which SQLite then opens read-only.
 */
function readOnly(file: string, on: boolean): void {
  if (on) chmodSync(file, 0o444);
  if (process.getuid?.() === 0) {
    const r = spawnSync('chattr', [on ? '+i' : '-i', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `chattr failed: ${r.stderr}`);
  }
  if (!on) chmodSync(file, 0o600);
}
