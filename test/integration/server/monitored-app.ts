/**
 * Test helper: a second app on a service fixture's context, wired as `hsmkit serve` wires it but
 * with the parts the fixture leaves out: alerting (monitoring, webhooks from the config), the TOTP
 * lock-out of the config, break-glass (when configured) with an injectable clock.
 */
import type { FastifyInstance } from 'fastify';
import { serviceRuntime } from '../../../src/cli/commands/serve.js';
import { buildApp } from '../../../src/server/app.js';
import { BreakGlass } from '../../../src/server/break-glass.js';
import { type Monitoring, startMonitoring } from '../../../src/server/monitoring.js';
import { mutualTlsOptions } from '../../../src/server/tls-options.js';
import { BreakGlassRepository } from '../../../src/store/break-glass-repository.js';
import { type Answer, type Call, call } from './https-client.js';
import type { ServiceFixture } from './service-fixture.js';

/** The running app and its alerting. */
export interface MonitoredApp {
  app: FastifyInstance;
  base: string;
  monitoring: Monitoring;
  breakGlass?: BreakGlass;
  send(c: Call): Promise<Answer>;
  close(): Promise<void>;
}

/** Starts the app on 127.0.0.1 (mutual TLS, port 0); `now` is break-glass's clock. */
export async function startMonitoredApp(f: ServiceFixture, now?: () => Date): Promise<MonitoredApp> {
  const runtime = serviceRuntime(f.ctx);
  const svc = f.ctx.config.service;
  const monitoring = startMonitoring({
    source: f.ctx.service,
    config: svc.alerting,
    metrics: f.metrics,
    db: f.ctx.store.db,
  });
  const breakGlass = svc.breakGlass
    ? new BreakGlass({
        config: svc.breakGlass,
        repository: new BreakGlassRepository(f.ctx.store.db),
        runtime,
        alerts: monitoring.alerts,
        ...(now ? { now } : {}),
      })
    : undefined;
  const app = buildApp(
    {
      ocsp: { respond: async () => new Uint8Array() },
      crl: { current: async () => undefined },
      metrics: f.metrics,
      api: {
        runtime,
        identities: svc.identities,
        totp: f.totp,
        providers: ['softhsm2'],
        rateLimit: svc.rateLimit,
        totpLockout: svc.totpLockout,
        alerts: monitoring.alerts,
        ...(breakGlass ? { breakGlass } : {}),
      },
    },
    { https: mutualTlsOptions(svc.tls!) },
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `https://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return {
    app,
    base,
    monitoring,
    ...(breakGlass ? { breakGlass } : {}),
    send: (c) => call(base, f.tls.ca, c),
    close: async () => {
      await app.close();
      await monitoring.close();
    },
  };
}
