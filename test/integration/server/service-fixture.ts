/**
 * Shared fixture of the service tests: a real SoftHSM token, an hsmkit.yaml with a `service` block,
 * the CLI's own composition root (openContext), a test access policy applied through governance,
 * and the app listening on 127.0.0.1 with mutual TLS (port 0).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { canonicalJson } from '../../../src/audit/canonical-json.js';
import { serviceRuntime } from '../../../src/cli/commands/serve.js';
import { type CliContext, openContext } from '../../../src/cli/context.js';
import { serviceAdminDeps } from '../../../src/cli/service-admin-deps.js';
import { OcspResponder } from '../../../src/pki/ocsp/ocsp-responder.js';
import { createPkiDeps } from '../../../src/pki/pki-deps.js';
import { asPkiKeyManager } from '../../../src/pki/pki-key-manager.js';
import { defaultPkiPolicy } from '../../../src/pki/policy.js';
import { type AppDeps, buildApp } from '../../../src/server/app.js';
import { CrlPublisher } from '../../../src/server/crl-publisher.js';
import { attachMemberMetrics } from '../../../src/server/member-metrics.js';
import { ServiceMetrics } from '../../../src/server/service-metrics.js';
import { mutualTlsOptions } from '../../../src/server/tls-options.js';
import { IdempotencyRepository } from '../../../src/store/idempotency-repository.js';
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
  security_officer: [
    'key.list',
    'key.get',
    'key.public',
    'key.delete',
    'pki.revoke',
    'pki.read',
    'policy.show',
    'policy.approve',
    'policy.rollback',
    'audit.export',
    'audit.verify',
    'ceremony.read',
    'backup.create',
    'backup.list',
    'backup.verify',
  ],
  operator: [
    'key.create',
    'key.list',
    'key.get',
    'key.public',
    'key.delete',
    'pki.read',
    'policy.show',
    'policy.apply',
    'backup.list',
  ],
  auditor: [
    'key.list',
    'key.get',
    'pki.read',
    'policy.show',
    'audit.export',
    'audit.verify',
    'ceremony.read',
    'backup.list',
    'backup.verify',
  ],
  custodian: ['ceremony.read', 'ceremony.approve'],
  // The issuing role: PKI operations sign with the CA key and draw serials from the HSM as the caller.
  signer: [
    'key.sign',
    'key.public',
    'key.get',
    'hsm.random',
    'pki.csr',
    'pki.issue',
    'pki.renew',
    'pki.crl',
    'pki.read',
  ],
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
  /** The service's OCSP responder (it learns CAs made after start at its refresh). */
  ocsp: OcspResponder;
  /** Sends a request as `client` (default none). */
  send(c: Call): Promise<Answer>;
  /** Builds and starts another app on the same context (restart tests). */
  startApp(opts?: { runJobs?: boolean }): Promise<{ app: FastifyInstance; base: string }>;
  close(): Promise<void>;
}

/** Opens the fixture; `rateLimit` is per identity. */
export async function openServiceFixture(
  opts: {
    batchSize?: number;
    rateLimit?: { per_second: number; burst: number };
    /** More identities (`match` as in the config file). */
    extraIdentities?: Array<{ name: string; match: string; kind: 'human' | 'service'; roles: string[] }>;
    /** More keys of the config's `service` block (e.g. break_glass, totp_lockout). */
    service?: Record<string, unknown>;
  } = {},
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
    ...(opts.extraIdentities ?? []),
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
      ...(opts.service ?? {}),
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
  const memberMetrics = attachMemberMetrics(metrics, () => ctx.service.memberProbes());
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
        idempotency: new IdempotencyRepository(ctx.store.db),
        providers: ['softhsm2'],
        rateLimit: ctx.config.service.rateLimit,
        bodyLimitBytes: ctx.config.service.bodyLimitBytes,
        admin: serviceAdminDeps(ctx),
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
    ocsp,
    send: (c) => call(first.base, tls.ca, c),
    startApp,
    close: async () => {
      memberMetrics.stop();
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

/** The pid of a process that has exited (a shell that printed its own pid and ended). */
export function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

/**
 * Leaves an Idempotency-Key as a killed service leaves it: in progress, held by a process on this
 * host that no longer exists, for `identity`'s POST of `body` to `path`.
 */
export async function holdIdempotencyKey(
  f: ServiceFixture,
  identity: string,
  key: string,
  path: string,
  body: unknown,
): Promise<void> {
  const fingerprint = createHash('sha256')
    .update(`POST\n${path}\n`)
    .update(canonicalJson(body))
    .digest('hex');
  await f.ctx.store.db
    .insertInto('idempotency_key')
    .values({
      identity,
      key,
      fingerprint,
      status: 'in_progress',
      owner: `${hostname()}/${deadPid()}/dead-service`,
      response_status: null,
      response_type: null,
      response_body: null,
      created_at: new Date().toISOString(),
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
    })
    .execute();
}
