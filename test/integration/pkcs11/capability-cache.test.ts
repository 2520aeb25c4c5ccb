/**
 * The capability-probe cache on real SoftHSM2 tokens: a second open with the same cache directory
 * reuses the first open's probe (same capabilities), and does so without probing — proven by
 * OpenSC's pkcs11-spy, which sits between the member host and SoftHSM and logs every PKCS#11 call:
 * the probe generates throw-away key pairs, a cached open generates none. A changed fingerprint,
 * an entry older than the maximum age and a damaged file all lead to a fresh probe. No time is
 * asserted; ages are set by editing `probedAt`.
 */
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CachedProbe } from '../../../src/adapters/pkcs11/capability-cache.js';
import { FileCapabilityCache } from '../../../src/adapters/pkcs11/file-capability-cache.js';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import type { Pkcs11CapabilityReport } from '../../../src/adapters/pkcs11/vendors/token-capabilities.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';

const SPY_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/pkcs11-spy.so',
  '/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so',
];
const DAY_MS = 24 * 60 * 60 * 1000;

let tok: SoftHsmToken;
let tok2: SoftHsmToken;
let root: string;
let cacheDir: string;
let first: { report: Pkcs11CapabilityReport; generated: number };
let second: { report: Pkcs11CapabilityReport; generated: number; signatureOk: boolean };

function spyModule(): string {
  const found = SPY_CANDIDATES.find((p) => existsSync(p));
  assert.ok(found, 'pkcs11-spy.so (opensc-pkcs11) is installed');
  return found;
}

/** What a spied open saw: the capability report, and the key generations the spy logged. */
interface SpiedOpen {
  report: Pkcs11CapabilityReport;
  /** C_GenerateKeyPair + C_GenerateKey calls during open(). */
  generated: number;
  /** C_Initialize calls: proof the spy was in the call path. */
  initialised: number;
  km: Pkcs11KeyManager;
}

/**
 * Opens `token` through pkcs11-spy with a file cache in `dir` and counts the key generations of
 * open() in the spy's log. The log holds the PIN in clear: it is counted and deleted at once.
 */
async function spiedOpen(token: SoftHsmToken, dir: string, maxAgeMs?: number): Promise<SpiedOpen> {
  const log = join(root, `spy-${randomBytes(4).toString('hex')}.log`);
  let km: Pkcs11KeyManager | undefined;
  try {
    km = await Pkcs11KeyManager.open(
      {
        ...token.member(),
        module: spyModule(),
        env: { ...token.env, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: log },
      },
      {
        capabilityCache: new FileCapabilityCache(maxAgeMs === undefined ? { dir } : { dir, maxAgeMs }),
      },
    );
    const text = readFileSync(log, 'utf8');
    const generated = (text.match(/^\d+: C_GenerateKey(Pair)?\s*$/gm) ?? []).length;
    const initialised = (text.match(/^\d+: C_Initialize\s*$/gm) ?? []).length;
    const [report] = (await km.capabilities()) as Pkcs11CapabilityReport[];
    assert.ok(report);
    return { report, generated, initialised, km };
  } catch (err) {
    await km?.close();
    throw err;
  } finally {
    rmSync(log, { force: true });
  }
}

/** Opens, closes, and returns what was seen. */
async function spiedOpenClose(
  token: SoftHsmToken,
  dir: string,
  maxAgeMs?: number,
): Promise<Omit<SpiedOpen, 'km'>> {
  const o = await spiedOpen(token, dir, maxAgeMs);
  await o.km.close();
  const { km: _km, ...rest } = o;
  return rest;
}

function cacheFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json'));
}

function onlyCacheFile(dir: string): string {
  const files = cacheFiles(dir);
  assert.equal(files.length, 1, `expected one cache file, found ${files.join(', ')}`);
  return join(dir, files[0]!);
}

function readEntry(file: string): CachedProbe {
  return JSON.parse(readFileSync(file, 'utf8')) as CachedProbe;
}

/** The parts of a report the probe decides. */
function decided(r: Pkcs11CapabilityReport): unknown {
  return {
    keyTypes: r.keyTypes,
    unusableMechanisms: r.unusableMechanisms,
    refusedKeyTypes: r.refusedKeyTypes,
    securityProperties: r.securityProperties,
    wrap: r.wrap,
    probeObjects: r.probe.objects,
    notes: r.probe.notes,
    fingerprint: r.probe.fingerprint,
    probedAt: r.probe.probedAt,
  };
}

before(async () => {
  tok = createSoftHsmToken();
  tok2 = createSoftHsmToken();
  root = mkdtempSync(join(tmpdir(), 'hsmkit-capcache-'));
  // The cache directory does not exist yet: the cache creates it.
  cacheDir = join(root, 'cache', 'capabilities');

  const a = await spiedOpen(tok, cacheDir);
  try {
    assert.ok(a.initialised >= 1, 'the spy logged nothing: it was not in the call path');
    await a.km.createKey({ label: 'cc-ec', type: 'ec-p256' });
  } finally {
    await a.km.close();
  }
  first = { report: a.report, generated: a.generated };

  const b = await spiedOpen(tok, cacheDir);
  try {
    assert.ok(b.initialised >= 1, 'the spy logged nothing: it was not in the call path');
    const data = Buffer.from('capability cache');
    const sig = await b.km.sign({ key: 'cc-ec', data });
    const spki = Buffer.from(await b.km.getPublicKey('cc-ec'));
    const pub = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    const signatureOk = verify('sha256', data, pub, Buffer.from(sig));
    second = { report: b.report, generated: b.generated, signatureOk };
  } finally {
    await b.km.close();
  }
});

