import { closeSync, openSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { OcspResponder } from '../../pki/ocsp/ocsp-responder.js';
import { parseValidity } from '../../pki/validity.js';
import { buildApp, type ServiceRuntime } from '../../server/app.js';
import { BreakGlass } from '../../server/break-glass.js';
import { CrlPublisher } from '../../server/crl-publisher.js';
import { dashboardHandler } from '../../server/dashboard-routes.js';
import { attachMemberMetrics } from '../../server/member-metrics.js';
import { listenMetrics } from '../../server/metrics-server.js';
import { startMonitoring } from '../../server/monitoring.js';
import { ServiceMetrics } from '../../server/service-metrics.js';
import { mutualTlsOptions } from '../../server/tls-options.js';
import { enrolTotp } from '../../server/totp-enrolment.js';
import { BreakGlassRepository } from '../../store/break-glass-repository.js';
import { leadDuty } from '../../store/coordinator.js';
import { IdempotencyRepository } from '../../store/idempotency-repository.js';
import { ServiceJobRepository } from '../../store/service-job-repository.js';
import { ServiceTotpRepository } from '../../store/service-totp-repository.js';
import type { CliContext } from '../context.js';
import { withContext } from '../context.js';
import { emit, type GlobalOptions } from '../output.js';
import { scheduledDrills } from '../scheduled-drills.js';
import { serviceAdminDeps } from '../service-admin-deps.js';
import { withPki } from './ca.js';

/** withPki for the service: it starts even when its single member refuses the PIN (auth_failed). */
const withServicePki: typeof withPki = (opts, fn) => withPki(opts, fn, { tolerateAuthFailure: true });

/** How often the service re-reads the policy in force (an applied policy takes effect within it). */
const POLICY_REFRESH_MS = 5000;

/** Parses `host:port` (IPv6 as `[::1]:8080`). */
function parseListen(text: string, flag = '--listen'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${flag} takes host:port, e.g. 127.0.0.1:8080`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The runtime the API needs, from an open CLI context. */
export function serviceRuntime(ctx: CliContext): ServiceRuntime {
  return {
    governFor: ctx.service.governFor,
    policy: () => ctx.governance.policy(),
    audit: async (entry) => {
      await ctx.governance.audit.append(entry);
    },
    memberStates: ctx.service.memberStates,
    onMemberState: ctx.service.onMemberState,
    queueDepth: ctx.service.queueDepth,
    batchSize: ctx.config.performance.batchSize,
  };
}

interface ServeOptions {
  listen?: string;
  tls?: boolean;
  metricsListen?: string;
  ocspRefresh: string;
}

/**
 * `hsmkit serve`: OCSP and CRLs over plain HTTP; with `--tls`, HTTPS with mutual TLS and the `/v1`
 * API (keys, signing, jobs). `--metrics-listen` adds the Prometheus listener. Runs until SIGINT/SIGTERM.
 * `hsmkit totp enrol <identity> --out FILE` enrols a human identity's second factor.
 */
export function registerServe(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description('run the service: OCSP, CRLs, health; with --tls the mutual-TLS /v1 API (docs/service.md)')
    .option('--listen <host:port>', 'API address (default: service.listen with --tls, else 127.0.0.1:8080)')
    .option('--tls', 'HTTPS with mutual TLS (service.tls) and the /v1 API')
    .option('--metrics-listen <host:port>', 'separate Prometheus listener (default: service.metrics_listen)')
    .option('--ocsp-refresh <duration>', 'how often pre-signed OCSP responses are re-signed', '1h')
    .action(async (o: ServeOptions) => {
      const refreshMs = parseValidity(o.ocspRefresh);
      await withServicePki(globals(), async (deps, ctx) => {
        const svc = ctx.config.service;
        const { host, port } = parseListen(o.listen ?? (o.tls ? svc.listen : '127.0.0.1:8080'));
        let https: Record<string, unknown> | undefined;
        if (o.tls) {
          if (!svc.tls)
            throw new HsmError('HSM_ERR_CONFIG', 'service.tls: --tls needs certificate, key and client_ca');
          https = mutualTlsOptions(svc.tls);
        }
        const runtime = serviceRuntime(ctx);
        const metrics = new ServiceMetrics(runtime.queueDepth);
        // Session pools, breakers, key slots and RNG health of each member (docs/service.md).
        const memberMetrics = attachMemberMetrics(metrics, () => ctx.service.memberProbes());
        // Assigned once alerting starts (after the app is built, before it listens).
        let monitoring: ReturnType<typeof startMonitoring> | undefined;
        const ocsp = new OcspResponder(deps, { refreshMs, validityMs: Math.max(refreshMs * 2, 3_600_000) });
        await ocsp.start();
        const app = buildApp(
          {
            ocsp,
            crl: new CrlPublisher(deps),
            metrics,
            ready: async () => {
              await ctx.store.db.selectFrom('policy_version').select('version').limit(1).execute();
              return true;
            },
            ...(https
              ? {
                  api: {
                    runtime,
                    identities: svc.identities,
                    totp: new ServiceTotpRepository(ctx.store.db),
                    jobs: new ServiceJobRepository(ctx.store.db),
                    idempotency: new IdempotencyRepository(ctx.store.db),
                    providers: [...new Set(ctx.config.members.map((m) => m.provider))],
                    rateLimit: svc.rateLimit,
                    bodyLimitBytes: svc.bodyLimitBytes,
                    totpLockout: svc.totpLockout,
                    // Alerts raised before monitoring starts below are impossible: nothing listens yet.
                    alerts: { raise: (a) => monitoring?.alerts.raise(a) },
                    ...(svc.breakGlass
                      ? {
                          breakGlass: new BreakGlass({
                            config: svc.breakGlass,
                            repository: new BreakGlassRepository(ctx.store.db),
                            runtime,
                            alerts: { raise: (a) => monitoring?.alerts.raise(a) },
                          }),
                        }
                      : {}),
                    admin: serviceAdminDeps(ctx),
                  },
                }
              : {}),
          },
          https ? { https } : {},
        );
        const refresh = setInterval(
          () => void ctx.governance.refresh().catch(() => undefined),
          POLICY_REFRESH_MS,
        );
        // Alerting (rules of service.alerting, webhooks, dead letters) and the dashboard's feed.
        monitoring = startMonitoring({
          source: ctx.service,
          config: svc.alerting,
          metrics,
          db: ctx.store.db,
          relay: ctx.service.alerts,
        });
        // Several instances on one PostgreSQL store: the periodic alert rules (capacity, latency,
        // expiry) run on one instance of the cluster at a time, whichever holds the advisory lock
        // (docs/service.md "Several instances"); on SQLite the lead is local and always taken.
        const started = monitoring;
        await started.evaluator.stop();
        const alertDuty = leadDuty(ctx.store.coordinator(), 'alert-evaluation', {
          start: () => started.evaluator.start(),
          stop: () => started.evaluator.stop(),
        });
        // Scheduled recovery drills (backup.drill): one instance leads them, like the alert rules.
        const drills = scheduledDrills(ctx.config, metrics.registry, started.alerts);
        const drillDuty =
          drills &&
          leadDuty(ctx.store.coordinator(), 'backup-drill', {
            start: () => drills.start(),
            stop: () => drills.stop(),
          });
        const address = await app.listen({ host, port });
        const metricsAt = o.metricsListen ?? svc.metricsListen;
        const m = metricsAt
          ? await listenMetrics(metrics, ...at(metricsAt), dashboardHandler(monitoring.feed))
          : undefined;
        const dashboard = m ? m.address.replace(/\/metrics$/, '/dashboard') : undefined;
        emit(
          globals(),
          {
            listening: address,
            tls: Boolean(https),
            metrics: m?.address,
            dashboard,
          },
          () =>
            `hsmkit serving on ${address}${https ? ' (mutual TLS, /v1 API)' : ' (plain HTTP: OCSP, CRLs, health only)'}` +
            (m ? `\nmetrics on ${m.address}\ndashboard on ${dashboard}` : ''),
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        clearInterval(refresh);
        memberMetrics.stop();
        ocsp.stop();
        await app.close();
        await alertDuty.close();
        await drillDuty?.close();
        await monitoring.close(); // ends the dashboard's event streams, then the metrics listener can close
        await new Promise((r) => m?.server.close(r) ?? r(undefined));
      });
    });

  program
    .command('totp')
    .description('second factor of the service’s human identities')
    .command('enrol <identity>')
    .description('create a TOTP secret for a human identity; writes its otpauth:// URI to --out (mode 600)')
    .requiredOption('--out <file>', 'where to write the otpauth:// URI (never overwritten)')
    .action(async (identity: string, o: { out: string }) => {
      await withContext(globals(), async (ctx) => {
        const known = ctx.config.service.identities.find((i) => i.name === identity);
        if (known?.kind !== 'human') {
          throw new HsmError(
            'HSM_ERR_INVALID_INPUT',
            `service.identities has no human identity named "${identity}"`,
          );
        }
        // Open first (O_EXCL, 600), so a refused file leaves no new secret behind.
        let fd: number;
        try {
          fd = openSync(o.out, 'wx', 0o600);
        } catch (err) {
          throw new HsmError('HSM_ERR_INVALID_INPUT', `--out ${o.out}: ${(err as Error).message}`);
        }
        try {
          writeSync(fd, `${await enrolTotp(new ServiceTotpRepository(ctx.store.db), identity)}\n`);
        } finally {
          closeSync(fd);
        }
        emit(
          globals(),
          { identity, out: o.out },
          () =>
            `enrolled ${identity}; the otpauth:// URI is in ${o.out} (load it into an authenticator, then delete it)`,
        );
      });
    });
}

function at(text: string): [string, number] {
  const { host, port } = parseListen(text, '--metrics-listen');
  return [host, port];
}
