import type { FastifyRequest } from 'fastify';
import { HsmError } from '../errors/index.js';
import type { GovernedKeyManager } from '../governance/governed-key-manager.js';
import { meteredKeyManager } from './metered-key-manager.js';
import type { ServiceRuntime } from './service-deps.js';
import type { ServiceMetrics } from './service-metrics.js';

/** Gives each request a key manager governed as its actor (and metered when metrics are on). */
export function requestKeyManager(
  runtime: ServiceRuntime,
  metrics: ServiceMetrics | undefined,
): (req: FastifyRequest) => GovernedKeyManager {
  const seen = new Map<string, { member: string; key_type: string }>();
  const wrap = metrics
    ? (inner: Parameters<typeof meteredKeyManager>[0]) => meteredKeyManager(inner, metrics, seen)
    : undefined;
  return (req) => {
    if (!req.principal) throw new HsmError('HSM_ERR_INTERNAL', 'route reached without authentication');
    return runtime.governFor(req.principal.actor, req.id, wrap);
  };
}
