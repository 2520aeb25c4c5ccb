/**
 * A real backup for the storage, schedule and maintenance tests: a SoftHSM token with a 2-of-3
 * backup KEK (custodian keys in files), two keys backed up into a signed file, and an hsmkit
 * config naming the token as member `m0`. Everything lives in one temp directory.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Pkcs11BackupKekMember } from '../../../src/adapters/pkcs11/backup-kek-member.js';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { createBackup, createBackupKek, serializeBackup } from '../../../src/backup/index.js';
import { Secret } from '../../../src/config/secret.js';
import { type CliResult, runCli } from '../../support/cli.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';

/** What {@link makeBackupFixture} made. */
export interface BackupFixture {
  dir: string;
  token: SoftHsmToken;
  /** hsmkit.yaml naming the token as member m0 and a SQLite store in `dir`. */
  config: string;
  /** The backup file (2 entries). */
  backup: string;
  /** The KEK bundle (2 of 3). */
  kek: string;
  /** Two custodians' private keys, enough to recover. */
  shareKeys: string[];
  cleanup(): void;
}

/** Builds the fixture; `extraConfig` is merged into the YAML at top level. */
export async function makeBackupFixture(
  prefix: string,
  extraConfig: (dir: string) => Record<string, unknown> = () => ({}),
  memberExtra: Record<string, unknown> = {},
): Promise<BackupFixture> {
  const dir = mkdtempSync(join(tmpdir(), `hsmkit-${prefix}-`));
  const token = createSoftHsmToken(`${prefix}-src`);
  const recipients = ['alice', 'bob', 'carol'].map((name) => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, `${name}.key.pem`), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
    return { custodian: name, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
  });
  const so = await Pkcs11BackupKekMember.open({
    ...token.member(),
    name: 'm0',
    pin: new Secret(token.soPin, 'test'),
  });
  const km = await Pkcs11KeyManager.open({ ...token.member(), name: 'm0' });
  const backup = join(dir, 'keys.backup.json');
  const kek = join(dir, 'kek.json');
  try {
    const bundle = await createBackupKek({
      source: so,
      random: (n) => km.generateRandom(n),
      threshold: 2,
      recipients,
      ceremonyId: `${prefix}-kek`,
    });
    writeFileSync(kek, JSON.stringify(bundle), { mode: 0o600 });
    for (const [label, type] of [
      ['svc-ec', 'ec-p256'],
      ['svc-rsa', 'rsa-2048'],
    ] as const) {
      await km.createKey({ label, type, protection: { extractable: true, wrapWithTrusted: true } });
    }
    const r = await createBackup({ source: km, selector: 'svc-*' });
    writeFileSync(backup, serializeBackup(r.file), { mode: 0o600 });
  } finally {
    await so.close();
    await km.close();
  }
  writeFileSync(join(dir, 'user-pin-0'), token.userPin, { mode: 0o600 });
  writeFileSync(join(dir, 'so-pin-0'), token.soPin, { mode: 0o600 });
  const config = join(dir, 'hsmkit.yaml');
  writeFileSync(
    config,
    stringify({
      hsm_configuration: {
        provider: 'softhsm2',
        connection: {
          type: 'local',
          module: SOFTHSM_MODULE,
          members: [
            { name: 'm0', token_label: token.label, pin_file: 'user-pin-0', env: token.env, ...memberExtra },
          ],
        },
      },
      store: { driver: 'sqlite', path: join(dir, 'hsmkit.db') },
      ...extraConfig(dir),
    }),
  );
  return {
    dir,
    token,
    config,
    backup,
    kek,
    shareKeys: [join(dir, 'alice.key.pem'), join(dir, 'carol.key.pem')],
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      token.cleanup();
    },
  };
}

/** Runs the CLI from source with `env` added to this process's environment; never throws on a non-zero exit. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { env });
}
