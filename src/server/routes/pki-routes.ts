import type { FastifyInstance } from 'fastify';
import { HsmError } from '../../errors/index.js';
import type { AppDeps } from '../service-deps.js';

/** Largest OCSP request body accepted (a real one is under 1 KiB). */
export const MAX_OCSP_BODY = 16 * 1024;
/** OCSPResponse with status malformedRequest, the answer to anything that is not an OCSP request. */
export const MALFORMED_OCSP = new Uint8Array([0x30, 0x03, 0x0a, 0x01, 0x01]);

/**
 * OCSP (RFC 6960 appendix A: GET /ocsp/{base64 request}, POST /ocsp with application/ocsp-request)
 * and CRL publication (GET /crl/{ca}.crl, DER). OCSP answers every request with an OCSP response,
 * as OCSP clients expect; only the CRL route uses problem documents.
 */
export function registerPkiRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'ocsp' | 'crl'>): void {
  app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );
  const ocspReply = (bytes: Uint8Array) => Buffer.from(bytes);

  app.post(
    '/ocsp',
    {
      bodyLimit: MAX_OCSP_BODY,
      // OCSP clients expect an OCSP response, so an oversize or unparsable body is answered with
      // malformedRequest rather than a problem document.
      errorHandler: (_err, _req, reply) => {
        reply.code(200).header('content-type', 'application/ocsp-response').send(ocspReply(MALFORMED_OCSP));
      },
      schema: { summary: 'OCSP request (DER, application/ocsp-request)' },
      config: { responses: { 200: { description: 'DER OCSPResponse (application/ocsp-response)' } } },
    },
    async (req, reply) => {
      reply.header('content-type', 'application/ocsp-response');
      const body = req.body;
      if (!Buffer.isBuffer(body)) return ocspReply(MALFORMED_OCSP);
      return ocspReply(await deps.ocsp.respond(body));
    },
  );

  app.get<{ Params: { '*': string } }>(
    '/ocsp/*',
    {
      schema: { summary: 'OCSP request, base64 (then URL-encoded) in the path' },
      config: { responses: { 200: { description: 'DER OCSPResponse (application/ocsp-response)' } } },
    },
    async (req, reply) => {
      reply.header('content-type', 'application/ocsp-response');
      let der: Buffer;
      try {
        // The request is base64 then URL-encoded; some clients use base64url.
        der = Buffer.from(
          decodeURIComponent(req.params['*']).replace(/-/g, '+').replace(/_/g, '/'),
          'base64',
        );
      } catch {
        return ocspReply(MALFORMED_OCSP);
      }
      if (der.length === 0 || der.length > MAX_OCSP_BODY) return ocspReply(MALFORMED_OCSP);
      return ocspReply(await deps.ocsp.respond(der));
    },
  );

  app.get<{ Params: { file: string } }>(
    '/crl/:file',
    {
      schema: { summary: 'The current CRL of a CA (DER)' },
      config: { responses: { 200: { description: 'DER CRL (application/pkix-crl)' } } },
    },
    async (req, reply) => {
      const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})\.crl$/.exec(req.params.file);
      const crl = m ? await deps.crl.current(m[1]!) : undefined;
      if (!crl) throw new HsmError('HSM_ERR_NOT_FOUND', 'no such CRL');
      reply.header('content-type', 'application/pkix-crl');
      return Buffer.from(crl);
    },
  );
}
