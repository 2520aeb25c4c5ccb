import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Pkcs11BackupKekMember } from '../../adapters/pkcs11/backup-kek-member.js';
import { Pkcs11KeyManager } from '../../adapters/pkcs11/pkcs11-key-manager.js';
import { initToken } from '../../adapters/pkcs11/token-init.js';
import {
  BACKUP_KEK_LABEL,
  createBackup,
  createBackupKek,
  type DrillResult,
  importBackupKek,
  type KekBundle,
  parseBackup,
  restoreBackup,
  runDrill,
  serializeBackup,
  verifyBackup,
} from '../../backup/index.js';
import { keyFingerprint } from '../../ceremony/approval.js';
import { openShare, type ShareDecrypter } from '../../ceremony/share-envelope.js';
import { readPinFile } from '../../config/load.js';
import type { HsmkitConfig, MemberConfig } from '../../config/schema.js';
import { Secret } from '../../config/secret.js';
import { HsmError } from '../../errors/index.js';
import { loadCliConfig, withContext } from '../context.js';
import { memberOptions } from '../member-options.js';
import { emit, type GlobalOptions } from '../output.js';
import * as remoteBackup from '../remote/backup.js';
import { collect } from '../repeatable.js';
import { registerBackupStorage } from './backup-storage.js';
import { registerBackupTransfer } from './backup-transfer.js';

/**
 * `hsmkit backup kek create|import`, `backup create|verify|restore|drill`: encrypted backups under
 * an M-of-N backup KEK (docs/operations/backup-and-recovery.md). Every operation is audited.
 */
