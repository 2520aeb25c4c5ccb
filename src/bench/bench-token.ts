import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MemberOptions } from '../adapters/pkcs11/member.js';
import { Secret } from '../config/secret.js';

/** Path of the SoftHSM2 module on Debian. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** A SoftHSM token the benchmark made for itself, with random PINs, in its own directory. */
export interface BenchToken {
  dir: string;
  conf: string;
  label: string;
  /** The user PIN; handed to hsmkit as a Secret and to the C baseline in its environment only. */
  userPin: string;
  soPin: string;
  env: Record<string, string>;
  member(extra?: Partial<MemberOptions>): MemberOptions;
  cleanup(): void;
}

/** Creates a token directory and initialises one token in it with `softhsm2-util`. */
export function createBenchToken(label: string): BenchToken {
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-bench-token-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  const userPin = randomBytes(8).toString('hex');
  const soPin = randomBytes(8).toString('hex');
  const env = { SOFTHSM2_CONF: conf };
  // The PINs are on this command line for the moment of the call: a throwaway token of this run.
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
      pin: new Secret(userPin, 'bench'),
      env,
      ...extra,
    }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
