// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is hsmkit.yaml interpolation, not a template.
/**
 * Shared fixture of the alerting and dashboard tests: a 3-node SoftHSM test cluster, a SQLite
 * store with governance (policy + audit) over the cluster, the service's monitoring (alerting +
 * dashboard feed) wired as `hsmkit serve` wires it, the metrics listener serving the dashboard on
 * 127.0.0.1, and a webhook receiver that records every alert POSTed to it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { WebhookPayload } from '../../../src/alerting/alert.js';
import { AlertRelay } from '../../../src/alerting/alert-relay.js';
import { parseConfig } from '../../../src/config/load.js';
import type { AlertingConfig, HsmkitConfig } from '../../../src/config/schema.js';
import { stderrAlerts } from '../../../src/governance/alerts.js';
import { GovernedKeyManager } from '../../../src/governance/governed-key-manager.js';
import { Governor } from '../../../src/governance/governor.js';
import { type Governance, openGovernance } from '../../../src/governance/open-governance.js';
import { clusterMonitorSource } from '../../../src/server/cluster-monitor-source.js';
import { dashboardHandler } from '../../../src/server/dashboard-routes.js';
import { meteredKeyManager } from '../../../src/server/metered-key-manager.js';
import { listenMetrics } from '../../../src/server/metrics-server.js';
import { type Monitoring, type MonitorSource, startMonitoring } from '../../../src/server/monitoring.js';
import { ServiceMetrics } from '../../../src/server/service-metrics.js';
import { Store } from '../../../src/store/store.js';
import { createTestCluster, type TestCluster } from '../../support/cluster.js';
import { SOFTHSM_MODULE } from '../../support/softhsm.js';

/** An HTTP endpoint that records alert POSTs; `failFirst` answers that many requests with 503. */
export interface WebhookReceiver {
  url: string;
  received: WebhookPayload[];
  /** Requests seen, including refused ones. */
  requests: number;
  failFirst: number;
  /** Resolves with the first payload matching `pred` (already received or arriving within `ms`). */
  waitFor(pred: (p: WebhookPayload) => boolean, ms?: number): Promise<WebhookPayload>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(failFirst = 0): Promise<WebhookReceiver> {
  const waiters: Array<() => void> = [];
  const r: WebhookReceiver & { server?: Server } = {
    url: '',
    received: [],
    requests: 0,
    failFirst,
    waitFor: (pred, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = r.received.find(pred);
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => reject(new Error(`no matching webhook within ${ms} ms`)), ms);
        if (!check())
          waiters.push(function again() {
            if (!check()) waiters.push(again);
          });
      }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      r.requests++;
      if (r.requests <= r.failFirst) {
        res.writeHead(503).end();
        return;
      }
      r.received.push(JSON.parse(body) as WebhookPayload);
      res.writeHead(204).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook?token=s3cret`;
  return r;
}

/** The `service.alerting` block parsed as hsmkit.yaml would be. */
export function alertingConfig(alerting: Record<string, unknown>): {
  alerting: AlertingConfig;
  security: HsmkitConfig['securityPolicy'];
} {
  const c = parseConfig(
    stringify({
      hsm_configuration: {
        provider: 'softhsm2',
        connection: { module: SOFTHSM_MODULE, token_label: 'unused', pin: '${UNUSED_PIN}' },
      },
      service: { alerting },
    }),
    { env: { UNUSED_PIN: 'unused' } },
  );
  return { alerting: c.service.alerting, security: c.securityPolicy };
}

export interface MonitorFixture {
  tc: TestCluster;
  store: Store;
  governance: Governance;
  /** A governed key manager whose HSM calls are measured (dashboard throughput and latency). */
  km: GovernedKeyManager;
  metrics: ServiceMetrics;
  monitoring: Monitoring;
  webhook: WebhookReceiver;
  /** Alert lines written to the log (stderr in the service). */
  logLines: string[];
  /** http://127.0.0.1:port/dashboard */
  dashboardUrl: string;
  close(): Promise<void>;
}

export async function openMonitorFixture(alerting: Record<string, unknown> = {}): Promise<MonitorFixture> {
  const webhook = await startWebhookReceiver();
  const cfg = alertingConfig({ webhooks: [webhook.url], ...alerting });
  const tc = await createTestCluster(3);
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-dashboard-'));
  const store = await Store.openSqlite(join(dir, 'hsmkit.db'));
  const relay = new AlertRelay(stderrAlerts);
  const governance = await openGovernance({
    inner: tc.cluster,
    db: store.db,
    security: cfg.security,
    member: 'cluster',
    alerts: relay,
  });
  const metrics = new ServiceMetrics(() => tc.cluster.queueDepth);
  const km = new GovernedKeyManager(
    meteredKeyManager(tc.cluster, metrics, new Map()),
    new Governor({ ...governance.governor.options }),
  );
  const logLines: string[] = [];
  const monitoring = startMonitoring({
    source: clusterMonitorSource(tc.cluster),
    config: cfg.alerting,
    metrics,
    db: store.db,
    relay,
    log: (line) => logLines.push(line),
    sampleMs: 250,
  });
  const listener = await listenMetrics(metrics, '127.0.0.1', 0, dashboardHandler(monitoring.feed));
  return {
    tc,
    store,
    governance,
    km,
    metrics,
    monitoring,
    webhook,
    logLines,
    dashboardUrl: listener.address.replace(/\/metrics$/, '/dashboard'),
    close: async () => {
      await monitoring.close();
      listener.server.closeAllConnections();
      await new Promise((r) => listener.server.close(r));
      await webhook.close();
      await tc.cleanup();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` until it returns a value other than undefined, or fails after `ms`. */
export async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
