import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { emit, type GlobalOptions, table } from '../output.js';
import { remoteClient, requireServer } from '../remote/remote-context.js';

/** `hsmkit server health|openapi`: the running service's health and API document (needs --server). */
export function registerServer(program: Command, globals: () => GlobalOptions): void {
  const server = program
    .command('server')
    .description('the running service (--server): health, OpenAPI document');

  server
    .command('health')
    .description(
      'liveness (/healthz) and readiness (/readyz, each member’s state); exits non-zero when not ready',
    )
    .action(async () => {
      const g = globals();
      requireServer(g, 'server health');
      const client = remoteClient(g);
      const live = await client.get<{ status: string }>('/healthz');
      let ready: { status: string; members?: Record<string, string> };
      try {
        ready = await client.get('/readyz');
      } catch (err) {
        // Not ready is an answer, not a failure to ask: print it, then exit with its code.
        if (!HsmError.is(err, 'HSM_ERR_UNAVAILABLE')) throw err;
        const members = (err.details?.members ?? {}) as Record<string, string>;
        emit(g, { live: live.status, ready: 'not ready', members }, () =>
          table([['live', live.status], ['ready', 'no'], ...Object.entries(members)]),
        );
        throw err;
      }
      emit(g, { live: live.status, ready: ready.status, members: ready.members ?? {} }, () =>
        table([['live', live.status], ['ready', ready.status], ...Object.entries(ready.members ?? {})]),
      );
    });

  server
    .command('openapi')
    .description('print the service’s OpenAPI document (JSON)')
    .action(async () => {
      const g = globals();
      requireServer(g, 'server openapi');
      const doc = await remoteClient(g).get('/openapi.json');
      process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    });
}
