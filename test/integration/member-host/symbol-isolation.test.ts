/**
 * `symbols: isolated`: the member host loads SoftHSM through hsmkit's shim (native/p11-isolate),
 * which dlopens it with RTLD_DEEPBIND so it binds to the system's libcrypto, not the OpenSSL the
 * Node executable exports. Checked on a real SoftHSM token: signatures verify with OpenSSL, the
 * host's memory map shows the shim (and not with `symbols: global`), a missing shim is refused when
 * isolation was asked for, and everything reports the real module path.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ISOLATE_SHIM_ENV, isolationShim } from '../../../src/adapters/pkcs11/isolating-loader.js';
import type { MemberOptions } from '../../../src/adapters/pkcs11/member.js';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { HsmError } from '../../../src/errors/index.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { openssl } from '../../support/tools.js';

let tok: SoftHsmToken;
let dir: string;
let shim: string;
const open: Pkcs11KeyManager[] = [];

async function openMember(extra: Partial<MemberOptions>): Promise<Pkcs11KeyManager> {
  const km = await Pkcs11KeyManager.open(tok.member(extra) as MemberOptions);
  open.push(km);
  return km;
}

/** Paths of the files mapped into a process (/proc/<pid>/maps, last column). */
function mappedFiles(pid: number): Set<string> {
  const lines = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n');
  return new Set(lines.map((l) => l.split(/\s+/).slice(5).join(' ')).filter((p) => p.startsWith('/')));
}

/** Runs `fn` with $HSMKIT_P11_ISOLATE_SHIM set to `value`, then restores it. */
async function withShimOverride<T>(value: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env[ISOLATE_SHIM_ENV];
  process.env[ISOLATE_SHIM_ENV] = value;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env[ISOLATE_SHIM_ENV];
    else process.env[ISOLATE_SHIM_ENV] = before;
  }
}

before(() => {
  tok = createSoftHsmToken();
  dir = mkdtempSync(join(tmpdir(), 'hsmkit-isolation-'));
  const s = isolationShim();
  assert.ok(
    'path' in s,
    `the shim must build here (gcc is a bootstrap package): ${'reason' in s ? s.reason : ''}`,
  );
  shim = s.path;
});

