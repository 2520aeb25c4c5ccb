/**
 * Shared fixture of the service tests: a real SoftHSM token, an hsmkit.yaml with a `service` block,
 * the CLI's own composition root (openContext), a test access policy applied through governance,
 * and the app listening on 127.0.0.1 with mutual TLS (port 0).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { serviceRuntime } from '../../../src/cli/commands/serve.js';
import { type CliContext, openContext } from '../../../src/cli/context.js';
import { OcspResponder } from '../../../src/pki/ocsp/ocsp-responder.js';
import { createPkiDeps } from '../../../src/pki/pki-deps.js';
import { asPkiKeyManager } from '../../../src/pki/pki-key-manager.js';
import { defaultPkiPolicy } from '../../../src/pki/policy.js';
import { type AppDeps, buildApp } from '../../../src/server/app.js';
import { CrlPublisher } from '../../../src/server/crl-publisher.js';
import { ServiceMetrics } from '../../../src/server/service-metrics.js';
import { mutualTlsOptions } from '../../../src/server/tls-options.js';
import { ServiceJobRepository } from '../../../src/store/service-job-repository.js';
import { ServiceTotpRepository } from '../../../src/store/service-totp-repository.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { type Answer, type Call, call } from './https-client.js';
import { type ClientCert, TlsMaterial } from './tls-material.js';

/** Every role of the access policy. */
export const ROLES = [
  'admin',
  'security_officer',
  'operator',
  'auditor',
  'custodian',
  'signer',
  'service',
] as const;
/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

/** The test's access policy: what each role is granted (custodian: nothing). */
export const GRANTS: Record<Role, string[]> = {
  admin: ['*'],
  security_officer: ['key.list', 'key.get', 'key.public', 'key.delete'],
  operator: ['key.create', 'key.list', 'key.get', 'key.public', 'key.delete'],
  auditor: ['key.list', 'key.get'],
  custodian: [],
  signer: ['key.sign', 'key.public', 'key.get'],
  service: ['key.sign', 'key.public'],
};

/** SAN URI of the human identity alice (operator, certificate + TOTP). */
export const ALICE_URI = 'spiffe://hsmkit.test/human/alice';

/** The running service and what tests need to talk to it. */
export interface ServiceFixture {
  token: SoftHsmToken;
  ctx: CliContext;
  tls: TlsMaterial;
  app: FastifyInstance;
  metrics: ServiceMetrics;
  base: string;
  batchSize: number;
  /** A service-identity client certificate per role (`svc-<role>`). */
  clients: Record<Role, ClientCert>;
  /** The human identity alice (operator). */
  alice: ClientCert;
  totp: ServiceTotpRepository;
  jobs: ServiceJobRepository;
  /** Sends a request as `client` (default none). */
  send(c: Call): Promise<Answer>;
  /** Builds and starts another app on the same context (restart tests). */
  startApp(opts?: { runJobs?: boolean }): Promise<{ app: FastifyInstance; base: string }>;
  close(): Promise<void>;
}

