import type { MemberOptions } from '../adapters/pkcs11/member.js';
import { readPinFile } from '../config/load.js';
import type { HsmkitConfig, MemberConfig } from '../config/schema.js';
import { HsmError } from '../errors/index.js';

/** Member-host options for one configured member; the PIN comes from the config or its pin_file. */
export function memberOptions(
  config: HsmkitConfig,
  member: MemberConfig,
  extra: Partial<MemberOptions> = {},
): MemberOptions {
  if (!member.module) {
    throw new HsmError(
      'HSM_ERR_CONFIG',
      `hsm_configuration.connection.module: member "${member.name}" has no PKCS#11 module path`,
    );
  }
  const pin = member.pin ?? (member.pinFile ? readPinFile(member.pinFile) : undefined);
  const perf = config.performance;
  return {
    name: member.name,
    module: member.module,
    userType: member.userType,
    env: member.env,
    hostProcesses: member.hostProcesses,
    poolSize: perf.connectionPoolSize,
    operationTimeoutMs: perf.operationTimeoutMs,
    keygenTimeoutMs: perf.keygenTimeoutMs,
    batchSize: perf.batchSize,
    asyncOperations: perf.asyncOperations,
    ...(member.slot !== undefined ? { slot: member.slot } : {}),
    ...(member.tokenLabel !== undefined ? { tokenLabel: member.tokenLabel } : {}),
    ...(pin !== undefined ? { pin } : {}),
    ...(member.initArgs !== undefined ? { initArgs: member.initArgs } : {}),
    ...(member.symbols !== undefined ? { symbols: member.symbols } : {}),
    ...extra,
  };
}
