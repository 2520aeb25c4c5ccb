import type { Command } from 'commander';
import type { GlobalOptions } from '../output.js';
import * as remote from '../remote/policy.js';
import { requireServer } from '../remote/remote-context.js';

/**
 * `hsmkit policy approve VERSION --server URL`: the second identity's approval of a pending policy
 * (dual control). Locally the approval is `hsmkit policy apply FILE --approve`.
 */
export function registerPolicyApprove(policy: Command, globals: () => GlobalOptions): void {
  policy
    .command('approve')
    .argument('<version>', 'the pending version')
    .description('approve a pending policy version on the service (locally: policy apply FILE --approve)')
    .action(async (version: string) => {
      requireServer(globals(), 'policy approve');
      await remote.approve(globals(), version);
    });
}
