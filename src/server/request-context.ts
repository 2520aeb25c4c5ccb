import type { ServiceIdentity } from '../config/schema.js';
import type { Actor } from '../policy/policy-request.js';
import type { Operation } from '../policy/vocabulary.js';

/** Who a request acts for, once authenticated. */
export interface Principal {
  identity: ServiceIdentity;
  /** The actor every governed call and audit record of the request names. */
  actor: Actor;
}

/**
 * How a route is protected: `public` (any client the TLS layer admitted: health, OpenAPI, OCSP,
 * CRLs), `authenticated` (a mapped identity, MFA for humans; the handler decides further), or a
 * policy operation the role must be granted before the handler runs.
 */
export type RouteAccess = 'public' | 'authenticated' | Operation;

/** Response descriptions for the OpenAPI document, by status. */
export type ResponseDocs = Record<number, { description: string; schema?: Record<string, unknown> }>;

declare module 'fastify' {
  interface FastifySchema {
    /** One line for the OpenAPI document. */
    summary?: string;
  }
  interface FastifyRequest {
    /** Set by the authentication hook on non-public routes. */
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Default `public`. */
    access?: RouteAccess;
    /** Documented responses (the OpenAPI document); the serializer does not use them. */
    responses?: ResponseDocs;
  }
}
