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
  member(extra?: Partial<MemberOptions>): MemberOptions & {
    name: string;
    module: string;
    tokenLabel: string;
    pin: Secret;
    env: Record<string, string>;
  };
  cleanup(): void;
}

/** How a throwaway token is made: its PINs, folder prefix and the Secret source name. */
export interface ThrowawayTokenOptions {
  /** Draws a PIN; default 16 random hex digits. */
  pin?: () => string;
  /** Folder name prefix under the temp dir; default `hsmkit-bench-token-`. */
  dirPrefix?: string;
  /** Where the PIN Secret says it came from; default `bench`. */
  source?: string;
}

/**
 * Creates a token directory and initialises one token in it with `softhsm2-util` (the benchmark's
 * tokens, and the test fixture's with its own PIN scheme).
 */
export function createBenchToken(label: string, o: ThrowawayTokenOptions = {}): BenchToken {
  const pin = o.pin ?? (() => randomBytes(8).toString('hex'));
  const dir = mkdtempSync(join(tmpdir(), o.dirPrefix ?? 'hsmkit-bench-token-'));
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(
    conf,
    `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  const userPin = pin();
  const soPin = pin();
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
      pin: new Secret(userPin, o.source ?? 'bench'),
      env,
      ...extra,
    }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
