import type { ShareDecrypter } from '../ceremony/share-envelope.js';
import { HsmError } from '../errors/index.js';
import type { BackupKeyManager } from '../kms/key-transfer.js';
import { type RestoreResult, restoreBackup } from './backup.js';
import { assertVerified, type BackupFile, verifyBackup } from './format.js';
import { importBackupKek, type KekBundle } from './kek.js';
import type { BackupKekMember } from './kek-member.js';

/**
 * The recovery path into a new token: the file is verified first (a tampered file never reaches
 * the HSM), then M custodians' shares establish the KEK in the target (SO session), then the keys
 * are restored and proven. Fewer than M shares fail before anything is imported.
 */
export async function recoverWithShares(opts: {
  file: BackupFile;
  kek: KekBundle;
  decrypters: ShareDecrypter[];
  so: BackupKekMember;
  target: BackupKeyManager;
  expectedSigner?: string;
  seal?: boolean;
}): Promise<RestoreResult> {
  const signer = opts.expectedSigner === undefined ? {} : { expectedSigner: opts.expectedSigner };
  assertVerified(verifyBackup(opts.file, signer));
  if (opts.file.manifest.kek.label !== opts.kek.label) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `the backup is under KEK "${opts.file.manifest.kek.label}", the bundle holds "${opts.kek.label}"`,
    );
  }
  await importBackupKek({ bundle: opts.kek, target: opts.so, decrypters: opts.decrypters });
  return restoreBackup({ file: opts.file, target: opts.target, ...signer, seal: opts.seal === true });
}