export function registerBackup(program: Command, globals: () => GlobalOptions): void {
  const backup = program.command('backup').description('encrypted key backup, restore and recovery drills');
  registerBackupStorage(backup, globals);
  registerBackupTransfer(backup, globals);
  const kek = backup.command('kek').description('the backup KEK (AES-256 in the HSM, recoverable M-of-N)');

  kek
    .command('create')
    .description('generate the backup KEK in a member and split its wrapping secret to custodians')
    .requiredOption(
      '--custodian <name=public.pem>',
      'custodian and their public key; repeat N times',
      collect,
      [],
    )
    .requiredOption('--threshold <m>', 'shares needed to recover (M)')
    .requiredOption('--out <file>', 'KEK bundle (wrapped KEK + encrypted shares)')
    .requiredOption('--so-pin-file <file>', "the member's SO PIN file (mode 0600)")
    .option('--member <name>', 'member to generate the KEK in (default: the first)')
    .option('--label <label>', 'KEK label', BACKUP_KEK_LABEL)
    .option('--ceremony-id <id>', 'ceremony id bound into the shares', `backup-kek-${Date.now()}`)
    .action(
      async (o: {
        custodian: string[];
        threshold: string;
        out: string;
        soPinFile: string;
        member?: string;
        label: string;
        ceremonyId: string;
      }) => {
        const config = loadCliConfig(globals());
        const m = pickMember(config, o.member);
        const recipients = o.custodian.map((pair) => {
          const [name, file] = splitPair(pair, '--custodian');
          return { custodian: name, publicKeyPem: readFileSync(file, 'utf8') };
        });
        const bundle = await withContext(globals(), (ctx) =>
          ctx.governance.governor.run(
            {
              operation: 'key.create',
              params: {
                label: o.label,
                type: 'aes-256',
                purpose: 'backup KEK',
                member: m.name,
                threshold: o.threshold,
              },
            },
            async () => {
              const so = await Pkcs11BackupKekMember.open({
                ...memberOptions(config, m),
                pin: readPinFile(o.soPinFile),
              });
              const km = await Pkcs11KeyManager.open(memberOptions(config, m));
              try {
                return await createBackupKek({
                  source: so,
                  random: (n) => km.generateRandom(n),
                  threshold: Number(o.threshold),
                  recipients,
                  ceremonyId: o.ceremonyId,
                  label: o.label,
                });
              } finally {
                await so.close();
                await km.close();
              }
            },
          ),
        );
        writeFileSync(o.out, `${JSON.stringify(bundle, null, 1)}\n`, { flag: 'wx', mode: 0o600 });
        emit(
          globals(),
          {
            label: bundle.label,
            member: m.name,
            threshold: bundle.shares.threshold,
            total: bundle.shares.total,
          },
          () =>
            `Backup KEK "${bundle.label}" created on ${m.name}; ${bundle.shares.threshold} of ${bundle.shares.total} shares in ${o.out}.`,
        );
      },
    );

  kek
    .command('import <bundle>')
    .description('establish the backup KEK in a member from M custodian shares')
    .requiredOption('--to <member>', 'target member')
    .requiredOption('--so-pin-file <file>', "the target's SO PIN file (mode 0600)")
    .requiredOption(
      '--share-key <file>',
      "a custodian's private key (PEM) opening their share; repeat M times",
      collect,
      [],
    )
    .action(async (file: string, o: { to: string; soPinFile: string; shareKey: string[] }) => {
      const config = loadCliConfig(globals());
      const m = pickMember(config, o.to);
      const bundle = JSON.parse(readFileSync(file, 'utf8')) as KekBundle;
      await withContext(globals(), (ctx) =>
        ctx.governance.governor.run(
          {
            operation: 'key.import',
            params: { label: bundle.label, member: m.name, shares: o.shareKey.length },
          },
          () => importKek(config, m, bundle, o.soPinFile, o.shareKey),
        ),
      );
      emit(
        globals(),
        { label: bundle.label, member: m.name },
        () => `Backup KEK "${bundle.label}" established on ${m.name}.`,
      );
    });

  backup
    .command('create')
    .description('wrap keys under the backup KEK into a signed backup file')
    .requiredOption('--keys <selector>', '`all`, `prefix*`, or label,label,…')
    .requiredOption('--out <file>', 'backup file (must not exist)')
    .option('--member <name>', 'member holding the keys (default: the first)')
    .option('--kek-label <label>', 'backup KEK label', BACKUP_KEK_LABEL)
    .action(async (o: { keys: string; out: string; member?: string; kekLabel: string }) => {
      if (globals().server) return remoteBackup.createBackup(globals(), o);
      const config = loadCliConfig(globals());
      const m = pickMember(config, o.member);
      const r = await withContext(globals(), (ctx) =>
        ctx.governance.governor.run(
          {
            operation: 'key.export',
            params: { selector: o.keys, kek: o.kekLabel, member: m.name, out: o.out },
            // The policy's export rule decides: the KEK must be one of its trusted wrapping keys.
            export: { wrappingKey: o.kekLabel, approvals: 0 },
          },
          async () => {
            const km = await Pkcs11KeyManager.open(memberOptions(config, m));
            try {
              return await createBackup({ source: km, selector: o.keys, kekLabel: o.kekLabel });
            } finally {
              await km.close();
            }
          },
        ),
      );
      writeFileSync(o.out, serializeBackup(r.file), { flag: 'wx', mode: 0o600 });
      emit(
        globals(),
        {
          file: o.out,
          backedUp: r.backedUp,
          notBackedUp: r.notBackedUp,
          signerFingerprint: r.file.manifest.signer.fingerprint,
        },
        () =>
          [
            `${r.backedUp.length} keys backed up to ${o.out} (signer ${r.file.manifest.signer.fingerprint}).`,
            ...r.notBackedUp.map((n) => `  ${n.label}: ${n.reason}`),
          ].join('\n'),
      );
    });

  backup
    .command('verify <file>')
    .description('check a backup file (signature, every entry) without custodians or an HSM')
    .option('--signer <fingerprint>', 'expected SHA-256 fingerprint of the signing key')
    .action(async (file: string, o: { signer?: string }) => {
      if (globals().server) return remoteBackup.verifyBackup(globals(), file, o);
      const report = verifyBackup(
        parseBackup(readFileSync(file, 'utf8')),
        o.signer === undefined ? {} : { expectedSigner: o.signer },
      );
      if (!report.ok) {
        throw new HsmError(
          'HSM_ERR_BACKUP_INVALID',
          `backup verification failed: ${report.problems.map((p) => `${p.where}: ${p.problem}`).join('; ')}`,
          { details: { problems: report.problems } },
        );
      }
      emit(globals(), report, () => `OK: ${report.entries} entries, signer ${report.signerFingerprint}.`);
    });

  backup
    .command('restore <file>')
    .description('restore a verified backup into a member holding the KEK (all or nothing)')
    .requiredOption('--to <member>', 'target member')
    .option('--seal', 'make the restored keys non-extractable for good')
    .option('--signer <fingerprint>', 'expected SHA-256 fingerprint of the signing key')
    .action(async (file: string, o: { to: string; seal?: boolean; signer?: string }) => {
      const config = loadCliConfig(globals());
      const m = pickMember(config, o.to);
      const parsed = parseBackup(readFileSync(file, 'utf8'));
      const r = await withContext(globals(), (ctx) =>
        ctx.governance.governor.run(
          { operation: 'key.import', params: { file, member: m.name, entries: parsed.entries.length } },
          async () => {
            const km = await Pkcs11KeyManager.open(memberOptions(config, m));
            try {
              return await restoreBackup({
                file: parsed,
                target: km,
                seal: o.seal === true,
                ...(o.signer === undefined ? {} : { expectedSigner: o.signer }),
              });
            } finally {
              await km.close();
            }
          },
        ),
      );
      emit(
        globals(),
        r,
        () => `${r.restored.length} keys restored into ${r.target}, each proven by a signature.`,
      );
    });

  backup
    .command('drill <file>')
    .description(
      'restore into a scratch SoftHSM token, sign with every key, measure against the RTO, destroy it',
    )
    .requiredOption('--kek <bundle>', 'KEK bundle')
    .requiredOption('--share-key <file>', "a custodian's private key (PEM); repeat M times", collect, [])
    .requiredOption('--rto-ms <ms>', 'recovery time objective in milliseconds')
    .option('--module <path>', 'SoftHSM module for the scratch token', '/usr/lib/softhsm/libsofthsm2.so')
    .action(async (file: string, o: { kek: string; shareKey: string[]; rtoMs: string; module: string }) => {
      const parsed = parseBackup(readFileSync(file, 'utf8'));
      const bundle = JSON.parse(readFileSync(o.kek, 'utf8')) as KekBundle;
      const rtoMs = Number(o.rtoMs);
      if (!Number.isFinite(rtoMs) || rtoMs <= 0)
        throw new HsmError('HSM_ERR_INVALID_INPUT', '--rto-ms must be > 0');
      let dir: string | undefined;
      const r: DrillResult = await withContext(globals(), (ctx) =>
        ctx.governance.governor.run({ operation: 'key.import', params: { drill: file, rtoMs } }, () =>
          runDrill({
            file: parsed,
            rtoMs,
            prepare: async () => {
              dir = mkdtempSync(join(tmpdir(), 'hsmkit-drill-'));
              mkdirSync(join(dir, 'tokens'));
              const conf = join(dir, 'softhsm2.conf');
              writeFileSync(
                conf,
                `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\n`,
              );
              const label = `drill-${randomBytes(4).toString('hex')}`;
              const soPin = randomBytes(16).toString('hex');
              const userPin = randomBytes(16).toString('hex');
              const env = { SOFTHSM2_CONF: conf };
              initToken({ module: o.module, label, soPin, userPin, env });
              const base = { name: label, module: o.module, tokenLabel: label, env };
              const so = await Pkcs11BackupKekMember.open({ ...base, pin: new Secret(soPin, 'drill') });
              try {
                await importBackupKek({ bundle, target: so, decrypters: decrypters(o.shareKey) });
              } finally {
                await so.close();
              }
              return {
                km: await Pkcs11KeyManager.open({ ...base, pin: new Secret(userPin, 'drill') }),
                name: label,
              };
            },
            destroy: async () => {
              if (dir) rmSync(dir, { recursive: true, force: true });
            },
          }),
        ),
      );
      emit(globals(), r, () =>
        [
          `Drill ${r.ok ? 'passed' : 'FAILED'}: ${r.verified}/${r.restored} keys restored and verified in ${r.measuredMs} ms (RTO ${r.rtoMs} ms${r.withinRto ? '' : ', exceeded'}).`,
          ...(r.error ? [`  ${r.error.code}: ${r.error.message}`] : []),
        ].join('\n'),
      );
      if (!r.ok) {
        throw new HsmError(
          'HSM_ERR_POLICY',
          r.error
            ? `recovery drill failed: ${r.error.message}`
            : `recovery drill took ${r.measuredMs} ms, over the RTO of ${r.rtoMs} ms`,
          { details: { measuredMs: r.measuredMs, rtoMs: r.rtoMs } },
        );
      }
    });
}

