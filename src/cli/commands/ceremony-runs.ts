import type { Command } from 'commander';
import type { GlobalOptions } from '../output.js';
import { listCeremonies, showCeremony } from '../remote/ceremony.js';
import { requireServer } from '../remote/remote-context.js';

/**
 * `hsmkit ceremony list|show --server URL`: the service's ceremony runs and the challenges awaiting
 * custodian approval (`ceremony approve --server` answers one).
 */
export function registerCeremonyRuns(cer: Command, globals: () => GlobalOptions): void {
  cer
    .command('list')
    .description('ceremony runs on the service, newest first (--server)')
    .action(async () => {
      requireServer(globals(), 'ceremony list');
      await listCeremonies(globals());
    });
  cer
    .command('show')
    .argument('<id>', 'ceremony id')
    .description('one ceremony run and its steps awaiting approval (--server)')
    .action(async (id: string) => {
      requireServer(globals(), 'ceremony show');
      await showCeremony(globals(), id);
    });
}
