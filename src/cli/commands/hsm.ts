import type { Command } from 'commander';
import { withContext } from '../context.js';
import { emit, type GlobalOptions, table } from '../output.js';
import { probeOrigin, registerCapabilities } from './capabilities.js';

/** `hsmkit hsm info`: module, token, slot, environment, mechanisms, capacity. */
export function registerHsm(program: Command, globals: () => GlobalOptions): void {
  const hsm = program.command('hsm').description('HSM members: information and capabilities');
  registerCapabilities(hsm, globals);
  hsm
    .command('info')
    .description('module path, token, slot, environment, mechanisms and capacity of each member')
    .action(async () => {
      const reports = await withContext(globals(), async (ctx) => {
        const caps = await ctx.km.capabilities();
        return caps.map((c) => ({
          ...c,
          hostPids: ctx.km.member.hostPids,
          connectMs: Math.round(ctx.km.member.lastConnectMs),
          pkcs11Tool: pkcs11ToolHint(c.module.path, c.token.label, c.environment),
        }));
      });
      emit(globals(), reports, () =>
        reports
          .map((r) =>
            [
              table([
                ['member', r.member],
                ['module', r.module.path],
                [
                  'symbols',
                  `${r.module.symbols ?? 'n/a'}${r.module.symbolsNote ? ` (${r.module.symbolsNote})` : ''}`,
                ],
                [
                  'library',
                  `${r.module.manufacturer} ${r.module.description} ${r.module.libraryVersion} (Cryptoki ${r.module.cryptokiVersion})`,
                ],
                [
                  'token',
                  `${r.token.label} (${r.token.manufacturer} ${r.token.model}, serial ${r.token.serial})`,
                ],
                ['slot', r.token.slotId],
                [
                  'environment',
                  Object.entries(r.environment)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(' ') || '(none)',
                ],
                [
                  'sessions',
                  `max ${r.token.maxSessions ?? 'unlimited'}, read-write max ${r.token.maxRwSessions ?? 'unlimited'}`,
                ],
                [
                  'free memory',
                  `public ${r.token.freePublicMemory ?? 'n/a'}, private ${r.token.freePrivateMemory ?? 'n/a'}`,
                ],
                ['key types', r.keyTypes.join(', ')],
                ['mechanisms', `${r.mechanisms.length}: ${r.mechanisms.map((m) => m.name).join(' ')}`],
                ['host pids', r.hostPids.join(', ')],
                ['connect', `${r.connectMs} ms`],
                [
                  'capability probe',
                  probeOrigin((r as { probe?: { source?: string; probedAt?: string } }).probe),
                ],
              ]),
              '',
              'Reach the same token with pkcs11-tool:',
              `  ${r.pkcs11Tool}`,
            ].join('\n'),
          )
          .join('\n\n'),
      );
    });
}

/** The pkcs11-tool command line that opens the same token (PIN left for the operator to type). */
function pkcs11ToolHint(module: string, token: string, env: Record<string, string>): string {
  const prefix = Object.entries(env)
    .map(([k, v]) => `${k}=${shellQuote(v)}`)
    .join(' ');
  return `${prefix ? `${prefix} ` : ''}pkcs11-tool --module ${shellQuote(module)} --token-label ${shellQuote(token)} --login --list-objects`;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
