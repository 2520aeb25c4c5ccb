import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { canonicalJson } from '../audit/canonical-json.js';
import { HsmError } from '../errors/index.js';
import type { IdempotencyRecord, IdempotencyRepository } from '../store/idempotency-repository.js';

/** Request header naming an idempotent request (draft-ietf-httpapi-idempotency-key-header). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Response header on an answer replayed from the store. */
export const REPLAYED_HEADER = 'idempotent-replayed';
/** Response header on an answer reconstructed after the service died mid-request. */
export const RECOVERED_HEADER = 'idempotent-recovered';
/** How long a key and its answer are kept (default 24 h); `service.idempotency_ttl` style override via ApiDeps. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/**
 * How long a key held in progress by a process on another host counts as alive (default 10 min).
 * A holder on this host is checked directly (its pid), so a killed service is recognised at once.
 */
export const DEFAULT_IDEMPOTENCY_LEASE_MS = 10 * 60 * 1000;

/** A key is 1–255 visible ASCII characters. */
const KEY_SYNTAX = /^[\x21-\x7e]{1,255}$/;

/** An answer a route gives for a request interrupted by a dead service. */
export interface RecoveredAnswer {
  status: number;
  body: unknown;
}

/**
 * What to do with a request whose key was in progress when the service died: `redo` (safe to run
 * again: signing), `refuse` (answer HSM_ERR_INTERRUPTED; the default for every route), or a
 * function that inspects the state (e.g. does the key exist?) and answers, or returns undefined to redo.
 */
export type InterruptedPolicy =
  | 'redo'
  | 'refuse'
  | ((req: FastifyRequest) => Promise<RecoveredAnswer | undefined>);

/** The key a request holds while it runs. */
interface IdempotencyClaim {
  identity: string;
  key: string;
  settled: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How a request interrupted by a service death is replayed (default `refuse`). */
    idempotency?: InterruptedPolicy;
  }
  interface FastifyRequest {
    /** Set when the request holds an Idempotency-Key. */
    idempotencyClaim?: IdempotencyClaim;
  }
}

/** Options of {@link registerIdempotency}. */
export interface IdempotencyOptions {
  /** Default {@link DEFAULT_IDEMPOTENCY_TTL_MS}. */
  ttlMs?: number;
  /** Default {@link DEFAULT_IDEMPOTENCY_LEASE_MS}. */
  leaseMs?: number;
  /** The wall clock (expiry only); default `new Date()`. */
  now?: () => Date;
}

/**
 * The `Idempotency-Key` hook for every authenticated POST route. The first request with a key
 * claims it (in progress) and its final answer is stored before it is sent; the same key with the
 * same method, path and body gets that answer again (`Idempotent-Replayed: true`), with a different
 * body HSM_ERR_IDEMPOTENCY_MISMATCH, and while the first still runs HSM_ERR_IDEMPOTENCY_IN_PROGRESS
 * (retryable). Retryable failures are not stored, so the same key may be tried again. A key left
 * in progress by a dead service is taken over and handled by the route's {@link InterruptedPolicy}.
 */