after(() => {
  tok?.cleanup();
  tok2?.cleanup();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('capability cache', () => {
  it('probes on the first open and reuses the probe on the second, with equal capabilities', () => {
    assert.equal(first.report.probe.source, 'probed');
    assert.equal(second.report.probe.source, 'cached');
    assert.match(first.report.probe.fingerprint ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(decided(second.report), decided(first.report));
    assert.ok(first.report.keyTypes.includes('ec-p256'));
    assert.ok(second.signatureOk, 'the signature of the cached open does not verify');
  });

  it('skips the probe on the cached open: no key is generated (pkcs11-spy)', () => {
    // SoftHSM probe: EC, RSA and EdDSA key pairs, an RSA pair and AES keys for the wrap checks.
    assert.ok(first.generated >= 3, `the probing open generated only ${first.generated} keys`);
    assert.equal(second.generated, 0, 'the cached open generated keys: it probed');
  });

  it('writes one 0600 file under a 0700 directory, named by the fingerprint, with no PIN in it', () => {
    assert.equal(statSync(cacheDir).mode & 0o777, 0o700);
    const file = onlyCacheFile(cacheDir);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const entry = readEntry(file);
    assert.equal(file, join(cacheDir, `${entry.fingerprint}.json`));
    assert.equal(entry.fingerprint, first.report.probe.fingerprint);
    assert.equal(entry.probedAt, first.report.probe.probedAt);
    const text = readFileSync(file, 'utf8');
    for (const pin of [tok.userPin, tok.soPin]) assert.ok(!text.includes(pin), 'a PIN is in the cache file');
  });

  it('another token probes and gets its own file', async () => {
    const o = await spiedOpenClose(tok2, cacheDir);
    assert.equal(o.report.probe.source, 'probed');
    assert.ok(o.generated >= 3);
    assert.notEqual(o.report.probe.fingerprint, first.report.probe.fingerprint);
    assert.equal(cacheFiles(cacheDir).length, 2);
  });

  describe('re-probes', () => {
    let dir: string;
    let file: string;
    before(async () => {
      dir = join(root, 'reprobe');
      const o = await spiedOpenClose(tok, dir);
      assert.equal(o.report.probe.source, 'probed');
      file = onlyCacheFile(dir);
    });

    it('when the stored fingerprint does not match the host (an edited file)', async () => {
      const entry = readEntry(file);
      writeFileSync(file, JSON.stringify({ ...entry, fingerprint: 'f'.repeat(64) }), { mode: 0o600 });
      const o = await spiedOpenClose(tok, dir);
      assert.equal(o.report.probe.source, 'probed');
      assert.ok(o.generated >= 3, 'no probe keys were generated');
      assert.equal(readEntry(file).fingerprint, entry.fingerprint, 'the file was not rewritten');
    });

    it('uses an entry younger than the maximum age and re-probes an older one', async () => {
      const entry = readEntry(file);
      const young = new Date(Date.now() - 6 * DAY_MS).toISOString();
      writeFileSync(file, JSON.stringify({ ...entry, probedAt: young }), { mode: 0o600 });
      const kept = await spiedOpenClose(tok, dir, 7 * DAY_MS);
      assert.equal(kept.report.probe.source, 'cached');
      assert.equal(kept.generated, 0);
      assert.equal(kept.report.probe.probedAt, young);

      const old = new Date(Date.now() - 8 * DAY_MS).toISOString();
      writeFileSync(file, JSON.stringify({ ...entry, probedAt: old }), { mode: 0o600 });
      const reprobed = await spiedOpenClose(tok, dir, 7 * DAY_MS);
      assert.equal(reprobed.report.probe.source, 'probed');
      assert.ok(reprobed.generated >= 3);
      assert.notEqual(readEntry(file).probedAt, old, 'the old entry was not replaced');
    });

    it('when the file is corrupt or of the wrong shape, without failing, and rewrites it', async () => {
      for (const damaged of [
        '{"fingerprint": "',
        JSON.stringify({ ...readEntry(file), result: { notes: 1 } }),
      ]) {
        writeFileSync(file, damaged, { mode: 0o600 });
        const o = await spiedOpenClose(tok, dir);
        assert.equal(o.report.probe.source, 'probed');
        assert.ok(o.generated >= 3);
        assert.equal(readEntry(file).fingerprint, o.report.probe.fingerprint);
      }
      const again = await spiedOpenClose(tok, dir);
      assert.equal(again.report.probe.source, 'cached');
    });
  });

  it('without a cache every open probes', async () => {
    const km = await Pkcs11KeyManager.open(tok.member());
    try {
      const [r] = (await km.capabilities()) as Pkcs11CapabilityReport[];
      assert.equal(r?.probe.source, 'probed');
    } finally {
      await km.close();
    }
  });
});
