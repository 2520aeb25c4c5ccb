/**
 * The CLI's composition root: reads the configuration, opens the store and the key manager.
 * This (and the server, later) is the only place that chooses adapters.
 */
import { Pkcs11KeyManager } from '../adapters/pkcs11/pkcs11-key-manager.js';
import { hsmkitPaths } from '../config/home.js';
import { loadConfig, readPinFile } from '../config/load.js';
import type { HsmkitConfig, MemberConfig } from '../config/schema.js';
import { HsmError } from '../errors/index.js';
import { Store } from '../store/store.js';
import type { GlobalOptions } from './output.js';

/** What a command works with. Close it when done. */
export interface CliContext {
  config: HsmkitConfig;
  member: MemberConfig;
  km: Pkcs11KeyManager;
  store: Store;
  close(): Promise<void>;
}

/** Loads the config named by --config, else $HSMKIT_HOME/hsmkit.yaml. */
export function loadCliConfig(opts: GlobalOptions): HsmkitConfig {
  const file = opts.config ?? process.env.HSMKIT_CONFIG ?? hsmkitPaths().configFile;
  try {
    return loadConfig(file);
  } catch (err) {
    if (HsmError.is(err, 'HSM_ERR_CONFIG') && opts.config === undefined && /not found/.test(err.message)) {
      throw new HsmError(
        'HSM_ERR_CONFIG',
        `${err.message}; run "hsmkit init --dev" first, or pass --config`,
        {
          details: err.details ?? {},
        },
      );
    }
    throw err;
  }
}

/** Opens the configured member and store. */
export async function openContext(opts: GlobalOptions): Promise<CliContext> {
  const config = loadCliConfig(opts);
  const member = config.members[0];
  if (!member) throw new HsmError('HSM_ERR_CONFIG', 'hsm_configuration.connection: no member configured');
  if (config.members.length > 1) {
    // The cluster (several members) arrives with the HA work; until then the CLI uses the first.
    process.stderr.write(`hsmkit: using member "${member.name}" (the first of ${config.members.length})\n`);
  }
  if (!member.module) {
    throw new HsmError(
      'HSM_ERR_CONFIG',
      `hsm_configuration.connection.module: member "${member.name}" has no PKCS#11 module path`,
    );
  }
  const pin = member.pin ?? (member.pinFile ? readPinFile(member.pinFile) : undefined);
  if (config.store.driver !== 'sqlite') {
    throw new HsmError('HSM_ERR_CONFIG', 'store.driver: only sqlite is available in this version');
  }
  const store = await Store.openSqlite(config.store.path ?? hsmkitPaths().database);
  let km: Pkcs11KeyManager;
  try {
    const perf = config.performance;
    km = await Pkcs11KeyManager.open(
      {
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
      },
      { store: store.keys, policy: config.securityPolicy },
    );
  } catch (err) {
    await store.close();
    throw err;
  }
  return {
    config,
    member,
    km,
    store,
    close: async () => {
      await km.close();
      await store.close();
    },
  };
}

/** Runs `fn` with an open context and always closes it. */
export async function withContext<T>(opts: GlobalOptions, fn: (ctx: CliContext) => Promise<T>): Promise<T> {
  const ctx = await openContext(opts);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
