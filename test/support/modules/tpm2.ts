/**
 * tpm2-pkcs11 1.9 over a software TPM: swtpm (TCP on two free loopback ports), a private D-Bus
 * session bus, and tpm2-abrmd on that bus, all in one temp dir. stop() kills exactly those three
 * processes by pid.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '../../../src/config/secret.js';
import { testPin } from '../test-pins.js';
import type { LocalModule } from './local-module.js';
import { freePortPair, runTool, stopPid, waitUntil } from './processes.js';

/** Debian's tpm2-pkcs11 module. */
export const TPM2_MODULE = '/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so';

function tryTool(program: string, args: string[], env: Record<string, string>): boolean {
  try {
    runTool(program, args, env, { timeoutMs: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Starts swtpm + D-Bus + tpm2-abrmd and initialises a token labelled `label`. */
export async function startTpm2(label = 'conf-tpm2'): Promise<LocalModule> {
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-tpm2-'));
  mkdirSync(join(dir, 'state'));
  mkdirSync(join(dir, 'store'));
  const pids: Array<number | undefined> = [];
  const stop = async () => {
    for (const pid of pids.reverse()) await stopPid(pid);
    pids.length = 0;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The swtpm TCTI always uses port + 1 for the control channel.
    const port = await freePortPair();
    const ctrl = port + 1;
    const swtpmPid = join(dir, 'swtpm.pid');
    runTool('swtpm', [
      'socket',
      '--tpm2',
      '--tpmstate',
      `dir=${join(dir, 'state')}`,
      '--server',
      `type=tcp,port=${port},bindaddr=127.0.0.1`,
      '--ctrl',
      `type=tcp,port=${ctrl},bindaddr=127.0.0.1`,
      '--flags',
      'not-need-init,startup-clear',
      '--pid',
      `file=${swtpmPid}`,
      '--daemon',
    ]);
    pids.push(Number(readFileSync(swtpmPid, 'utf8').trim()));
    const bus = join(dir, 'dbus.sock');
    const dbusPid = runTool('dbus-daemon', [
      '--session',
      `--address=unix:path=${bus}`,
      '--fork',
      '--print-pid',
    ]);
    pids.push(Number(dbusPid.trim()));
    const busEnv = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${bus}` };
    const abrmd = spawn(
      'tpm2-abrmd',
      ['--session', '--allow-root', '--flush-all', `--tcti=swtpm:host=127.0.0.1,port=${port}`],
      {
        env: { ...process.env, ...busEnv },
        stdio: ['ignore', openSync(join(dir, 'abrmd.log'), 'a'), openSync(join(dir, 'abrmd.log'), 'a')],
        detached: true,
      },
    );
    abrmd.unref();
    pids.push(abrmd.pid);
    const tcti = ['-T', 'tabrmd:bus_type=session'];
    await waitUntil(
      () => tryTool('tpm2_getcap', [...tcti, 'properties-fixed'], busEnv),
      15_000,
      'tpm2-abrmd',
    );
    // swtpm's default lockout (3 failures → 1000 s) would make the wrong-PIN case lock the TPM.
    runTool(
      'tpm2_dictionarylockout',
      [...tcti, '--setup-parameters', '--max-tries=1000', '--recovery-time=1', '--lockout-recovery-time=1'],
      busEnv,
    );
    const env = {
      ...busEnv,
      TPM2_PKCS11_TCTI: 'tabrmd:bus_type=session',
      TPM2_PKCS11_STORE: join(dir, 'store'),
      TPM2_PKCS11_LOG_LEVEL: '0',
    };
    const soPin = testPin();
    const userPin = testPin();
    const tool = ['--module', TPM2_MODULE];
    runTool(
      'pkcs11-tool',
      [...tool, '--slot-index', '0', '--init-token', '--label', label, '--so-pin', soPin],
      env,
    );
    runTool(
      'pkcs11-tool',
      [
        ...tool,
        '--token-label',
        label,
        '--login',
        '--login-type',
        'so',
        '--so-pin',
        soPin,
        '--init-pin',
        '--new-pin',
        userPin,
      ],
      env,
    );
    return {
      vendor: 'tpm2',
      title: 'tpm2-pkcs11 1.9 / tpm2-abrmd 3.0 / swtpm 0.7.1',
      module: TPM2_MODULE,
      tokenLabel: label,
      userPin,
      env,
      member: (extra = {}) => ({
        name: 'tpm2',
        provider: 'tpm2',
        module: TPM2_MODULE,
        tokenLabel: label,
        pin: new Secret(userPin, 'test'),
        env,
        ...extra,
      }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
