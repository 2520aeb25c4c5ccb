/**
 * Backup and recovery on real SoftHSM tokens: 20 keys backed up under a 3-of-5 KEK, the token
 * destroyed, restored with 3 shares into a new token and proven by signatures against the old
 * public keys; 2 shares import nothing; a flipped byte fails verify and restore; token backup
 * round trip; recovery drill against an RTO.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Pkcs11BackupKekMember } from '../../../src/adapters/pkcs11/backup-kek-member.js';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import {
  BACKUP_KEK_LABEL,
  type BackupFile,
  copyKeysBetweenTokens,
  createBackup,
  createBackupKek,
  importBackupKek,
  type KekBundle,
  parseBackup,
  recoverWithShares,
  restoreBackup,
  runDrill,
  serializeBackup,
  verifyBackup,
} from '../../../src/backup/index.js';
import { keyFingerprint } from '../../../src/ceremony/approval.js';
import { openShare, type ShareDecrypter } from '../../../src/ceremony/share-envelope.js';
import { Secret } from '../../../src/config/secret.js';
import { HsmError } from '../../../src/errors/index.js';
import type { KeyType } from '../../../src/kms/key-spec.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';
import { listObjects } from '../../support/tools.js';

const TRUSTED = { extractable: true, wrapWithTrusted: true };

interface Custodian {
  name: string;
  publicKeyPem: string;
  privateKey: KeyObject;
}

const custodians: Custodian[] = ['alice', 'bob', 'carol', 'dave', 'erin'].map((name) => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { name, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, privateKey };
});

/** A custodian opening their share (software keys here; on their own token in production). */
function decrypter(c: Custodian): ShareDecrypter {
  const spki = createPublicKey(c.publicKeyPem).export({ type: 'spki', format: 'der' });
  return {
    fingerprint: keyFingerprint(spki),
    decrypt: async (env, aad) => openShare(c.privateKey, env, aad),
  };
}

const so = (t: SoftHsmToken, name: string) =>
  Pkcs11BackupKekMember.open({ ...t.member(), name, pin: new Secret(t.soPin, 'test') });
const open = (t: SoftHsmToken, name: string) => Pkcs11KeyManager.open({ ...t.member(), name });

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HsmError, String(err));
    return err.code;
  }
  return 'no error';
}

/** A copy of the file's text with one byte of entry `index`'s wrapped blob changed. */
function flipByteInEntry(text: string, file: BackupFile, index: number): string {
  const blob = file.entries.find((e) => e.index === index)!.wrapped.blob;
  const at = text.indexOf(blob) + 40;
  const c = text[at]!;
  return text.slice(0, at) + (c === '0' ? '1' : '0') + text.slice(at + 1);
}

