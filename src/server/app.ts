import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';

/** What the HTTP service needs; the composition root wires the HSM-backed implementations. */
export interface AppDeps {
  /** Answers a DER OCSPRequest with a DER OCSPResponse; never throws. */
  ocsp: { respond(der: Uint8Array): Promise<Uint8Array> };
  /** The current DER CRL of a CA, or undefined for an unknown CA. */
  crl: { current(ca: string): Promise<Uint8Array | undefined> };
  /** Fastify logger setting; default off. */
  logger?: boolean;
}

/** Largest OCSP request body accepted (a real one is under 1 KiB). */
export const MAX_OCSP_BODY = 16 * 1024;
const MALFORMED = new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x01]);

/**
 * The hsmkit HTTP service: OCSP (RFC 6960 appendix A: GET /ocsp/{base64 request}, POST /ocsp with
 * application/ocsp-request) and CRL publication (GET /crl/{ca}.crl, DER).
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: MAX_OCSP_BODY,
    // A URL the router cannot decode (`/ocsp/%%%`) is still an OCSP request: answer malformedRequest.
    frameworkErrors: (err, req, rawReply) => {
      const reply = rawReply as unknown as FastifyReply;
      if (req.url.startsWith('/ocsp')) {
        reply.code(200).header('content-type', 'application/ocsp-response').send(Buffer.from(MALFORMED));
      } else {
        reply.code(400).send({ ok: false, error: { code: 'HSM_ERR_INVALID_INPUT', message: err.message } });
      }
    },
  });
  app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );
  const ocspReply = (bytes: Uint8Array) => Buffer.from(bytes);

  app.post('/ocsp', async (req, reply) => {
    reply.header('content-type', 'application/ocsp-response');
    const body = req.body;
    if (!Buffer.isBuffer(body)) return ocspReply(MALFORMED);
    return ocspReply(await deps.ocsp.respond(body));
  });

  app.get<{ Params: { '*': string } }>('/ocsp/*', async (req, reply) => {
    reply.header('content-type', 'application/ocsp-response');
    let der: Buffer;
    try {
      // The request is base64 then URL-encoded; some clients use base64url.
      der = Buffer.from(decodeURIComponent(req.params['*']).replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    } catch {
      return ocspReply(MALFORMED);
    }
    if (der.length === 0 || der.length > MAX_OCSP_BODY) return ocspReply(MALFORMED);
    return ocspReply(await deps.ocsp.respond(der));
  });

  app.get<{ Params: { file: string } }>('/crl/:file', async (req, reply) => {
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})\.crl$/.exec(req.params.file);
    const crl = m ? await deps.crl.current(m[1]!) : undefined;
    if (!crl)
      return reply
        .code(404)
        .send({ ok: false, error: { code: 'HSM_ERR_INVALID_INPUT', message: 'no such CRL' } });
    reply.header('content-type', 'application/pkix-crl');
    return Buffer.from(crl);
  });

  return app;
}
