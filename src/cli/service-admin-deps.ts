import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Pkcs11KeyManager } from '../adapters/pkcs11/pkcs11-key-manager.js';
import { BACKUP_KEK_LABEL } from '../backup/kek.js';
import { hsmkitPaths } from '../config/home.js';
import { createPkiDeps } from '../pki/pki-deps.js';
import { defaultPkiPolicy } from '../pki/policy.js';
import type { AdminDeps, ServiceBackups } from '../server/admin-deps.js';
import { CeremonyRepository } from '../store/ceremony-records.js';
import { openBackupStorage } from './backup-storage-url.js';
import type { CliContext } from './context.js';
import { memberOptions } from './member-options.js';

/**
 * The service's PKI, policy, audit, ceremony and backup collaborators, from an open CLI context.
 * Backups go to `backupLocations`, else the configured `backup.locations` (default: a `backups`
 * folder beside the SQLite store, created 0700; none with PostgreSQL unless configured) and are made from the first member, holding the backup KEK.
 */
export function serviceAdminDeps(ctx: CliContext, backupLocations?: readonly string[]): AdminDeps {
  const pkiPolicy = defaultPkiPolicy(ctx.config.securityPolicy);
  const store = ctx.config.store;
  const backupConfig = ctx.config.backup;
  const locations =
    backupLocations ??
    backupConfig.locations ??
    (store.driver === 'sqlite'
      ? [pathToFileURL(join(dirname(store.path ?? hsmkitPaths().database), 'backups')).href]
      : []);
  const member = ctx.config.members[0]!;
  const backups: ServiceBackups = {
    locations,
    kekLabel: BACKUP_KEK_LABEL,
    storage: (location) => {
      if (location.startsWith('file:')) mkdirSync(new URL(location), { recursive: true, mode: 0o700 });
      return openBackupStorage(
        location,
        backupConfig.s3Endpoint === undefined ? {} : { s3Endpoint: backupConfig.s3Endpoint },
      );
    },
    openSource: () => Pkcs11KeyManager.open(memberOptions(ctx.config, member)),
  };
  return {
    pki: (km) => createPkiDeps(km, ctx.store, pkiPolicy),
    policies: ctx.governance.policies,
    refreshPolicy: () => ctx.governance.refresh(),
    audit: ctx.governance.auditStore,
    auditKey: (create) => ctx.governance.auditKey(create),
    ceremonies: new CeremonyRepository(ctx.store.db),
    ...(locations.length > 0 ? { backups } : {}),
  };
}
