/**
 * Error paths of the PKCS#11 key manager on a real SoftHSM2 token: every failure is a typed
 * HsmError with a stable code, nothing is left behind on the token, a wrong PIN is tried once,
 * and the key manager keeps working afterwards. Token state is checked with pkcs11-tool.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { Secret } from '../../../src/config/secret.js';
import type { ErrorCode } from '../../../src/errors/codes.js';
import { HsmError } from '../../../src/errors/index.js';
import type { KeyInfo } from '../../../src/kms/key-info.js';
import type { KeyType } from '../../../src/kms/key-spec.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { listObjects, openssl, pkcs11Tool } from '../../support/tools.js';

let tok: SoftHsmToken;
let km: Pkcs11KeyManager;
let dir: string;
let ec: KeyInfo;
let rsa: KeyInfo;
let startPids: number[];
let fileNo = 0;

before(async () => {
  tok = createSoftHsmToken();
  dir = mkdtempSync(join(tmpdir(), 'hsmkit-errors-'));
  km = await Pkcs11KeyManager.open(tok.member({ keygenTimeoutMs: 120_000 }));
  startPids = [...km.member.hostPids];
  ec = await km.createKey({ label: 'err-ec', type: 'ec-p256' });
  rsa = await km.createKey({ label: 'err-rsa', type: 'rsa-2048' });
});

after(async () => {
  await km?.close();
  tok?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Awaits `p`, expects it to reject with an HsmError carrying `code`, and returns the error. */
