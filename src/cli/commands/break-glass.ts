import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import type { GlobalOptions } from '../output.js';
import { required } from '../output.js';
import { approveBreakGlass, listBreakGlass, requestBreakGlass } from '../remote/break-glass.js';
import { requireServer } from '../remote/remote-context.js';

/**
 * `hsmkit break-glass request|approve|list --server URL`: the service's emergency role, enabled by
 * M-of-N approval of other humans, time-limited, audited and alerted (docs/service.md).
 */
export function registerBreakGlass(program: Command, globals: () => GlobalOptions): void {
  const bg = program
    .command('break-glass')
    .description('emergency role on the service (--server): request, approve (M-of-N), list');

  bg.command('request')
    .description('ask for the break-glass role for a limited time')
    .option('--reason <text>', 'why (recorded in the audit log and the alert)')
    .option('--duration <minutes>', 'how long the role lasts once approved (1-1440)', '60')
    .action(async (o: { reason?: string; duration: string }) => {
      requireServer(globals(), 'break-glass request');
      const minutes = Number(o.duration);
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440)
        throw new HsmError('HSM_ERR_INVALID_INPUT', '--duration takes minutes (1 to 1440)');
      await requestBreakGlass(globals(), required(o.reason, '--reason'), minutes);
    });

  bg.command('approve')
    .argument('<id>', 'request id')
    .description('approve another identity’s break-glass request')
    .action(async (id: string) => {
      requireServer(globals(), 'break-glass approve');
      await approveBreakGlass(globals(), id);
    });

  bg.command('list')
    .description('break-glass requests, newest first, with their status now')
    .action(async () => {
      requireServer(globals(), 'break-glass list');
      await listBreakGlass(globals());
    });
}
