import type { FastifyInstance } from 'fastify';
import { HsmError } from '../../errors/index.js';
import type { AppDeps } from '../service-deps.js';

/** `/healthz` (the process answers) and `/readyz` (a member can serve and the store is reachable). */
export function registerHealthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get(
    '/healthz',
    {
      schema: { summary: 'Liveness' },
      config: { responses: { 200: { description: 'The process is alive' } } },
    },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      schema: { summary: 'Readiness: at least one HSM member up or degraded, and the store reachable' },
      config: { responses: { 200: { description: 'Ready, with each member’s state' } } },
    },
    async () => {
      const members = deps.api?.runtime.memberStates() ?? {};
      const serving = Object.values(members).some((s) => s === 'up' || s === 'degraded');
      const ready =
        (deps.ready ? await deps.ready().catch(() => false) : true) && (deps.api === undefined || serving);
      if (!ready) {
        throw new HsmError(
          'HSM_ERR_UNAVAILABLE',
          'not ready: no HSM member can serve, or the store is unreachable',
          {
            details: { members },
          },
        );
      }
      return { status: 'ready', members };
    },
  );
}
