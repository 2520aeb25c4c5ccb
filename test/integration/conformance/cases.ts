/**
 * The conformance cases. Every case runs the same application code (KeyManager calls) on every
 * module; it resolves (pass) or throws an HsmError (a refusal, checked against the one table in
 * expected-refusals.ts). Signatures are checked with OpenSSL, a verifier hsmkit did not write, and
 * each check is paired with a tampered message that must fail. No case looks at which module it runs on.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { Secret } from '../../../src/config/secret.js';
import { HsmError } from '../../../src/errors/index.js';
import type { KeyInfo } from '../../../src/kms/key-info.js';
import type { KeyType } from '../../../src/kms/key-spec.js';
import type { SignAlgorithm } from '../../../src/kms/sign-algorithm.js';
import type { LocalModule } from '../../support/modules/local-module.js';
import { openssl } from '../../support/tools.js';

/** What a case works with on one module. */
export interface CaseContext {
  module: LocalModule;
  /** The suite's key manager on this module. */
  km: Pkcs11KeyManager;
  /** Closes the key manager and opens a new one on the same token (new member host). */
  reopen(): Promise<void>;
  /** Opens another key manager with the given options (closed by the suite). */
  open(opts: { pin?: string; defaultPolicy?: boolean }): Promise<Pkcs11KeyManager>;
  /** Keys made so far, by type. */
  keys: Map<KeyType, KeyInfo>;
  /** A scratch directory. */
  dir: string;
}

/** One conformance case. */
export interface ConformanceCase {
  id: CaseId;
  title: string;
  run(ctx: CaseContext): Promise<void>;
}

let fileNo = 0;
function file(ctx: CaseContext, name: string, bytes: Uint8Array | string): string {
  const p = join(ctx.dir, `${fileNo++}-${name}`);
  writeFileSync(p, bytes);
  return p;
}

function tampered(msg: Uint8Array): Buffer {
  const t = Buffer.from(msg);
  t[t.length >> 1]! ^= 0x01;
  return t;
}

/** The key of this type, generated on first use (a refusal propagates as the case's outcome). */
async function keyOf(ctx: CaseContext, type: KeyType): Promise<KeyInfo> {
  const have = ctx.keys.get(type);
  if (have) return have;
  const info = await ctx.km.createKey({ label: `conf-${type}`, type });
  ctx.keys.set(type, info);
  return info;
}

async function keygen(ctx: CaseContext, type: KeyType): Promise<void> {
  const info = await keyOf(ctx, type);
  assert.equal(info.type, type);
  const text = openssl(['pkey', '-pubin', '-in', file(ctx, 'pub.pem', info.publicKeyPem), '-noout', '-text']);
  assert.equal(text.status, 0, `openssl cannot read the public key: ${text.stderr}`);
}

/** Signs with the key of `type`, verifies with OpenSSL (and a tampered copy must fail) and with km.verify. */
async function signVerify(
  ctx: CaseContext,
  type: KeyType,
  algorithm: SignAlgorithm,
  size = 1000,
): Promise<void> {
  const key = await keyOf(ctx, type);
  const msg = randomBytes(size);
  const sig = await ctx.km.sign({ key: key.label, data: msg, algorithm });
  const pub = file(ctx, 'pub.pem', key.publicKeyPem);
  const sigFile = file(ctx, 'sig', sig);
  const verify = (m: Uint8Array) => {
    const msgFile = file(ctx, 'msg', m);
    if (algorithm.scheme === 'eddsa') {
      return openssl([
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        pub,
        '-rawin',
        '-in',
        msgFile,
        '-sigfile',
        sigFile,
      ]).status;
    }
    const args = ['dgst', `-${algorithm.hash}`, '-verify', pub, '-signature', sigFile];
    if (algorithm.scheme === 'rsa-pss')
      args.push('-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest');
    return openssl([...args, msgFile]).status;
  };
  assert.equal(verify(msg), 0, 'OpenSSL rejected the signature');
  assert.notEqual(verify(tampered(msg)), 0, 'OpenSSL accepted a tampered message');
  assert.equal(await ctx.km.verify({ key: key.label, data: msg, signature: sig, algorithm }), true);
}

