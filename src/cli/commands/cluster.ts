import type { Command } from 'commander';
import { Pkcs11ReplicationCeremonyMember } from '../../adapters/pkcs11/replication-ceremony.js';
import { establishReplicationKey, REPLICATION_KEY_LABEL } from '../../cluster/replication-ceremony.js';
import { readPinFile } from '../../config/load.js';
import { HsmError } from '../../errors/index.js';
import { loadCliConfig, withContext } from '../context.js';
import { maintenanceOf } from '../follow-maintenance.js';
import { memberOptions } from '../member-options.js';
import { openCluster } from '../open-cluster.js';
import { emit, type GlobalOptions, table } from '../output.js';
import { collect } from '../repeatable.js';

/** `hsmkit cluster status` and `hsmkit cluster init-replication`. */
export function registerCluster(program: Command, globals: () => GlobalOptions): void {
  const cluster = program.command('cluster').description('HSM cluster: member status, replication key');

  cluster
    .command('status')
    .description('members with their health, breaker state, latency and keys')
    .action(async () => {
      const config = loadCliConfig(globals());
      const maintenance = await maintenanceOf(config);
      const c = await openCluster(config);
      try {
        const keys = await c.listKeys();
        const members = c.members.map((m) => ({
          name: m.name,
          health: m.health,
          // Out of rotation (`hsmkit maintenance plan`): the window and why.
          maintenance: maintenance.has(m.name)
            ? {
                windowStart: maintenance.get(m.name)!.windowStart,
                windowEnd: maintenance.get(m.name)!.windowEnd,
                reason: maintenance.get(m.name)!.reason,
              }
            : undefined,
          breaker: m.breaker.state,
          latencyMs: Math.round(m.latencyMs * 100) / 100,
          site: m.site,
          keys: keys.filter((k) => k.replicas?.includes(m.name)).length,
        }));
        emit(
          globals(),
          { members, keys: keys.map((k) => ({ label: k.label, uri: k.uri, replicas: k.replicas })) },
          () =>
            members
              .map((m) =>
                table([
                  [
                    m.name,
                    `${m.health} (breaker ${m.breaker}), ${m.latencyMs} ms, ${m.keys} keys${m.site ? `, site ${m.site}` : ''}${m.maintenance ? `, MAINTENANCE until ${m.maintenance.windowEnd}` : ''}`,
                  ],
                ]),
              )
              .join('\n'),
        );
      } finally {
        await c.close();
      }
    });

  cluster
    .command('init-replication')
    .description(
      "establish the AES-256 replication key on every member, HSM to HSM (needs each member's SO PIN)",
    )
    .option(
      '--so-pin-file <member=file>',
      'SO PIN file (mode 0600) of a member; repeat for every member',
      collect,
      [],
    )
    .option('--label <label>', 'replication key label', REPLICATION_KEY_LABEL)
    .action(async (o: { soPinFile: string[]; label: string }) => {
      const config = loadCliConfig(globals());
      const files = new Map<string, string>();
      for (const pair of o.soPinFile) {
        const eq = pair.indexOf('=');
        if (eq <= 0)
          throw new HsmError(
            'HSM_ERR_INVALID_INPUT',
            `--so-pin-file takes member=file, got "${pair.slice(0, 64)}"`,
          );
        files.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
      const missing = config.members.filter((m) => !files.has(m.name)).map((m) => m.name);
      if (missing.length > 0)
        throw new HsmError(
          'HSM_ERR_INVALID_INPUT',
          `--so-pin-file is missing for member(s) ${missing.join(', ')}`,
        );
      // Under policy and audit like every key creation: one record, ok / denied / error.
      const result = await withContext(globals(), (ctx) =>
        ctx.governance.governor.run(
          {
            operation: 'key.create',
            params: {
              label: o.label,
              type: 'aes-256',
              purpose: 'cluster replication key',
              members: config.members.map((m) => m.name),
            },
          },
          async () => {
            const so: Pkcs11ReplicationCeremonyMember[] = [];
            try {
              for (const m of config.members) {
                const pin = readPinFile(files.get(m.name)!);
                so.push(await Pkcs11ReplicationCeremonyMember.open({ ...memberOptions(config, m), pin }));
              }
              return await establishReplicationKey(so, o.label);
            } finally {
              await Promise.all(so.map((m) => m.close()));
            }
          },
        ),
      );
      emit(
        globals(),
        result,
        () =>
          `Replication key "${result.label}" established on ${result.members.join(', ')} (generated on ${result.source}).`,
      );
    });
}