/** Opens the fixture; `rateLimit` is per identity. */
export async function openServiceFixture(
  opts: { batchSize?: number; rateLimit?: { per_second: number; burst: number } } = {},
): Promise<ServiceFixture> {
  const token = createSoftHsmToken();
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-service-'));
  const tls = new TlsMaterial(dir);
  const pinFile = join(dir, 'pin');
  writeFileSync(pinFile, token.userPin, { mode: 0o600 });
  const batchSize = opts.batchSize ?? 4;
  const identities = [
    ...ROLES.map((r) => ({ name: `svc-${r}`, match: `cn:svc-${r}`, kind: 'service', roles: [r] })),
    { name: 'svc-flood', match: 'cn:svc-flood', kind: 'service', roles: ['auditor'] },
    { name: 'alice', match: `uri:${ALICE_URI}`, kind: 'human', roles: ['operator'] },
    { name: 'dup-a', match: 'cn:dup', kind: 'service', roles: ['auditor'] },
    { name: 'dup-b', match: 'uri:spiffe://hsmkit.test/dup', kind: 'service', roles: ['auditor'] },
  ];
  const config = {
    hsm_configuration: {
      provider: 'softhsm2',
      connection: { module: SOFTHSM_MODULE, token_label: token.label, pin_file: pinFile, env: token.env },
      performance: { batch_size: batchSize },
    },
    store: { path: join(dir, 'hsmkit.db') },
    service: {
      tls: {
        certificate: tls.serverFiles.certificate,
        key: tls.serverFiles.key,
        client_ca: tls.serverFiles.clientCa,
      },
      identities,
      rate_limit: opts.rateLimit ?? { per_second: 1, burst: 80 },
      body_limit_bytes: 1024 * 1024,
    },
  };
  const configFile = join(dir, 'hsmkit.yaml');
  writeFileSync(configFile, stringify(config), { mode: 0o600 });
  const ctx = await openContext({ config: configFile });
  // Set up as the local OS user (bootstrap admin), then hand the roles their grants.
  const policy = {
    name: 'service-test',
    access: {
      default_role: 'admin',
      roles: Object.fromEntries(
        Object.entries(GRANTS)
          .filter(([, ops]) => ops.length > 0)
          .map(([r, ops]) => [r, [{ operations: ops }]]),
      ),
    },
  };
  await ctx.governance.admin.apply(stringify(policy), 'service-test policy', false);
  await ctx.governance.refresh();

  const runtime = serviceRuntime(ctx);
  const metrics = new ServiceMetrics(runtime.queueDepth);
  const pki = createPkiDeps(asPkiKeyManager(ctx.km), ctx.store, defaultPkiPolicy(ctx.config.securityPolicy));
  const ocsp = new OcspResponder(pki, { refreshMs: 3_600_000, validityMs: 7_200_000 });
  const totp = new ServiceTotpRepository(ctx.store.db);
  const jobs = new ServiceJobRepository(ctx.store.db);
  const https = mutualTlsOptions(ctx.config.service.tls!);
  const apps: FastifyInstance[] = [];

  const startApp = async (o: { runJobs?: boolean } = {}) => {
    const deps: AppDeps = {
      ocsp,
      crl: new CrlPublisher(pki),
      metrics,
      api: {
        runtime,
        identities: ctx.config.service.identities,
        totp,
        jobs,
        providers: ['softhsm2'],
        rateLimit: ctx.config.service.rateLimit,
        bodyLimitBytes: ctx.config.service.bodyLimitBytes,
        ...(o.runJobs === undefined ? {} : { runJobs: o.runJobs }),
      },
    };
    const app = buildApp(deps, { https });
    apps.push(app);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address() as { port: number };
    return { app, base: `https://127.0.0.1:${addr.port}` };
  };
  const first = await startApp();
  const clients = Object.fromEntries(ROLES.map((r) => [r, tls.client(`svc-${r}`)])) as Record<
    Role,
    ClientCert
  >;
  return {
    token,
    ctx,
    tls,
    app: first.app,
    metrics,
    base: first.base,
    batchSize,
    clients,
    alice: tls.client('Alice Example', ALICE_URI),
    totp,
    jobs,
    send: (c) => call(first.base, tls.ca, c),
    startApp,
    close: async () => {
      for (const a of apps) await a.close();
      await ctx.close();
      token.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Asserts `a` is an RFC 9457 problem document with `code` and the status the code table gives it. */
export function problemCode(a: Answer): string {
  if (!a.type.startsWith('application/problem+json'))
    throw new Error(`not a problem document (${a.status} ${a.type}): ${a.text.slice(0, 200)}`);
  const p = a.json as { type: string; title: string; status: number; code: string; detail: string };
  if (
    p.status !== a.status ||
    p.type !== `urn:hsmkit:error:${p.code}` ||
    typeof p.title !== 'string' ||
    typeof p.detail !== 'string'
  ) {
    throw new Error(`malformed problem document: ${a.text.slice(0, 300)}`);
  }
  return p.code;
}
