/**
 * A network HSM node for HA tests: `p11-kit server` (our child, foreground) exporting a SoftHSM
 * token over a unix socket. It can be killed (the network HSM dies) and started again on the same
 * socket. Only the server this fixture started (and the connection handlers it forked, in its own
 * process group) is ever killed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { SoftHsmToken } from './softhsm.js';
import { SOFTHSM_MODULE } from './softhsm.js';

/** p11-kit's RPC client module, which members load to reach the server. */
export const P11KIT_CLIENT = '/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so';

/** A restartable p11-kit server over one token. */
export class P11KitServer {
  readonly socket: string;
  private child: ChildProcess | undefined;

  constructor(private readonly token: SoftHsmToken) {
    this.socket = join(token.dir, 'p11kit.sock');
  }

  /** The member environment that reaches this server. */
  get env(): Record<string, string> {
    return { P11_KIT_SERVER_ADDRESS: `unix:path=${this.socket}` };
  }

  /** Starts the server and waits for its socket. */
  async start(): Promise<void> {
    rmSync(this.socket, { force: true });
    this.child = spawn(
      'p11-kit',
      [
        'server',
        '--foreground',
        '--provider',
        SOFTHSM_MODULE,
        '-n',
        this.socket,
        `pkcs11:token=${this.token.label}`,
      ],
      {
        env: { ...process.env, ...this.token.env },
        stdio: 'ignore',
        // Its own process group: the server forks a handler per client connection, and the whole
        // network HSM (server and handlers, all started by us) dies together.
        detached: true,
      },
    );
    const until = Date.now() + 10_000;
    while (!existsSync(this.socket)) {
      if (Date.now() > until) throw new Error('p11-kit server did not create its socket');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Kills the server with SIGKILL (the network HSM dies). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  }
}
