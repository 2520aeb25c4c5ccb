/**
 * A network HSM stand-in: `p11-kit server` (foreground, our child) exporting a SoftHSM token over
 * a unix socket; members load p11-kit-client.so with P11_KIT_SERVER_ADDRESS. stop() kills only
 * that server, by pid.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret } from '../../../src/config/secret.js';
import { createSoftHsmToken, SOFTHSM_MODULE } from '../softhsm.js';
import type { LocalModule } from './local-module.js';
import { stopPid, waitUntil } from './processes.js';

/** p11-kit's RPC client module. */
export const P11KIT_CLIENT_MODULE = '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so';

/** Starts a p11-kit server over a fresh SoftHSM token labelled `label`. */
export async function startP11Kit(label = 'conf-p11kit'): Promise<LocalModule> {
  const tok = createSoftHsmToken(label);
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-p11kit-'));
  const socket = join(dir, 'server.sock');
  const server = spawn(
    'p11-kit',
    ['server', '--foreground', '--provider', SOFTHSM_MODULE, '-n', socket, `pkcs11:token=${label}`],
    { env: { ...process.env, ...tok.env }, stdio: 'ignore', detached: true },
  );
  server.unref();
  const pid = server.pid;
  const stop = async () => {
    await stopPid(pid);
    rmSync(dir, { recursive: true, force: true });
    tok.cleanup();
  };
  try {
    await waitUntil(() => existsSync(socket), 10_000, 'p11-kit server socket');
  } catch (err) {
    await stop();
    throw err;
  }
  const env = { P11_KIT_SERVER_ADDRESS: `unix:path=${socket}` };
  return {
    vendor: 'p11-kit-remote',
    title: 'p11-kit 0.24.1 client → p11-kit server → SoftHSM 2.6.1',
    module: P11KIT_CLIENT_MODULE,
    tokenLabel: label,
    userPin: tok.userPin,
    env,
    member: (extra = {}) => ({
      name: 'p11-kit-remote',
      provider: 'p11-kit-remote',
      module: P11KIT_CLIENT_MODULE,
      tokenLabel: label,
      pin: new Secret(tok.userPin, 'test'),
      env,
      ...extra,
    }),
    stop,
  };
}
