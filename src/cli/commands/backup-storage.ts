import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { assertVerified, parseBackup, verifyBackup } from '../../backup/format.js';
import type { BackupStorage } from '../../backup/storage/backup-storage.js';
import { openBackupStorage, type S3UrlOptions } from '../backup-storage-url.js';
import { withContext } from '../context.js';
import { emit, type GlobalOptions } from '../output.js';
import { listBackups } from '../remote/backup.js';

const S3_FLAGS: Array<[string, string]> = [
  ['--s3-endpoint <url>', 'S3-compatible endpoint (default AWS); credentials come from the AWS SDK chain'],
  ['--s3-region <region>', 'S3 region (default AWS_REGION, else us-east-1)'],
  ['--s3-sse <mode>', 'server-side encryption header: AES256 or aws:kms'],
  ['--s3-kms-key-id <id>', 'KMS key for --s3-sse aws:kms'],
];

function withS3Flags(cmd: Command): Command {
  for (const [flag, help] of S3_FLAGS) cmd.option(flag, help);
  return cmd;
}

async function withStorage<T>(
  url: string,
  o: S3UrlOptions,
  fn: (s: BackupStorage) => Promise<T>,
): Promise<T> {
  const { storage, close } = openBackupStorage(url, o);
  try {
    return await fn(storage);
  } finally {
    close();
  }
}

/**
 * `hsmkit backup upload|download|list`: backup files to and from storage (`file:///dir` or
 * `s3://bucket/prefix`). Upload refuses a file that does not verify; download checks the object's
 * SHA-256 and verifies the backup before writing it (O_EXCL, 0600). Each is audited.
 */
export function registerBackupStorage(backup: Command, globals: () => GlobalOptions): void {
  withS3Flags(
    backup
      .command('upload <file>')
      .description('copy a verified backup file to storage (file:///dir or s3://bucket/prefix)')
      .requiredOption('--to <url>', 'storage location')
      .option('--name <name>', 'object name (default: the file name)'),
  ).action(async (file: string, o: S3UrlOptions & { to: string; name?: string }) => {
    const data = readFileSync(file);
    // A backup that does not verify is never uploaded: storage would only keep a broken file.
    const report = verifyBackup(parseBackup(data.toString('utf8')));
    assertVerified(report);
    const name = o.name ?? basename(file);
    const stored = await withStorage(o.to, o, (s) =>
      withContext(globals(), (ctx) =>
        ctx.governance.governor.run(
          { operation: 'backup.create', params: { upload: name, to: s.location, entries: report.entries } },
          () => s.put(name, data),
        ),
      ),
    );
    emit(globals(), stored, () => `Uploaded ${name} (${stored.size} bytes, sha256 ${stored.sha256}).`);
  });

  withS3Flags(
    backup
      .command('download <name>')
      .description('fetch a backup from storage, check its SHA-256 and signature, write it to --out')
      .requiredOption('--from <url>', 'storage location')
      .requiredOption('--out <file>', 'where to write it (must not exist; mode 0600)'),
  ).action(async (name: string, o: S3UrlOptions & { from: string; out: string }) => {
    const r = await withStorage(o.from, o, (s) =>
      withContext(globals(), (ctx) =>
        ctx.governance.governor.run(
          { operation: 'backup.verify', params: { download: name, from: s.location } },
          async () => {
            const data = await s.get(name);
            const report = verifyBackup(parseBackup(data.toString('utf8')));
            assertVerified(report);
            return { data, report };
          },
        ),
      ),
    );
    writeFileSync(o.out, r.data, { flag: 'wx', mode: 0o600 });
    emit(
      globals(),
      {
        name,
        out: o.out,
        size: r.data.length,
        entries: r.report.entries,
        signerFingerprint: r.report.signerFingerprint,
      },
      () =>
        `Downloaded ${name} to ${o.out}: ${r.report.entries} entries, signer ${r.report.signerFingerprint}.`,
    );
  });

  withS3Flags(
    backup
      .command('list')
      .description('list the backups in storage')
      .requiredOption('--from <url>', 'storage location'),
  ).action(async (o: S3UrlOptions & { from: string }) => {
    if (globals().server) return listBackups(globals(), o.from);
    const objects = await withStorage(o.from, o, (s) =>
      withContext(globals(), (ctx) =>
        ctx.governance.governor.run({ operation: 'backup.list', params: { from: s.location } }, () =>
          s.list(),
        ),
      ),
    );
    emit(globals(), { objects }, () =>
      objects.length === 0
        ? 'No backups.'
        : objects.map((b) => `${b.name}  ${b.size} bytes  ${b.modifiedAt ?? ''}`).join('\n'),
    );
  });
}
