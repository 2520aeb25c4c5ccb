/**
 * The capability cache the CLI and `hsmkit serve` give their key managers: probe results as files
 * in one directory, unless `performance.capability_cache.enabled` is false. Chosen here because
 * only composition roots choose adapters.
 */
import { dirname, join } from 'node:path';
import type { CapabilityCache } from '../adapters/pkcs11/capability-cache.js';
import { FileCapabilityCache } from '../adapters/pkcs11/file-capability-cache.js';
import { hsmkitPaths } from '../config/home.js';
import type { HsmkitConfig } from '../config/schema.js';

/**
 * The cache directory: `performance.capability_cache.dir` when set; else
 * `$HSMKIT_HOME/cache/capabilities` when HSMKIT_HOME is set; else `cache/capabilities` beside the
 * config file (the same place in the standard layout, where the config is `$HSMKIT_HOME/hsmkit.yaml`,
 * and never the user's home for a `--config` elsewhere); else `~/.hsmkit/cache/capabilities`.
 */
export function capabilityCacheDir(
  config: HsmkitConfig,
  env: Record<string, string | undefined> = process.env,
): string {
  const configured = config.performance.capabilityCache.dir;
  if (configured !== undefined) return configured;
  if ((env.HSMKIT_HOME ?? '') !== '' || config.source === undefined)
    return hsmkitPaths(env).capabilityCacheDir;
  return join(dirname(config.source), 'cache', 'capabilities');
}

/** The configured capability cache, or undefined when caching is switched off (every start probes). */
export function capabilityCacheFor(config: HsmkitConfig): CapabilityCache | undefined {
  const c = config.performance.capabilityCache;
  if (!c.enabled) return undefined;
  return new FileCapabilityCache({ dir: capabilityCacheDir(config), maxAgeMs: c.maxAgeMs });
}