export function registerIdempotency(
  app: FastifyInstance,
  repo: IdempotencyRepository,
  opts: IdempotencyOptions = {},
): void {
  const ttlMs = opts.ttlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
  const leaseMs = opts.leaseMs ?? DEFAULT_IDEMPOTENCY_LEASE_MS;
  const now = opts.now ?? (() => new Date());
  const owner = `${hostname()}/${process.pid}/${randomUUID()}`;
  let lastPrune = 0;

  app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.method !== 'POST' || !req.principal) return; // public routes (OCSP) ignore the header
    const header = req.headers[IDEMPOTENCY_HEADER];
    if (header === undefined) return;
    if (typeof header !== 'string' || !KEY_SYNTAX.test(header)) {
      throw new HsmError('HSM_ERR_INVALID_INPUT', 'Idempotency-Key must be 1–255 visible ASCII characters');
    }
    const identity = req.principal.identity.name;
    const at = now();
    if (at.getTime() - lastPrune > 60_000) {
      lastPrune = at.getTime();
      await repo.prune(at).catch((err) => req.log.warn({ err }, 'pruning idempotency keys failed'));
    }
    const fingerprint = fingerprintOf(req);
    const existing = await repo.claim({ identity, key: header, fingerprint, owner, now: at, ttlMs });
    if (existing === undefined) {
      req.idempotencyClaim = { identity, key: header, settled: false };
      return;
    }
    if (existing.fingerprint !== fingerprint) {
      throw new HsmError(
        'HSM_ERR_IDEMPOTENCY_MISMATCH',
        'this Idempotency-Key was used for a different request; use a new key for a new request',
      );
    }
    if (existing.status === 'done' && existing.response) {
      const r = existing.response;
      return reply.code(r.status).type(r.type).header(REPLAYED_HEADER, 'true').send(r.body);
    }
    if (
      !holderIsGone(existing, owner, at, leaseMs) ||
      !(await repo.takeOver(identity, header, existing.owner, owner))
    ) {
      throw inProgress();
    }
    req.idempotencyClaim = { identity, key: header, settled: false };
    const policy = req.routeOptions.config?.idempotency ?? 'refuse';
    if (policy === 'redo') return;
    if (typeof policy === 'function') {
      const answer = await policy(req);
      if (answer === undefined) return;
      return reply.code(answer.status).header(RECOVERED_HEADER, 'true').send(answer.body);
    }
    throw new HsmError(
      'HSM_ERR_INTERRUPTED',
      'the service stopped while this request ran; its effect is unknown, so check before sending it with a new key',
    );
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const claim = req.idempotencyClaim;
    if (!claim || claim.settled) return payload;
    claim.settled = true;
    // A stream cannot be stored: its key is released. No payload (204) is stored as empty.
    const body =
      payload === undefined || payload === null
        ? Buffer.alloc(0)
        : typeof payload === 'string'
          ? Buffer.from(payload)
          : Buffer.isBuffer(payload)
            ? payload
            : undefined;
    try {
      if (body === undefined || isRetryable(reply, body)) {
        await repo.release(claim.identity, claim.key, owner);
      } else {
        const type = String(reply.getHeader('content-type') ?? 'application/json');
        await repo.complete(claim.identity, claim.key, owner, { status: reply.statusCode, type, body });
      }
    } catch (err) {
      // The answer still goes out; the key stays in progress and is recovered after the lease.
      req.log.warn({ err }, 'storing the idempotent answer failed');
    }
    return payload;
  });

  // An answer that never reached onSend (aborted request): give the key back.
  app.addHook('onResponse', async (req) => {
    const claim = req.idempotencyClaim;
    if (!claim || claim.settled) return;
    claim.settled = true;
    await repo.release(claim.identity, claim.key, owner).catch(() => undefined);
  });
}

/** SHA-256 over method, path (with query) and the canonical body, hex. */
export function fingerprintOf(req: FastifyRequest): string {
  const h = createHash('sha256');
  h.update(`${req.method}\n${req.url}\n`);
  const body = req.body;
  if (Buffer.isBuffer(body)) h.update(body);
  else if (body !== undefined) h.update(canonicalJson(body));
  return h.digest('hex');
}

function inProgress(): HsmError {
  return new HsmError(
    'HSM_ERR_IDEMPOTENCY_IN_PROGRESS',
    'a request with this Idempotency-Key is still running; retry with the same key',
    { details: { retryAfterSeconds: 1 } },
  );
}

/** Retryable problems (429, 503, …) are not stored: the same key may be tried again. */
function isRetryable(reply: FastifyReply, body: Buffer): boolean {
  const type = String(reply.getHeader('content-type') ?? '');
  if (!type.startsWith('application/problem+json')) return false;
  try {
    return (JSON.parse(body.toString('utf8')) as { retryable?: unknown }).retryable === true;
  } catch {
    return false;
  }
}

/**
 * Whether the process holding a key in progress is gone: on this host, by its pid (SIGKILLed
 * service); elsewhere (several instances on PostgreSQL), when the lease has passed.
 */
function holderIsGone(rec: IdempotencyRecord, self: string, at: Date, leaseMs: number): boolean {
  if (rec.owner === self) return false;
  const leaseOver = at.getTime() - Date.parse(rec.createdAt) > leaseMs;
  const [host, pidText] = rec.owner.split('/');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return leaseOver;
  if (pid === process.pid) return leaseOver; // another app in this process, still alive
  try {
    process.kill(pid, 0);
    return leaseOver; // alive (or the pid was reused): wait for the lease
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH' || leaseOver;
  }
}
