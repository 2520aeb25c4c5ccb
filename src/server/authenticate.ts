import type { FastifyReply, FastifyRequest } from 'fastify';
import { HsmError } from '../errors/index.js';
import { identityOf, type PeerCertificate, peerCertificate } from './client-identity.js';
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

/**
 * The onRequest hook of the API: runs before the body is read, so nothing about an unauthenticated
 * request is parsed. In order: rate limit (per peer address on public routes), client certificate
 * → exactly one identity, rate limit per identity, role, the second factor for humans, then the
 * route's RBAC check against the access policy.
 */
export function authenticationHook(api: ApiDeps, metrics: ServiceMetrics | undefined) {
  const limiter = new RateLimiter(api.rateLimit ?? { perSecond: 50, burst: 100 });
  const totp = new TotpVerifier(api.totp);
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

  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const access = req.routeOptions.config?.access ?? 'public';
    if (access === 'public') {
      limit(`peer:${req.ip}`);
      return;
    }
    const cert: PeerCertificate | undefined = peerCertificate(req.raw.socket);
    if (!cert) {
      security('failed_login');
      throw new HsmError('HSM_ERR_UNAUTHENTICATED', 'a verified client certificate is required');
    }
    let identity: Principal['identity'];
    try {
      identity = identityOf(cert, api.identities);
    } catch (err) {
      security('failed_login');
      throw err;
    }
    limit(`identity:${identity.name}`);
    const asked = req.headers[ROLE_HEADER];
    const role = typeof asked === 'string' && asked !== '' ? asked : identity.roles[0]!;
    const human = identity.kind === 'human';
    const actor = { name: identity.name, role, authMethod: human ? 'mtls+totp' : 'mtls' };
    const route = `${req.method} ${req.routeOptions.url ?? req.url}`;
    if (!(identity.roles as readonly string[]).includes(role)) {
      security('denied');
      await refuseRole(api.runtime, actor, req.id, route);
    }
    if (human) {
      const code = req.headers[OTP_HEADER];
      try {
        await totp.check(identity.name, typeof code === 'string' ? code : undefined);
      } catch (err) {
        security(HsmError.is(err, 'HSM_ERR_MFA_REQUIRED') ? 'mfa_missing' : 'failed_login');
        throw err;
      }
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
