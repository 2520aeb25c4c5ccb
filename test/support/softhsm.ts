/**
 * Test fixture: a fresh SoftHSM2 token in its own directory, with random PINs, as a real
 * deployment would have. Nothing is shared between tests; the directory is removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '../../src/config/secret.js';

/** Path of the SoftHSM2 module on Debian. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** A SoftHSM token made for one test. */
export interface SoftHsmToken {
  dir: string;
  conf: string;
  label: string;
  userPin: string;
  soPin: string;
  env: Record<string, string>;
  /** Member options for this token. */
  member(extra?: Record<string, unknown>): {
    name: string;
    module: string;
    tokenLabel: string;
    pin: Secret;
    env: Record<string, string>;
  };
  cleanup(): void;
}

/** Creates a SoftHSM token directory and initialises one token in it. */
export function createSoftHsmToken(label = `t-${randomBytes(4).toString('hex')}`): SoftHsmToken {
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-softhsm-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  const userPin = randomBytes(8).toString('hex');
  const soPin = randomBytes(8).toString('hex');
  const env = { SOFTHSM2_CONF: conf };
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', userPin],
    {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    },
  );
  return {
    dir,
    conf,
    label,
    userPin,
    soPin,
    env,
    member: (extra = {}) => ({
      name: `softhsm-${label}`,
      module: SOFTHSM_MODULE,
      tokenLabel: label,
      pin: new Secret(userPin, 'test'),
      env,
      ...extra,
    }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