async function importKek(
  config: HsmkitConfig,
  m: MemberConfig,
  bundle: KekBundle,
  soPinFile: string,
  shareKeys: string[],
): Promise<void> {
  const so = await Pkcs11BackupKekMember.open({ ...memberOptions(config, m), pin: readPinFile(soPinFile) });
  try {
    await importBackupKek({ bundle, target: so, decrypters: decrypters(shareKeys) });
  } finally {
    await so.close();
  }
}

/** Software custodian keys (PEM files): until the adapter has C_Decrypt, custodians open shares off-token. */
function decrypters(files: string[]): ShareDecrypter[] {
  return files.map((f) => {
    const priv = createPrivateKey(readFileSync(f));
    const spki = createPublicKey(priv).export({ type: 'spki', format: 'der' });
    return { fingerprint: keyFingerprint(spki), decrypt: async (env, aad) => openShare(priv, env, aad) };
  });
}

function pickMember(config: HsmkitConfig, name: string | undefined): MemberConfig {
  const m = name === undefined ? config.members[0] : config.members.find((x) => x.name === name);
  if (!m)
    throw new HsmError('HSM_ERR_CONFIG', `no member "${(name ?? '').slice(0, 64)}" in the configuration`);
  return m;
}

function splitPair(pair: string, flag: string): [string, string] {
  const eq = pair.indexOf('=');
  if (eq <= 0)
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${flag} takes name=file, got "${pair.slice(0, 64)}"`);
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}