/** Expects `p` to reject with `code`. */
async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof HsmError, `expected an HsmError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

const keygenCase = (type: KeyType): ConformanceCase => ({
  id: `keygen-${type}` as CaseId,
  title: `generate ${type}; OpenSSL reads the public key`,
  run: (ctx) => keygen(ctx, type),
});

/** The cases, in the order they run. */
export const CASES: readonly ConformanceCase[] = [
  keygenCase('rsa-2048'),
  keygenCase('rsa-4096'),
  keygenCase('ec-p256'),
  keygenCase('ec-p384'),
  keygenCase('ec-p521'),
  keygenCase('ed25519'),
  {
    id: 'attributes',
    title:
      'generated keys are token, private, sensitive, never extractable, can sign, cannot unwrap (read back)',
    async run(ctx) {
      const key = await keyOf(ctx, 'rsa-2048');
      const a = (await ctx.km.getKey(key.label)).attributes;
      assert.deepEqual(
        { token: a.token, private: a.private, sensitive: a.sensitive, extractable: a.extractable },
        { token: true, private: true, sensitive: true, extractable: false },
      );
      // CKA_DECRYPT is not checked here: tpm2-pkcs11 1.9 cannot make sign-only keys (its vendor profile
      // leaves CKA_DECRYPT=false out, see templates.omitWhenFalse); the key reports what it got.
      assert.deepEqual({ sign: a.sign, unwrap: a.unwrap }, { sign: true, unwrap: false });
      assert.equal(a.neverExtractable, true, 'CKA_NEVER_EXTRACTABLE');
      assert.equal(a.alwaysSensitive, true, 'CKA_ALWAYS_SENSITIVE');
    },
  },
  {
    id: 'sign-rsa-pkcs1-sha256',
    title: 'RSA PKCS#1 v1.5 SHA-256; OpenSSL verifies',
    run: (ctx) => signVerify(ctx, 'rsa-2048', { scheme: 'rsa-pkcs1', hash: 'sha256' }),
  },
  {
    id: 'sign-rsa-pkcs1-sha512-1mib',
    title: 'RSA PKCS#1 v1.5 SHA-512 over 1 MiB (software hash + CKM_RSA_PKCS); OpenSSL verifies',
    run: (ctx) => signVerify(ctx, 'rsa-2048', { scheme: 'rsa-pkcs1', hash: 'sha512' }, 1024 * 1024),
  },
  {
    id: 'sign-rsa-pss-sha256',
    title: 'RSA-PSS SHA-256 (salt = digest length); OpenSSL verifies',
    run: (ctx) => signVerify(ctx, 'rsa-2048', { scheme: 'rsa-pss', hash: 'sha256' }),
  },
  {
    id: 'sign-ecdsa-p256-sha256',
    title: 'ECDSA P-256 SHA-256 (CKM_ECDSA on a prehash); OpenSSL verifies',
    run: (ctx) => signVerify(ctx, 'ec-p256', { scheme: 'ecdsa', hash: 'sha256' }),
  },
  {
    id: 'sign-ecdsa-p384-sha384',
    title: 'ECDSA P-384 SHA-384; OpenSSL verifies',
    run: (ctx) => signVerify(ctx, 'ec-p384', { scheme: 'ecdsa', hash: 'sha384' }),
  },
  {
    id: 'sign-ecdsa-p521-sha512',
    title: 'ECDSA P-521 SHA-512; OpenSSL verifies',
    run: (ctx) => signVerify(ctx, 'ec-p521', { scheme: 'ecdsa', hash: 'sha512' }),
  },
  {
    id: 'sign-ed25519',
    title: 'Ed25519 (CKM_EDDSA); OpenSSL verifies',
    run: (ctx) => signVerify(ctx, 'ed25519', { scheme: 'eddsa' }),
  },
  {
    id: 'find',
    title: 'find by label, by RFC 7512 URI with id, and in the key list',
    async run(ctx) {
      const key = await keyOf(ctx, 'rsa-2048');
      assert.equal((await ctx.km.getKey(key.label)).id, key.id);
      const byUri = await ctx.km.getKey(key.uri);
      assert.equal(byUri.id, key.id);
      assert.ok((await ctx.km.listKeys()).some((k) => k.id === key.id));
      await rejects(ctx.km.getKey('conf-no-such-key'), 'HSM_ERR_KEY_NOT_FOUND');
    },
  },
  {
    id: 'delete',
    title: 'delete removes both halves; find and sign then say HSM_ERR_KEY_NOT_FOUND',
    async run(ctx) {
      const key = await ctx.km.createKey({ label: 'conf-delete-me', type: 'rsa-2048' });
      await ctx.km.sign({ key: key.label, data: Buffer.from('before') });
      await ctx.km.deleteKey(key.label);
      await rejects(ctx.km.getKey(key.label), 'HSM_ERR_KEY_NOT_FOUND');
      await rejects(ctx.km.sign({ key: key.label, data: Buffer.from('after') }), 'HSM_ERR_KEY_NOT_FOUND');
      assert.ok(!(await ctx.km.listKeys()).some((k) => k.id === key.id));
    },
  },
  {
    id: 'error-mapping',
    title: 'errors carry stable codes: duplicate label, unknown key, wrong algorithm, bad URI, wrong PIN',
    async run(ctx) {
      const key = await keyOf(ctx, 'rsa-2048');
      await rejects(ctx.km.createKey({ label: key.label, type: 'rsa-2048' }), 'HSM_ERR_KEY_EXISTS');
      await rejects(ctx.km.sign({ key: 'conf-missing', data: Buffer.from('x') }), 'HSM_ERR_KEY_NOT_FOUND');
      await rejects(
        ctx.km.sign({
          key: key.label,
          data: Buffer.from('x'),
          algorithm: { scheme: 'ecdsa', hash: 'sha256' },
        }),
        'HSM_ERR_INVALID_INPUT',
      );
      await rejects(ctx.km.getKey('pkcs11:object=%ZZ'), 'HSM_ERR_INVALID_URI');
      // One wrong PIN, once: the module's own refusal (CKR_PIN_INCORRECT) must come back as HSM_ERR_AUTH.
      const wrong = ctx.module.userPin.length >= 8 ? `${ctx.module.userPin.slice(0, -1)}x` : 'wrong-pin';
      await rejects(ctx.open({ pin: wrong }), 'HSM_ERR_AUTH');
    },
  },
  {
    id: 'non-exportable-default-policy',
    title: 'default policy: a non-exportable key is created only where the token was seen to enforce it',
    async run(ctx) {
      const km = await ctx.open({ defaultPolicy: true });
      const [report] = await km.capabilities();
      const prop = report!.securityProperties.find((p) => p.id === 'extractable-false-enforced');
      assert.ok(prop, 'the capability report checks CKA_EXTRACTABLE enforcement');
      const key = await km.createKey({ label: 'conf-policy', type: 'rsa-2048' });
      assert.equal(prop.status, 'holds', 'created a non-exportable key on a token that does not enforce it');
      await km.deleteKey(key.label);
    },
  },
  {
    id: 'wrap-unwrap',
    title: 'AES key wrap with padding round trip (probe: wrap, unwrap, the unwrapped key signs)',
    async run(ctx) {
      const [report] = await ctx.km.capabilities();
      const wrap = report!.wrap;
      if (wrap.status === 'not-offered') throw new HsmError('HSM_ERR_MECHANISM_UNSUPPORTED', wrap.detail);
      assert.equal(wrap.status, 'works', wrap.detail);
    },
  },
  {
    id: 'restart-persistence',
    title: 'close and re-open the key manager (new member host): the key is still there and signs',
    async run(ctx) {
      const key = await keyOf(ctx, 'rsa-2048');
      const hostsBefore = ctx.km.member.hostPids;
      await ctx.reopen();
      assert.notDeepEqual(ctx.km.member.hostPids, hostsBefore, 'a new member host serves the token');
      assert.equal((await ctx.km.getKey(key.label)).id, key.id);
      await signVerify(ctx, 'rsa-2048', { scheme: 'rsa-pkcs1', hash: 'sha256' });
    },
  },
];

/** Case ids. */
export type CaseId =
  | `keygen-${'rsa-2048' | 'rsa-4096' | 'ec-p256' | 'ec-p384' | 'ec-p521' | 'ed25519'}`
  | 'attributes'
  | 'sign-rsa-pkcs1-sha256'
  | 'sign-rsa-pkcs1-sha512-1mib'
  | 'sign-rsa-pss-sha256'
  | 'sign-ecdsa-p256-sha256'
  | 'sign-ecdsa-p384-sha384'
  | 'sign-ecdsa-p521-sha512'
  | 'sign-ed25519'
  | 'find'
  | 'delete'
  | 'error-mapping'
  | 'non-exportable-default-policy'
  | 'wrap-unwrap'
  | 'restart-persistence';

/** A PIN as the member wants it. */
export function pinSecret(pin: string): Secret {
  return new Secret(pin, 'test');
}
