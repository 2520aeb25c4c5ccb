import type { FastifyReply, FastifyRequest } from 'fastify';
import { paramsDigest } from '../audit/audit-record.js';
import { HsmError } from '../errors/index.js';
import { identityOf, type PeerCertificate, peerCertificate } from './client-identity.js';
import { FailedLoginWatch } from './failed-login-watch.js';
import { RateLimiter } from './rate-limiter.js';
import type { Principal } from './request-context.js';
import { checkRouteAccess, refuseRole } from './route-access.js';
import type { ApiDeps } from './service-deps.js';
import type { SecurityEvent, ServiceMetrics } from './service-metrics.js';
import { TotpVerifier } from './totp-verifier.js';

/** Header carrying a human identity's TOTP code. */
export const OTP_HEADER = 'x-hsmkit-otp';
/** Header choosing one of the identity's roles (default: its first). */
export const ROLE_HEADER = 'x-hsmkit-role';

/** Who a failed authentication is recorded as: the identity, else the certificate's subject. */
function subjectOf(cert: PeerCertificate | undefined): string {
  if (!cert) return 'anonymous';
  if (cert.cn !== undefined) return `cn:${cert.cn}`;
  if (cert.uris[0] !== undefined) return `uri:${cert.uris[0]}`;
  return `sha256:${cert.fingerprint256}`;
}

/**
 * The onRequest hook of the API: runs before the body is read, so nothing about an unauthenticated
 * request is parsed. In order: rate limit (per peer address on public routes), client certificate
 * → exactly one identity, rate limit per identity, role, the second factor for humans, a
 * break-glass grant when the role is the emergency role the identity does not hold, then the
 * route's RBAC check against the access policy.
 *
 * Every failed authentication (no or unknown certificate, missing or wrong TOTP, lock-out) is an
 * audit record (actor: the identity or certificate subject; never the code sent), a security event
 * and, when repeated, a `failed_login` alert.
 */
export function authenticationHook(api: ApiDeps, metrics: ServiceMetrics | undefined) {
  const limiter = new RateLimiter(api.rateLimit ?? { perSecond: 50, burst: 100 });
  const totp = new TotpVerifier(
    api.totp,
    api.totpLockout
      ? { burst: api.totpLockout.attempts, perSecond: 1 / api.totpLockout.refillSeconds }
      : undefined,
  );
  const watch = new FailedLoginWatch();
  const security = (kind: SecurityEvent) => metrics?.securityEvents.inc({ kind });
  const limit = (key: string) => {
    const wait = limiter.take(key);
    if (wait > 0) {
      security('rate_limited');
      throw new HsmError('HSM_ERR_RATE_LIMITED', `rate limit exceeded; retry in ${wait} s`, {
        details: { retryAfterSeconds: wait },
      });
    }
  };
  /** Records a failed authentication and rethrows it. */
  const failed = async (
    err: unknown,
    who: { name: string; role: string; authMethod: string },
    kind: SecurityEvent,
    rule: string,
    req: FastifyRequest,
  ): Promise<never> => {
    security(kind);
    const code = HsmError.is(err) ? err.code : 'HSM_ERR_UNAUTHENTICATED';
    await api.runtime.audit({
      timestamp: new Date().toISOString(),
      actor: who.name,
      role: who.role,
      authMethod: who.authMethod,
      operation: 'service.login',
      paramsDigest: paramsDigest({ route: `${req.method} ${req.routeOptions.url ?? req.url}` }),
      result: 'denied',
      errorCode: code,
      rule,
      latencyMs: 0,
      correlationId: req.id,
      policyVersion: api.runtime.policy().version,
    });
    const count = watch.record(who.name);
    if (count !== undefined) {
      api.alerts?.raise({
        kind: 'failed_login',
        key: `failed-login:${who.name}`,
        repeatAfterMs: watch.windowMs,
        message: `${count} failed authentications of ${who.name} within ${watch.windowMs / 60_000} min (last: ${code})`,
        details: { actor: who.name, failures: count, code },
      });
    }
    throw err;
  };

  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const access = req.routeOptions.config?.access ?? 'public';
    if (access === 'public') {
      limit(`peer:${req.ip}`);
      return;
    }
    const cert: PeerCertificate | undefined = peerCertificate(req.raw.socket);
    if (!cert) {
      // Only reachable without TLS (app.inject); the TLS layer refuses a missing certificate.
      limit(`peer:${req.ip}`);
      await failed(
        new HsmError('HSM_ERR_UNAUTHENTICATED', 'a verified client certificate is required'),
        { name: 'anonymous', role: '-', authMethod: 'none' },
        'failed_login',
        'service.tls',
        req,
      );
    }
    let identity!: Principal['identity'];
    try {
      identity = identityOf(cert!, api.identities);
    } catch (err) {
      // Unknown subjects share the identity bucket scheme, so a flood of them is limited too.
      limit(`subject:${subjectOf(cert)}`);
      await failed(
        err,
        { name: subjectOf(cert), role: '-', authMethod: 'mtls' },
        'failed_login',
        'service.identities',
        req,
      );
    }
    limit(`identity:${identity.name}`);
    const asked = req.headers[ROLE_HEADER];
    const role = typeof asked === 'string' && asked !== '' ? asked : identity.roles[0]!;
    const human = identity.kind === 'human';
    const actor = { name: identity.name, role, authMethod: human ? 'mtls+totp' : 'mtls' };
    const route = `${req.method} ${req.routeOptions.url ?? req.url}`;
    const held = (identity.roles as readonly string[]).includes(role);
    // The break-glass role is decided after the second factor: a grant never replaces MFA.
    const breakGlass = !held && api.breakGlass !== undefined && role === api.breakGlass.role;
    if (!held && !breakGlass) {
      security('denied');
      await refuseRole(api.runtime, actor, req.id, route);
    }
    if (human) {
      const code = req.headers[OTP_HEADER];
      try {
        await totp.check(identity.name, typeof code === 'string' ? code : undefined);
      } catch (err) {
        const kind: SecurityEvent = HsmError.is(err, 'HSM_ERR_MFA_REQUIRED')
          ? 'mfa_missing'
          : HsmError.is(err, 'HSM_ERR_RATE_LIMITED')
            ? 'lockout'
            : 'failed_login';
        await failed(err, actor, kind, kind === 'lockout' ? 'service.totp_lockout' : 'service.mfa', req);
      }
    }
    if (breakGlass) {
      const bg = api.breakGlass!;
      const grant = await bg.grantFor(identity.name, role, actor, req.id);
      if (!grant) {
        security('denied');
        await bg.refusedAfterExpiry(identity.name, role, actor, req.id);
        await refuseRole(api.runtime, actor, req.id, route);
      }
      actor.authMethod = `${actor.authMethod}+break-glass`;
      security('break_glass');
    }
    req.principal = { identity, actor };
    if (access !== 'authenticated') {
      try {
        await checkRouteAccess(api.runtime, actor, access, req.id, route);
      } catch (err) {
        security('denied');
        throw err;
      }
    }
  };
}
