import type { AlertInput } from '../alerting/alert-dispatcher.js';
import type { AuditEntry } from '../audit/audit-record.js';
import type { ServiceIdentity } from '../config/schema.js';
import type { GovernedKeyManager } from '../governance/governed-key-manager.js';
import type { KeyManager } from '../kms/key-manager.js';
import type { ActivePolicy } from '../policy/policy-engine.js';
import type { Actor } from '../policy/policy-request.js';
import type { IdempotencyRepository } from '../store/idempotency-repository.js';
import type { ServiceJobRepository } from '../store/service-job-repository.js';
import type { AdminDeps } from './admin-deps.js';
import type { BreakGlass } from './break-glass.js';
import type { RateLimit } from './rate-limiter.js';
import type { ServiceMetrics } from './service-metrics.js';
import type { TotpSecrets } from './totp-verifier.js';

/**
 * What the API needs from the composition root. Key operations are only reachable through
 * `governFor`, so every one is decided by the policy and audited as the request's actor.
 */
export interface ServiceRuntime {
  /** A governed key manager acting for `actor`; `wrap` decorates the ungoverned one (metrics). */
  governFor(
    actor: Actor,
    correlationId: string,
    wrap?: (inner: KeyManager) => KeyManager,
  ): GovernedKeyManager;
  /** The policy in force now. */
  policy(): ActivePolicy;
  /** Appends an audit record (a request refused before any governed call). */
  audit(entry: AuditEntry): Promise<void>;
  /** Each member's state now (`up`, `degraded`, `down`, …). */
  memberStates(): Record<string, string>;
  /** Calls `fn` on every member state change; returns the unsubscribe function. */
  onMemberState(fn: (member: string, state: string) => void): () => void;
  /** Operations waiting for a member. */
  queueDepth(): number;
  /** Largest number of items in one `POST /v1/sign/batch` (performance.batch_size). */
  batchSize: number;
}

/** The API's settings and collaborators. */
export interface ApiDeps {
  runtime: ServiceRuntime;
  /** Client certificate → identity → roles (config `service.identities`). */
  identities: readonly ServiceIdentity[];
  /** Enrolled TOTP secrets of human identities. */
  totp: TotpSecrets;
  /** Providers of the configured members; an envelope's `hsm_provider` must be one of them. */
  providers: readonly string[];
  /** Durable jobs; the jobs routes exist only when given. */
  jobs?: ServiceJobRepository;
  /** Start the job runner (default true); tests turn it off to leave jobs queued. */
  runJobs?: boolean;
  /** Per-identity token bucket; default 50/s, burst 100. */
  rateLimit?: RateLimit;
  /** Largest JSON body in bytes; default 1 MiB. */
  bodyLimitBytes?: number;
  /** PKI, policy, audit and ceremony endpoints (admin-deps.ts); they exist only when given. */
  admin?: AdminDeps;
  /** Wrong TOTP codes allowed, then one per `refillSeconds`; default 5 and 60 (service.totp_lockout). */
  totpLockout?: { attempts: number; refillSeconds: number };
  /** Break-glass (service.break_glass); its routes exist only when given. */
  breakGlass?: BreakGlass;
  /** Where the API raises alerts (failed logins, break-glass): the service's AlertDispatcher. */
  alerts?: { raise(input: AlertInput): unknown };
  /** Idempotency-Key records; without it the header is ignored (src/server/idempotency.ts). */
  idempotency?: IdempotencyRepository;
  /** How long an Idempotency-Key and its answer are kept; default 24 h. */
  idempotencyTtlMs?: number;
}

/** What the HTTP service needs; the composition root wires the HSM-backed implementations. */
export interface AppDeps {
  /** Answers a DER OCSPRequest with a DER OCSPResponse; never throws. */
  ocsp: { respond(der: Uint8Array): Promise<Uint8Array> };
  /** The current DER CRL of a CA, or undefined for an unknown CA. */
  crl: { current(ca: string): Promise<Uint8Array | undefined> };
  /** The `/v1` API; without it the app serves OCSP, CRLs, health and the OpenAPI document only. */
  api?: ApiDeps;
  /** Metrics to record into; served by the separate metrics listener. */
  metrics?: ServiceMetrics;
  /** Whether the store and members can serve (`/readyz`); default ready. */
  ready?: () => Promise<boolean>;
  /** Fastify logger setting; default off. */
  logger?: boolean;
}