after(async () => {
  for (const km of open) await km.close();
  tok?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('symbols: isolated on SoftHSM', () => {
  let km: Pkcs11KeyManager;
  before(async () => {
    km = await openMember({ symbols: 'isolated' });
  });

  for (const type of ['ec-p256', 'ec-p521'] as const) {
    it(`signs ${type}; openssl dgst verifies against the exported public key; a tampered message fails`, async () => {
      const info = await km.createKey({ label: `iso-${type}`, type });
      const pub = join(dir, `${type}.pub.pem`);
      writeFileSync(pub, info.publicKeyPem);
      const msg = Buffer.from(`hsmkit isolation ${type} ${randomBytes(8).toString('hex')}`);
      const sig = await km.sign({ key: info.label, data: msg });
      const msgFile = join(dir, `${type}.msg`);
      const badFile = join(dir, `${type}.bad`);
      const sigFile = join(dir, `${type}.sig`);
      writeFileSync(msgFile, msg);
      writeFileSync(badFile, Buffer.concat([msg, Buffer.from('!')]));
      writeFileSync(sigFile, sig);
      const verify = (file: string) =>
        openssl(['dgst', '-sha256', '-verify', pub, '-signature', sigFile, file]).status;
      assert.equal(verify(msgFile), 0, 'openssl rejected a signature made through the shim');
      assert.notEqual(verify(badFile), 0, 'openssl accepted a tampered message');
    });
  }

  it('the host maps the shim, the real module and the system libcrypto', () => {
    const [pid] = km.member.hostPids;
    assert.ok(pid !== undefined && pid > 0);
    const files = mappedFiles(pid);
    assert.ok(files.has(shim), `shim ${shim} not mapped`);
    assert.ok(
      [...files].some((f) => f.endsWith('/libsofthsm2.so')),
      'libsofthsm2.so not mapped',
    );
    assert.ok(
      [...files].some((f) => /\/libcrypto\.so\.3$/.test(f)),
      'the system libcrypto.so.3 is not mapped',
    );
  });

  it('the description and capability report name the real module, not the shim', async () => {
    const [report] = await km.capabilities();
    assert.equal(report?.module.path, SOFTHSM_MODULE);
    assert.equal(report.module.symbols, 'isolated');
    assert.equal(report.module.symbolsNote, undefined);
    assert.equal(
      report.environment.HSMKIT_P11_ISOLATE_MODULE,
      undefined,
      'the shim env is not configuration',
    );
  });
});

describe('symbols: default and global', () => {
  it('the default is isolated when the shim is available', async () => {
    const km = await openMember({});
    const [report] = await km.capabilities();
    assert.equal(report?.module.symbols, 'isolated');
    assert.ok(mappedFiles(km.member.hostPids[0]!).has(shim));
  });

  it('global loads the module directly: no shim in the host, reported as global', async () => {
    const km = await openMember({ symbols: 'global' });
    const files = mappedFiles(km.member.hostPids[0]!);
    assert.ok(!files.has(shim), 'shim mapped under symbols: global');
    assert.ok([...files].some((f) => f.endsWith('/libsofthsm2.so')));
    const [report] = await km.capabilities();
    assert.equal(report?.module.path, SOFTHSM_MODULE);
    assert.equal(report.module.symbols, 'global');
    const info = await km.createKey({ label: 'global-p256', type: 'ec-p256' });
    const data = Buffer.from('global binding');
    const sig = await km.sign({ key: info.label, data });
    assert.equal(await km.verify({ key: info.label, data, signature: sig }), true);
  });
});

describe('the dynamic linker binds SoftHSM to', () => {
  /**
   * Opens a member whose host runs with LD_DEBUG=bindings (glibc's own trace of every symbol
   * binding), signs P-521 once, and returns the object SoftHSM's ECDSA_do_sign was bound to.
   */
  async function ecdsaBinding(symbols: 'isolated' | 'global'): Promise<string> {
    const out = mkdtempSync(join(dir, `ld-${symbols}-`));
    const km = await openMember({
      symbols,
      env: { ...tok.env, LD_DEBUG: 'bindings', LD_DEBUG_OUTPUT: join(out, 'bindings') },
    });
    const info = await km.createKey({ label: `ld-${symbols}`, type: 'ec-p521' });
    await km.sign({ key: info.label, data: Buffer.from('which libcrypto?') });
    const pid = km.member.hostPids[0]!;
    const trace = readFileSync(join(out, `bindings.${pid}`), 'utf8');
    const line = trace.split('\n').find((l) => /binding file \S*libsofthsm2\.so .*`ECDSA_do_sign'/.test(l));
    assert.ok(line, 'no binding of ECDSA_do_sign from libsofthsm2.so in the trace');
    return /\bto (\S+)/.exec(line.slice(line.indexOf('libsofthsm2.so')))![1]!;
  }

  it('the system libcrypto.so.3 with symbols: isolated', async () => {
    assert.match(await ecdsaBinding('isolated'), /\/libcrypto\.so\.3$/);
  });

  it("the Node executable's OpenSSL with symbols: global (what isolation prevents)", async () => {
    assert.doesNotMatch(await ecdsaBinding('global'), /libcrypto/);
  });
});

describe('symbols: without a shim', () => {
  const missing = '/nonexistent/hsmkit-p11-isolate.so';

  it('explicit isolated is HSM_ERR_CONFIG and starts no host', async () => {
    await withShimOverride(missing, async () => {
      await assert.rejects(openMember({ symbols: 'isolated' }), (err: unknown) => {
        assert.ok(HsmError.is(err, 'HSM_ERR_CONFIG'), String(err));
        assert.match(err.message, /symbols: isolated/);
        assert.match(err.message, /does not exist/);
        return true;
      });
    });
  });

  it('the default falls back to global and says so in the capability report', async () => {
    const km = await withShimOverride(missing, () => openMember({}));
    const [report] = await km.capabilities();
    assert.equal(report?.module.symbols, 'global');
    assert.match(report.module.symbolsNote ?? '', /isolated not applied/);
    assert.ok(!mappedFiles(km.member.hostPids[0]!).has(missing));
  });

  it('a module the shim cannot load is HSM_ERR_CONFIG naming the real module', async () => {
    const bogus = join(dir, 'no-such-module.so');
    await assert.rejects(openMember({ symbols: 'isolated', module: bogus }), (err: unknown) => {
      assert.ok(HsmError.is(err, 'HSM_ERR_CONFIG'), String(err));
      assert.ok(err.message.includes(bogus), err.message);
      assert.ok(!err.message.includes(shim), err.message);
      return true;
    });
  });
});
