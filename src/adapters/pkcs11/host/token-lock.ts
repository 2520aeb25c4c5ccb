import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HsmError } from '../../../errors/index.js';

const LOCK_DIR = join(tmpdir(), 'hsmkit-locks');
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `fn` holding an exclusive lock for one token across every process on this machine (an
 * O_EXCL lock file holding the owner's pid; a lock whose owner is dead is taken over). Used around
 * "check the label is free, generate, check again": PKCS#11 has no such transaction, and two member
 * hosts racing on one label would otherwise both keep, or both undo, their keys. Hosts on other
 * machines are not covered; the post-generation check still catches them.
 * Blocking is fine here: a member host runs one synchronous PKCS#11 call at a time anyway.
 */
export function withTokenLock<T>(token: string, timeoutMs: number, fn: () => T): T {
  mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
  const path = join(LOCK_DIR, `${createHash('sha256').update(token).digest('hex').slice(0, 32)}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (ownerIsDead(path)) {
        try {
          unlinkSync(path);
        } catch {
          // Another waiter removed it first; try again.
        }
        continue;
      }
      if (Date.now() > deadline)
        throw new HsmError('HSM_ERR_TIMEOUT', 'another process holds the key-generation lock of this token');
      Atomics.wait(sleeper, 0, 0, 10);
    }
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}

function ownerIsDead(path: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
