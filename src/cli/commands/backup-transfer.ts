import type { Command } from 'commander';
import { Pkcs11KeyManager } from '../../adapters/pkcs11/pkcs11-key-manager.js';
import { Pkcs11ReplicationCeremonyMember } from '../../adapters/pkcs11/replication-ceremony.js';
import { transferKeys } from '../../backup/transfer.js';
import { REPLICATION_KEY_LABEL } from '../../cluster/replication-ceremony.js';
import { readPinFile } from '../../config/load.js';
import type { HsmkitConfig, MemberConfig } from '../../config/schema.js';
import { HsmError } from '../../errors/index.js';
import { loadCliConfig, withContext } from '../context.js';
import { memberOptions } from '../member-options.js';
import { emit, type GlobalOptions } from '../output.js';
import { collect } from '../repeatable.js';

interface TransferOptions {
  keys: string;
  from: string;
  to: string;
  transportLabel: string;
  establish?: boolean;
  soPinFile: string[];
  seal?: boolean;
}

/**
 * `hsmkit backup transfer --keys SELECTOR --from MEMBER --to MEMBER`: HSM-to-HSM transfer under a
 * shared transport key (the replication key, or one established here with `--establish` and both
 * SO PINs). Each key is one audited `key.export` decided by the policy's export rule.
 */
export function registerBackupTransfer(backup: Command, globals: () => GlobalOptions): void {
  backup
    .command('transfer')
    .description('copy keys HSM to HSM under a shared transport key; each proven by a signature')
    .requiredOption('--keys <selector>', '`all`, `prefix*`, or label,label,…')
    .requiredOption('--from <member>', 'source member')
    .requiredOption('--to <member>', 'target member')
    .option('--transport-label <label>', 'transport (replication) key label', REPLICATION_KEY_LABEL)
    .option('--establish', 'establish the transport key first (RSA-OAEP ceremony; needs both SO PINs)')
    .option('--so-pin-file <member=file>', 'SO PIN file of a member, for --establish; repeat', collect, [])
    .option('--seal', 'make the copies non-extractable for good')
    .action(async (o: TransferOptions) => {
      const config = loadCliConfig(globals());
      const from = member(config, o.from);
      const to = member(config, o.to);
      if (from.name === to.name)
        throw new HsmError('HSM_ERR_INVALID_INPUT', '--from and --to name the same member');
      const soPins = new Map(
        o.soPinFile.map((pair) => {
          const eq = pair.indexOf('=');
          if (eq <= 0)
            throw new HsmError(
              'HSM_ERR_INVALID_INPUT',
              `--so-pin-file takes member=file, got "${pair.slice(0, 64)}"`,
            );
          return [pair.slice(0, eq), pair.slice(eq + 1)] as const;
        }),
      );
      if (o.establish && (!soPins.has(from.name) || !soPins.has(to.name)))
        throw new HsmError('HSM_ERR_INVALID_INPUT', '--establish needs --so-pin-file for both members');
      const r = await withContext(globals(), async (ctx) => {
        const source = await Pkcs11KeyManager.open(memberOptions(config, from));
        const target = await Pkcs11KeyManager.open(memberOptions(config, to)).catch(async (err) => {
          await source.close();
          throw err;
        });
        const so: Pkcs11ReplicationCeremonyMember[] = [];
        try {
          if (o.establish) {
            for (const [m, km] of [
              [from, source],
              [to, target],
            ] as const) {
              so.push(
                await Pkcs11ReplicationCeremonyMember.open(
                  { ...memberOptions(config, m), pin: readPinFile(soPins.get(m.name)!) },
                  { login: km.transferSupport().ceremonyLogin },
                ),
              );
            }
          }
          const ceremony = o.establish ? { source: so[0]!, target: so[1]! } : undefined;
          const run = () =>
            transferKeys({
              from: source,
              to: target,
              selector: o.keys,
              transportLabel: o.transportLabel,
              seal: o.seal === true,
              ...(ceremony ? { ceremony } : {}),
              govern: (k, step) =>
                ctx.governance.governor.run(
                  {
                    operation: 'key.export',
                    member: from.name,
                    keyUri: k.uri,
                    params: {
                      label: k.label,
                      id: k.id,
                      from: from.name,
                      to: to.name,
                      transportKey: o.transportLabel,
                    },
                    export: { wrappingKey: o.transportLabel, approvals: 0 },
                  },
                  step,
                ),
            });
          if (!o.establish) return await run();
          // The ceremony itself is one audited key creation, like `cluster init-replication`.
          return await ctx.governance.governor.run(
            {
              operation: 'key.create',
              params: {
                label: o.transportLabel,
                type: 'aes-256',
                purpose: 'transfer transport key',
                members: [from.name, to.name],
              },
            },
            run,
          );
        } finally {
          await Promise.all(so.map((m) => m.close()));
          await source.close();
          await target.close();
        }
      });
      emit(globals(), r, () =>
        [
          `${r.transferred.length} keys transferred ${r.from} → ${r.to} under "${r.transportKey.label}"${r.transportKey.established ? ' (established now)' : ''}, each proven by a signature.`,
          ...r.notTransferred.map((n) => `  ${n.label}: ${n.reason}`),
        ].join('\n'),
      );
    });
}

function member(config: HsmkitConfig, name: string): MemberConfig {
  const m = config.members.find((x) => x.name === name);
  if (!m) throw new HsmError('HSM_ERR_CONFIG', `no member "${name.slice(0, 64)}" in the configuration`);
  return m;
}