describe('backup and recovery (SoftHSM)', { timeout: 600_000 }, () => {
  const tokens: SoftHsmToken[] = [];
  let kek: KekBundle;
  let fileText: string;
  let file: BackupFile;
  const publicKeys = new Map<string, string>();
  const ids = new Map<string, string>();

  before(async () => {
    const a = createSoftHsmToken('source');
    tokens.push(a);
    const soA = await so(a, 'source');
    const km = await open(a, 'source');
    try {
      kek = await createBackupKek({
        source: soA,
        random: (n) => km.generateRandom(n),
        threshold: 3,
        recipients: custodians.map((c) => ({ custodian: c.name, publicKeyPem: c.publicKeyPem })),
        ceremonyId: 'backup-kek-test',
      });
      await soA.close();
      const types: KeyType[] = [
        ...Array<KeyType>(6).fill('rsa-2048'),
        ...Array<KeyType>(2).fill('rsa-3072'),
        ...Array<KeyType>(4).fill('ec-p256'),
        ...Array<KeyType>(3).fill('ec-p384'),
        ...Array<KeyType>(3).fill('ec-p521'),
        ...Array<KeyType>(2).fill('ed25519'),
      ];
      assert.equal(types.length, 20);
      for (const [i, type] of types.entries()) {
        const k = await km.createKey({
          label: `app-${String(i).padStart(2, '0')}-${type}`,
          type,
          protection: TRUSTED,
        });
        publicKeys.set(k.label, k.publicKeyPem);
        ids.set(k.label, k.id);
      }
      // A key made non-extractable: reported, never silently skipped.
      await km.createKey({ label: 'app-zz-sealed', type: 'ec-p256' });
      const r = await createBackup({ source: km, selector: 'app-*' });
      file = r.file;
      fileText = serializeBackup(r.file);
    } finally {
      await km.close();
    }
  });

  after(() => {
    for (const t of tokens) t.cleanup();
  });

  it('backs up the 18 wrappable keys and reports Ed25519 and the non-extractable key as not wrappable', () => {
    assert.equal(file.entries.length, 18);
    const skipped = new Map(file.manifest.notBackedUp.map((n) => [n.label, n.reason]));
    assert.equal(skipped.size, 3);
    for (const label of ['app-18-ed25519', 'app-19-ed25519']) {
      assert.match(skipped.get(label) ?? '', /not backed up: not wrappable: SoftHSM cannot wrap ed25519/);
    }
    assert.match(
      skipped.get('app-zz-sealed') ?? '',
      /not backed up: not wrappable \(CKA_EXTRACTABLE is false/,
    );
    const report = verifyBackup(parseBackup(fileText));
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.entries, 18);
    // The file holds no private key material in the clear: only wrapped blobs and public keys.
    assert.doesNotMatch(fileText, /PRIVATE KEY/);
  });

  it('a flipped byte fails verify, names the entry, and restore imports nothing', async () => {
    const tampered = parseBackup(flipByteInEntry(fileText, file, 5));
    const report = verifyBackup(tampered);
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.problems.map((p) => p.index),
      [5],
    );
    assert.match(report.problems[0]!.where, /entry 5 "app-04-rsa-2048"/);
    // A new token with the KEK: the tampered file is refused before anything is imported.
    const t = createSoftHsmToken('tamper');
    tokens.push(t);
    const s = await so(t, 'tamper');
    const km = await open(t, 'tamper');
    try {
      await importBackupKek({ bundle: kek, target: s, decrypters: custodians.slice(0, 3).map(decrypter) });
      let err: unknown;
      await restoreBackup({ file: tampered, target: km }).catch((e) => {
        err = e;
      });
      assert.ok(HsmError.is(err, 'HSM_ERR_BACKUP_INVALID'));
      assert.match((err as Error).message, /entry 5 "app-04-rsa-2048"/);
      assert.equal(listObjects(t, 'privkey').length, 0);
      // A manifest byte changed: the signature fails.
      const m = parseBackup(fileText.replace('"app-07-rsa-3072"', '"app-07-rsa-3O72"'));
      assert.equal(verifyBackup(m).ok, false);
    } finally {
      await s.close();
      await km.close();
    }
  });

  it('destroys the token, fails with 2 shares (nothing imported), restores with 3 shares', async () => {
    tokens[0]!.cleanup(); // the source token is gone
    const t = createSoftHsmToken('recovered');
    tokens.push(t);
    const s = await so(t, 'recovered');
    const km = await open(t, 'recovered');
    try {
      const two = custodians.slice(1, 3).map(decrypter);
      assert.equal(
        await codeOf(recoverWithShares({ file, kek, decrypters: two, so: s, target: km })),
        'HSM_ERR_SHARE_INVALID',
      );
      assert.equal(listObjects(t).length, 0, 'nothing imported with 2 shares');
      const three = [custodians[4]!, custodians[0]!, custodians[2]!].map(decrypter);
      const r = await recoverWithShares({ file, kek, decrypters: three, so: s, target: km, seal: true });
      assert.equal(r.restored.length, 18);
      assert.ok(r.restored.every((k) => k.verified));
      // Independent check: every restored key signs for the old public key (node:crypto).
      for (const k of r.restored) {
        const data = Buffer.from(`proof ${k.label}`);
        const sig = await km.sign({ key: k.label, data });
        const pub = createPublicKey(publicKeys.get(k.label)!);
        const ok = verify(
          'sha256',
          data,
          k.type.startsWith('ec') ? { key: pub, dsaEncoding: 'der' } : pub,
          sig,
        );
        assert.ok(ok, k.label);
      }
      // Attributes read with pkcs11-tool: same label and CKA_ID, sensitive, not extractable.
      const privs = listObjects(t, 'privkey');
      assert.equal(privs.length, 18);
      for (const o of privs) {
        assert.equal(o.id, ids.get(o.label!), o.label);
        assert.ok(o.access.includes('sensitive'), `${o.label}: ${o.access.join(',')}`);
        assert.ok(!o.access.includes('extractable'), `${o.label}: ${o.access.join(',')}`);
      }
      const kekObj = listObjects(t, 'secrkey').filter((o) => o.label === BACKUP_KEK_LABEL);
      assert.equal(kekObj.length, 1);
      assert.ok(!kekObj[0]!.access.includes('extractable'));
    } finally {
      await s.close();
      await km.close();
    }
  });

  it('token backup round trip: keys copied to a backup token and restored from it', async () => {
    const src = createSoftHsmToken('tsrc');
    const bak = createSoftHsmToken('tbak');
    const dst = createSoftHsmToken('tdst');
    tokens.push(src, bak, dst);
    const three = custodians.slice(0, 3).map(decrypter);
    for (const t of [src, bak, dst]) {
      const s = await so(t, t.label);
      try {
        await importBackupKek({ bundle: kek, target: s, decrypters: three });
      } finally {
        await s.close();
      }
    }
    const [kSrc, kBak, kDst] = await Promise.all([open(src, 'tsrc'), open(bak, 'tbak'), open(dst, 'tdst')]);
    try {
      const made = [
        await kSrc.createKey({ label: 'tk-rsa', type: 'rsa-2048', protection: TRUSTED }),
        await kSrc.createKey({ label: 'tk-ec', type: 'ec-p384', protection: TRUSTED }),
      ];
      const out = await copyKeysBetweenTokens({ from: kSrc, to: kBak, selector: 'tk-*' });
      assert.equal(out.copied.length, 2);
      // The backup token carries the keys away; the way back goes to a third token.
      const back = await copyKeysBetweenTokens({ from: kBak, to: kDst, selector: 'tk-*' });
      assert.deepEqual(
        back.copied.map((c) => [c.label, c.id, c.created]).sort(),
        made.map((m) => [m.label, m.id, true]).sort(),
      );
      for (const m of made) {
        assert.deepEqual(
          Buffer.from(await kDst.getPublicKey(m.label)),
          Buffer.from(await kSrc.getPublicKey(m.label)),
        );
      }
      for (const o of listObjects(dst, 'privkey')) assert.ok(o.access.includes('sensitive'));
    } finally {
      await Promise.all([kSrc.close(), kBak.close(), kDst.close()]);
    }
  });

  it('drill: restores into a scratch token, proves every key, destroys it; RTO 1 ms is missed', async () => {
    const drill = (rtoMs: number) => {
      let scratch: SoftHsmToken | undefined;
      return runDrill({
        file,
        rtoMs,
        prepare: async () => {
          scratch = createSoftHsmToken(`scratch-${rtoMs}`);
          const s = await so(scratch, 'scratch');
          try {
            await importBackupKek({ bundle: kek, target: s, decrypters: custodians.slice(2).map(decrypter) });
          } finally {
            await s.close();
          }
          return { km: await open(scratch, 'scratch'), name: scratch.label };
        },
        destroy: async () => scratch?.cleanup(),
      }).then((r) => ({ r, scratch: scratch! }));
    };
    const missed = await drill(1);
    assert.equal(missed.r.ok, false);
    assert.equal(missed.r.withinRto, false);
    assert.equal(missed.r.verified, 18);
    assert.ok(missed.r.measuredMs > 1);
    const met = await drill(600_000);
    assert.equal(met.r.ok, true, JSON.stringify(met.r));
    assert.equal(met.r.verified, 18);
    assert.equal(existsSync(met.scratch.dir), false, 'the scratch token is destroyed');
  });
});
