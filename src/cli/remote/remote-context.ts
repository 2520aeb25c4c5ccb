import { HsmError } from '../../errors/index.js';
import type { GlobalOptions } from '../output.js';
import { RemoteClient } from './remote-client.js';
import { remoteTarget } from './remote-options.js';

/** The client of this CLI run, built from `--server` and the certificate options. */
export function remoteClient(opts: GlobalOptions): RemoteClient {
  return new RemoteClient(remoteTarget(opts));
}

/** Refuses a command that only talks to a service when no `--server` was given. */
export function requireServer(opts: GlobalOptions, command: string): void {
  if (!opts.server) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `"hsmkit ${command}" talks to a running service: pass --server URL (or set HSMKIT_SERVER)`,
    );
  }
}
