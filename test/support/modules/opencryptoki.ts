/**
 * The opencryptoki 3.8 soft token. opencryptoki uses fixed system paths (/etc/opencryptoki,
 * /var/lib/opencryptoki, /var/lock/opencryptoki) and one slot daemon (pkcsslotd) per machine,
 * so this setup:
 * - holds a machine-wide lock while the module is in use: tests on it never run concurrently;
 * - is idempotent: it writes the config only when it differs (keeping the original to restore),
 *   starts pkcsslotd only when none runs, and re-initialises the token with the fixed test SO PIN
 *   (which wipes its objects), so a second run, or a run after a crashed one, starts clean;
 * - stops pkcsslotd only if it started it, by the pid the daemon recorded.
 * The token needs root (or the pkcs11 group); the test machines run as root.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Secret } from '../../../src/config/secret.js';
import { shortTestPin } from '../test-pins.js';
import type { LocalModule } from './local-module.js';
import { alive, runTool, stopPid, waitUntil } from './processes.js';

/** Debian's opencryptoki module. */
export const OPENCRYPTOKI_MODULE = '/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so';
/** Slot the soft token is configured on. */
export const OPENCRYPTOKI_SLOT = 3;
/** SO PIN of the test token: fixed, so any later run can re-initialise it (opencryptoki's default). */
const SO_PIN = '87654321';
const CONF = '/etc/opencryptoki/opencryptoki.conf';
const CONF_BACKUP = '/etc/opencryptoki/opencryptoki.conf.hsmkit-orig';
const LOCK_DIR = '/var/lock/hsmkit-opencryptoki.lock';
const SLOTD_PID_FILES = ['/run/pkcsslotd.pid', '/var/run/pkcsslotd.pid'];
const WANTED_CONF = `version opencryptoki-3.1\nslot ${OPENCRYPTOKI_SLOT}\n{\nstdll = libpkcs11_sw.so\n}\n`;

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

function runningSlotd(): number | undefined {
  for (const f of SLOTD_PID_FILES) {
    const pid = readPid(f);
    if (pid !== undefined && alive(pid)) return pid;
  }
  return undefined;
}

/** Takes the machine-wide lock (a directory holding the owner's pid); a dead owner's lock is taken over. */
async function lock(): Promise<void> {
  await waitUntil(
    () => {
      try {
        mkdirSync(LOCK_DIR);
        writeFileSync(`${LOCK_DIR}/pid`, String(process.pid));
        return true;
      } catch {
        const owner = readPid(`${LOCK_DIR}/pid`);
        if (owner === undefined || !alive(owner)) rmSync(LOCK_DIR, { recursive: true, force: true });
        return false;
      }
    },
    120_000,
    'opencryptoki lock',
  );
}

function unlock(): void {
  if (readPid(`${LOCK_DIR}/pid`) === process.pid) rmSync(LOCK_DIR, { recursive: true, force: true });
}

/** Configures and starts opencryptoki (if needed) and initialises the soft token as `label`. */
export async function startOpencryptoki(label = 'conf-ock'): Promise<LocalModule> {
  await lock();
  let startedPid: number | undefined;
  let restoreConf = false;
  const stop = async () => {
    if (startedPid !== undefined) await stopPid(startedPid);
    startedPid = undefined;
    if (restoreConf && existsSync(CONF_BACKUP)) {
      writeFileSync(CONF, readFileSync(CONF_BACKUP));
      rmSync(CONF_BACKUP);
      restoreConf = false;
    }
    unlock();
  };
  try {
    const current = existsSync(CONF) ? readFileSync(CONF, 'utf8') : '';
    if (current !== WANTED_CONF) {
      // A daemon running on another configuration would not show our slot: only reconfigure one we start.
      if (runningSlotd() !== undefined) {
        throw new Error('pkcsslotd is running with another configuration; stop it to run these tests');
      }
      if (!existsSync(CONF_BACKUP)) writeFileSync(CONF_BACKUP, current);
      writeFileSync(CONF, WANTED_CONF);
      restoreConf = true;
    }
    for (const d of [
      '/var/lib/opencryptoki',
      '/var/lib/opencryptoki/swtok',
      '/var/lib/opencryptoki/swtok/TOK_OBJ',
      '/var/lock/opencryptoki',
      '/var/lock/opencryptoki/swtok',
    ]) {
      runTool('install', ['-d', '-o', 'root', '-g', 'pkcs11', '-m', '0770', d]);
    }
    if (runningSlotd() === undefined) {
      runTool('/usr/sbin/pkcsslotd', []);
      await waitUntil(() => runningSlotd() !== undefined, 10_000, 'pkcsslotd');
      startedPid = runningSlotd();
    }
    const userPin = shortTestPin(8); // opencryptoki allows 4–8 characters
    const tool = ['--module', OPENCRYPTOKI_MODULE, '--slot', String(OPENCRYPTOKI_SLOT)];
    // C_InitToken wipes every object, whatever an earlier (possibly crashed) run left.
    runTool('pkcs11-tool', [...tool, '--init-token', '--label', label, '--so-pin', SO_PIN]);
    runTool('pkcs11-tool', [
      ...tool,
      '--login',
      '--login-type',
      'so',
      '--so-pin',
      SO_PIN,
      '--init-pin',
      '--new-pin',
      userPin,
    ]);
    return {
      vendor: 'opencryptoki',
      title: 'opencryptoki 3.8.1 soft token',
      module: OPENCRYPTOKI_MODULE,
      tokenLabel: label,
      userPin,
      env: {},
      member: (extra = {}) => ({
        name: 'opencryptoki',
        provider: 'opencryptoki',
        module: OPENCRYPTOKI_MODULE,
        tokenLabel: label,
        pin: new Secret(userPin, 'test'),
        ...extra,
      }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
