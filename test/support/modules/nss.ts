/**
 * NSS softokn 3.87 on a fresh sql: database in a temp dir. The key-storage token's label is set
 * with dbTokenDescription; its PIN is the database password. Starts no process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nssInitArgs } from '../../../src/adapters/pkcs11/vendors/nss.js';
import { Secret } from '../../../src/config/secret.js';
import { testPin } from '../test-pins.js';
import type { LocalModule } from './local-module.js';
import { runTool } from './processes.js';

/** Debian's NSS softokn. */
export const NSS_MODULE = '/usr/lib/x86_64-linux-gnu/libsoftokn3.so';

/** Creates an NSS database whose key token is labelled `label`. */
export function startNss(label = 'conf-nss'): LocalModule {
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-nss-'));
  const pin = testPin();
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, `${pin}\n`, { mode: 0o600 });
  runTool('certutil', ['-N', '-d', `sql:${dir}`, '-f', pwFile]);
  rmSync(pwFile);
  const initArgs = nssInitArgs(dir, label);
  return {
    vendor: 'nss',
    title: 'NSS softokn 3.87',
    module: NSS_MODULE,
    tokenLabel: label,
    userPin: pin,
    env: {},
    initArgs,
    member: (extra = {}) => ({
      name: 'nss',
      provider: 'nss',
      module: NSS_MODULE,
      tokenLabel: label,
      pin: new Secret(pin, 'test'),
      initArgs,
      ...extra,
    }),
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}