async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<HsmError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${code}, but the call succeeded`);
  assert.ok(caught instanceof HsmError, `expected an HsmError, got ${inspect(caught).slice(0, 300)}`);
  assert.equal(caught.code, code);
  return caught;
}

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, `${fileNo++}-${name}`);
  writeFileSync(p, bytes);
  return p;
}

/** Verifies an ECDSA-SHA256 / RSA PKCS#1 SHA-256 (DER) signature with openssl dgst; returns the exit status. */
function opensslVerify(publicKeyPem: string, msg: Uint8Array, sig: Uint8Array): number | null {
  return openssl([
    'dgst',
    '-sha256',
    '-verify',
    file('pub.pem', publicKeyPem),
    '-signature',
    file('sig', sig),
    file('msg', msg),
  ]).status;
}

/** The objects (any class) pkcs11-tool shows with this label. */
function objectsLabelled(label: string) {
  return listObjects(tok).filter((o) => o.label === label);
}

/** `%XX%YY…` for a hex CKA_ID. */
function pctId(hex: string): string {
  return hex.replace(/../g, (b) => `%${b.toUpperCase()}`);
}

describe('duplicate label', () => {
  it('is refused with HSM_ERR_KEY_EXISTS and the token keeps exactly one key with the label', async () => {
    const first = await km.createKey({ label: 'dup-label', type: 'ec-p256' });
    await expectCode(km.createKey({ label: 'dup-label', type: 'ec-p256' }), 'HSM_ERR_KEY_EXISTS');
    await expectCode(km.createKey({ label: 'dup-label', type: 'ed25519' }), 'HSM_ERR_KEY_EXISTS');
    const listed = (await km.listKeys()).filter((k) => k.label === 'dup-label');
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.id, first.id);
    const onToken = objectsLabelled('dup-label');
    assert.equal(onToken.filter((o) => o.kind === 'private').length, 1);
    assert.equal(onToken.filter((o) => o.kind === 'public').length, 1);
    assert.ok(onToken.every((o) => o.id === first.id));
  });

  it('two concurrent generations with one label: one key, the other call HSM_ERR_KEY_EXISTS', async () => {
    const results = await Promise.allSettled([
      km.createKey({ label: 'dup-race', type: 'ec-p256' }),
      km.createKey({ label: 'dup-race', type: 'ec-p256' }),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const bad = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(ok.length, 1);
    assert.equal(bad.length, 1);
    assert.ok(bad[0]!.reason instanceof HsmError);
    assert.equal(bad[0]!.reason.code, 'HSM_ERR_KEY_EXISTS');
    assert.equal(objectsLabelled('dup-race').filter((o) => o.kind === 'private').length, 1);
  });
});

describe('post-quantum key types SoftHSM does not offer', () => {
  for (const type of ['ml-dsa-44', 'ml-dsa-65', 'ml-dsa-87', 'ml-kem-768'] as const satisfies KeyType[]) {
    it(`${type}: HSM_ERR_MECHANISM_UNSUPPORTED and no object with the label on the token`, async () => {
      const label = `pq-${type}`;
      await expectCode(km.createKey({ label, type }), 'HSM_ERR_MECHANISM_UNSUPPORTED');
      assert.deepEqual(objectsLabelled(label), [], 'pkcs11-tool shows an object with the label');
      const out = pkcs11Tool(tok, ['--list-objects']);
      assert.equal(out.status, 0);
      assert.ok(!out.stdout.includes(label), 'pkcs11-tool --list-objects mentions the label');
      assert.deepEqual(await km.listKeys({ labelPrefix: label }), []);
    });
  }
});

describe('wrong PIN', () => {
  /** OpenSC's PKCS#11 spy module, as the opensc-pkcs11 package installs it. */
  function spyModule(): string {
    let listed: string[] = [];
    try {
      listed = execFileSync('dpkg', ['-L', 'opensc-pkcs11'], { encoding: 'utf8' }).split('\n');
    } catch {
      // Fall back to the usual Debian paths below.
    }
    const candidates = [
      ...listed.filter((p) => p.endsWith('/pkcs11-spy.so')),
      '/usr/lib/x86_64-linux-gnu/pkcs11-spy.so',
      '/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so',
    ];
    const found = candidates.find((p) => existsSync(p));
    assert.ok(found, 'pkcs11-spy.so (opensc-pkcs11) is installed');
    return found;
  }

  it('rejects with HSM_ERR_AUTH after exactly one C_Login, and the error does not carry a PIN', async () => {
    let wrongPin = randomBytes(8).toString('hex');
    while (wrongPin === tok.userPin) wrongPin = randomBytes(8).toString('hex');
    const log = join(tok.dir, `spy-${randomBytes(4).toString('hex')}.log`);
    let logins = -1;
    let initialises = -1;
    let err: HsmError | undefined;
    try {
      err = await expectCode(
        Pkcs11KeyManager.open({
          ...tok.member(),
          name: 'wrong-pin',
          module: spyModule(),
          pin: new Secret(wrongPin, 'test'),
          env: { ...tok.env, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: log },
        }),
        'HSM_ERR_AUTH',
      );
      // Give a (wrong) background retry time to show up in the log before counting.
      await new Promise((r) => setTimeout(r, 1500));
      // The spy log holds the PIN in clear: count, then delete it at once; never print it.
      const text = readFileSync(log, 'utf8');
      logins = (text.match(/^\d+: C_Login\s*$/gm) ?? []).length;
      initialises = (text.match(/^\d+: C_Initialize\s*$/gm) ?? []).length;
    } finally {
      rmSync(log, { force: true });
    }
    assert.ok(!existsSync(log));
    assert.ok(initialises >= 1, 'the spy module logged nothing: it was not in the call path');
    assert.equal(logins, 1, 'C_Login was not called exactly once');
    assert.ok(err);
    for (const pin of [wrongPin, tok.userPin, tok.soPin]) {
      const shown = [
        err.message,
        JSON.stringify(err),
        JSON.stringify(err.toJSON()),
        String(err),
        inspect(err),
      ];
      assert.ok(!shown.some((s) => s.includes(pin)), 'the error shows a PIN');
      assert.ok(!(err.stack ?? '').includes(pin), 'the error stack shows a PIN');
    }
  });

  it('the token is not locked: the right PIN still works', async () => {
    const other = await Pkcs11KeyManager.open(tok.member({ name: 'right-pin' }));
    try {
      const sig = await other.sign({ key: ec.label, data: Buffer.from('after a wrong PIN') });
      assert.equal(opensslVerify(ec.publicKeyPem, Buffer.from('after a wrong PIN'), sig), 0);
    } finally {
      await other.close();
    }
  });
});

describe('bad input is a typed HsmError', () => {
  const data = Buffer.from('bad input');

  it('a malformed URI as key ref: HSM_ERR_INVALID_URI', async () => {
    await expectCode(km.sign({ key: 'pkcs11:object=%ZZ', data }), 'HSM_ERR_INVALID_URI');
    await expectCode(km.getKey('pkcs11:object=%ZZ'), 'HSM_ERR_INVALID_URI');
    await expectCode(km.getPublicKey('pkcs11:object=%ZZ'), 'HSM_ERR_INVALID_URI');
    await expectCode(km.deleteKey('pkcs11:object=%ZZ'), 'HSM_ERR_INVALID_URI');
    await expectCode(km.sign({ key: 'pkcs11:tokne=x;object=err-ec', data }), 'HSM_ERR_INVALID_URI');
  });

  it('an unknown RSA size: HSM_ERR_KEY_SIZE; an unknown key type: HSM_ERR_INVALID_INPUT', async () => {
    await expectCode(km.createKey({ label: 'bad-type-1', type: 'rsa-1000' as never }), 'HSM_ERR_KEY_SIZE');
    await expectCode(
      km.createKey({ label: 'bad-type-2', type: 'dsa-1024' as never }),
      'HSM_ERR_INVALID_INPUT',
    );
    assert.deepEqual(await km.listKeys({ labelPrefix: 'bad-type' }), []);
  });

  it('a label of 200 ASCII characters: HSM_ERR_INVALID_INPUT', async () => {
    const long = 'a'.repeat(200);
    await expectCode(km.createKey({ label: long, type: 'ec-p256' }), 'HSM_ERR_INVALID_INPUT');
    await expectCode(km.sign({ key: long, data }), 'HSM_ERR_INVALID_INPUT');
    assert.deepEqual(objectsLabelled(long), []);
  });

  it('a label that was not UTF-8 (U+FFFD) or holds a lone surrogate: HSM_ERR_INVALID_INPUT', async () => {
    const replaced = Buffer.from([0xff, 0xfe]).toString('utf8');
    assert.ok(replaced.includes('\uFFFD'));
    for (const label of [replaced, '\uD800', `ok${'\uD800'}`, '\uDC00x']) {
      await expectCode(km.createKey({ label, type: 'ec-p256' }), 'HSM_ERR_INVALID_INPUT');
      await expectCode(km.sign({ key: label, data }), 'HSM_ERR_INVALID_INPUT');
    }
  });

  it('an empty message to sign: HSM_ERR_INVALID_INPUT', async () => {
    await expectCode(km.sign({ key: ec.label, data: new Uint8Array(0) }), 'HSM_ERR_INVALID_INPUT');
    await expectCode(km.sign({ key: rsa.label, data: Buffer.alloc(0) }), 'HSM_ERR_INVALID_INPUT');
  });

  it('neither or both of data and digest: HSM_ERR_INVALID_INPUT', async () => {
    await expectCode(km.sign({ key: ec.label }), 'HSM_ERR_INVALID_INPUT');
    await expectCode(km.sign({ key: ec.label, data, digest: Buffer.alloc(32) }), 'HSM_ERR_INVALID_INPUT');
  });

  it('a digest of the wrong length: HSM_ERR_INVALID_INPUT', async () => {
    await expectCode(km.sign({ key: ec.label, digest: Buffer.alloc(31) }), 'HSM_ERR_INVALID_INPUT');
    await expectCode(
      km.sign({ key: ec.label, digest: Buffer.alloc(32), algorithm: { scheme: 'ecdsa', hash: 'sha384' } }),
      'HSM_ERR_INVALID_INPUT',
    );
    await expectCode(km.sign({ key: rsa.label, digest: Buffer.alloc(33) }), 'HSM_ERR_INVALID_INPUT');
    await expectCode(
      km.sign({ key: rsa.label, digest: Buffer.alloc(48), algorithm: { scheme: 'rsa-pss', hash: 'sha512' } }),
      'HSM_ERR_INVALID_INPUT',
    );
  });

  it('a hash scheme that does not fit the key: HSM_ERR_INVALID_INPUT', async () => {
    await expectCode(
      km.sign({ key: ec.label, data, algorithm: { scheme: 'rsa-pss', hash: 'sha256' } }),
      'HSM_ERR_INVALID_INPUT',
    );
    await expectCode(
      km.sign({ key: ec.label, data, algorithm: { scheme: 'rsa-pkcs1', hash: 'sha256' } }),
      'HSM_ERR_INVALID_INPUT',
    );
    await expectCode(
      km.sign({ key: rsa.label, data, algorithm: { scheme: 'ecdsa', hash: 'sha256' } }),
      'HSM_ERR_INVALID_INPUT',
    );
  });

  it('{ scheme: eddsa } for an EC key: HSM_ERR_INVALID_INPUT', async () => {
    await expectCode(
      km.sign({ key: ec.label, data, algorithm: { scheme: 'eddsa' } }),
      'HSM_ERR_INVALID_INPUT',
    );
  });

  it('{ scheme: eddsa } for an RSA key: HSM_ERR_INVALID_INPUT', async () => {
    await expectCode(
      km.sign({ key: rsa.label, data, algorithm: { scheme: 'eddsa' } }),
      'HSM_ERR_INVALID_INPUT',
    );
  });

  it('a key that does not exist: HSM_ERR_KEY_NOT_FOUND', async () => {
    await expectCode(km.sign({ key: 'no-such-key', data }), 'HSM_ERR_KEY_NOT_FOUND');
    await expectCode(km.getKey('no-such-key'), 'HSM_ERR_KEY_NOT_FOUND');
    await expectCode(km.getPublicKey('no-such-key'), 'HSM_ERR_KEY_NOT_FOUND');
    await expectCode(km.deleteKey('no-such-key'), 'HSM_ERR_KEY_NOT_FOUND');
    await expectCode(km.sign({ key: 'pkcs11:object=no-such-key', data }), 'HSM_ERR_KEY_NOT_FOUND');
    await expectCode(km.sign({ key: 'pkcs11:id=%DE%AD%BE%EF', data }), 'HSM_ERR_KEY_NOT_FOUND');
    // The label of one key with the id of another names nothing.
    await expectCode(
      km.sign({ key: `pkcs11:object=${ec.label};id=${pctId(rsa.id)}`, data }),
      'HSM_ERR_KEY_NOT_FOUND',
    );
  });

  it('a URI naming another token: HSM_ERR_KEY_NOT_FOUND', async () => {
    const other = `${tok.label}x`;
    await expectCode(
      km.sign({ key: `pkcs11:token=${other};object=${ec.label}`, data }),
      'HSM_ERR_KEY_NOT_FOUND',
    );
    await expectCode(
      km.sign({ key: ec.uri.replace(`token=${tok.label}`, `token=${other}`), data }),
      'HSM_ERR_KEY_NOT_FOUND',
    );
  });

  it('after all the bad input the same key manager still signs, on the same host processes', async () => {
    for (const key of [ec, rsa]) {
      const msg = randomBytes(100);
      const sig = await km.sign({ key: key.label, data: msg });
      assert.equal(opensslVerify(key.publicKeyPem, msg, sig), 0);
    }
    assert.deepEqual(km.member.hostPids, startPids, 'a member host was replaced (it crashed)');
    assert.equal(km.member.restarts, 0);
    assert.equal(km.member.state, 'up');
  });
});

describe('generateRandom', () => {
  it('returns the requested bytes, different each time', async () => {
    const a = await km.generateRandom(32);
    const b = await km.generateRandom(32);
    assert.equal(a.length, 32);
    assert.equal(b.length, 32);
    assert.notDeepEqual(Buffer.from(a), Buffer.from(b));
  });

  it('lengths 0 and 100000 (and other non-lengths) are HSM_ERR_INVALID_INPUT', async () => {
    for (const n of [0, 100_000, -1, 1.5, Number.NaN]) {
      await expectCode(km.generateRandom(n), 'HSM_ERR_INVALID_INPUT');
    }
  });
});

describe('deleteKey', () => {
  it('removes both halves; a later sign is HSM_ERR_KEY_NOT_FOUND', async () => {
    const key = await km.createKey({ label: 'to-delete', type: 'ec-p256' });
    await km.sign({ key: key.label, data: Buffer.from('before') });
    const before = listObjects(tok).filter((o) => o.id === key.id);
    assert.deepEqual(before.map((o) => o.kind).sort(), ['private', 'public']);
    await km.deleteKey(key.label);
    assert.deepEqual(
      listObjects(tok, 'privkey').filter((o) => o.id === key.id),
      [],
    );
    assert.deepEqual(
      listObjects(tok, 'pubkey').filter((o) => o.id === key.id),
      [],
    );
    assert.deepEqual(objectsLabelled('to-delete'), []);
    assert.deepEqual(await km.listKeys({ labelPrefix: 'to-delete' }), []);
    await expectCode(km.sign({ key: key.label, data: Buffer.from('after') }), 'HSM_ERR_KEY_NOT_FOUND');
    await expectCode(km.sign({ key: key.uri, data: Buffer.from('after') }), 'HSM_ERR_KEY_NOT_FOUND');
    await expectCode(km.deleteKey(key.label), 'HSM_ERR_KEY_NOT_FOUND');
  });

  it('a key deleted outside hsmkit after it was used: sign is HSM_ERR_KEY_NOT_FOUND', async () => {
    const key = await km.createKey({ label: 'deleted-outside', type: 'ec-p256' });
    await km.sign({ key: key.label, data: Buffer.from('cached') });
    for (const type of ['privkey', 'pubkey']) {
      assert.equal(pkcs11Tool(tok, ['--delete-object', '--type', type, '--id', key.id]).status, 0);
    }
    assert.deepEqual(objectsLabelled('deleted-outside'), []);
    await expectCode(km.sign({ key: key.label, data: Buffer.from('after') }), 'HSM_ERR_KEY_NOT_FOUND');
  });
});

describe('key references', () => {
  let ref: KeyInfo;
  before(async () => {
    ref = await km.createKey({ label: 'ref-key', type: 'ec-p256' });
  });

  for (const [name, make] of [
    ['its full URI (KeyInfo.uri)', (k: KeyInfo) => k.uri],
    ['pkcs11:object=<label>', (k: KeyInfo) => `pkcs11:object=${k.label}`],
    ['pkcs11:id=<%XX…>', (k: KeyInfo) => `pkcs11:id=${pctId(k.id)}`],
    [
      'pkcs11:object=<label>;type=private;id=<%XX…>',
      (k: KeyInfo) => `pkcs11:object=${k.label};type=private;id=${pctId(k.id)}`,
    ],
    ['its label', (k: KeyInfo) => k.label],
  ] as const) {
    it(`a key referenced by ${name} signs, and OpenSSL verifies with that key`, async () => {
      const msg = randomBytes(64);
      const sig = await km.sign({ key: make(ref), data: msg });
      assert.equal(opensslVerify(ref.publicKeyPem, msg, sig), 0);
      assert.notEqual(opensslVerify(ec.publicKeyPem, msg, sig), 0, 'signed by another key');
      assert.equal((await km.getKey(make(ref))).id, ref.id);
    });
  }

  it('two keys made outside hsmkit with one label: a label lookup is HSM_ERR_KEY_AMBIGUOUS', async () => {
    for (const id of ['01', '02']) {
      const r = pkcs11Tool(tok, [
        '--keypairgen',
        '--key-type',
        'EC:prime256v1',
        '--label',
        'dup',
        '--id',
        id,
      ]);
      assert.equal(r.status, 0, `pkcs11-tool --keypairgen --id ${id} failed: ${r.stderr}`);
    }
    const data = Buffer.from('which one?');
    await expectCode(km.sign({ key: 'dup', data }), 'HSM_ERR_KEY_AMBIGUOUS');
    await expectCode(km.sign({ key: 'pkcs11:object=dup', data }), 'HSM_ERR_KEY_AMBIGUOUS');
    await expectCode(km.getKey('dup'), 'HSM_ERR_KEY_AMBIGUOUS');
    await expectCode(km.getPublicKey('dup'), 'HSM_ERR_KEY_AMBIGUOUS');
    await expectCode(km.deleteKey('dup'), 'HSM_ERR_KEY_AMBIGUOUS');
    // Nothing was deleted, and adding the id picks one key unambiguously.
    assert.equal(objectsLabelled('dup').filter((o) => o.kind === 'private').length, 2);
    const one = await km.getKey('pkcs11:object=dup;id=%01');
    assert.equal(one.id, '01');
    const sig = await km.sign({ key: 'pkcs11:object=dup;id=%01', data });
    assert.equal(opensslVerify(one.publicKeyPem, data, sig), 0);
  });
});

describe('a label that reads as a PKCS#11 URI', () => {
  it('is refused, or else cannot take over the URI that names another key', async () => {
    const victim = await km.createKey({ label: 'uri-victim', type: 'ec-p256' });
    const uri = `pkcs11:object=${victim.label}`;
    const msg0 = randomBytes(32);
    assert.equal(opensslVerify(victim.publicKeyPem, msg0, await km.sign({ key: uri, data: msg0 })), 0);
    let impostor: KeyInfo | undefined;
    try {
      impostor = await km.createKey({ label: uri, type: 'ec-p256' });
    } catch (err) {
      assert.ok(err instanceof HsmError);
      assert.equal(err.code, 'HSM_ERR_INVALID_INPUT');
    }
    // The URI still names the victim key, in this key manager ...
    const msg = randomBytes(32);
    const sig = await km.sign({ key: uri, data: msg });
    assert.equal(opensslVerify(victim.publicKeyPem, msg, sig), 0, 'the URI now signs with another key');
    assert.equal((await km.getKey(uri)).id, victim.id, 'getKey(URI) reports another key');
    if (impostor) {
      // ... and the new key's own label, handed back as a key reference, names the new key.
      const fresh = await Pkcs11KeyManager.open(tok.member({ name: 'fresh' }));
      try {
        const sig2 = await fresh.sign({ key: impostor.label, data: msg });
        assert.equal(
          opensslVerify(impostor.publicKeyPem, msg, sig2),
          0,
          'KeyInfo.label of the new key signs with another key',
        );
      } finally {
        await fresh.close();
      }
    }
  });
});
