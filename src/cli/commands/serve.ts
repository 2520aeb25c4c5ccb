import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { OcspResponder } from '../../pki/ocsp/ocsp-responder.js';
import { parseValidity } from '../../pki/validity.js';
import { buildApp } from '../../server/app.js';
import { CrlPublisher } from '../../server/crl-publisher.js';
import { emit, type GlobalOptions } from '../output.js';
import { withPki } from './ca.js';

/** Parses `host:port` (IPv6 as `[::1]:8080`). */
function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new HsmError('HSM_ERR_INVALID_INPUT', '--listen takes host:port, e.g. 127.0.0.1:8080');
  return { host: (m[1] ?? m[2])!, port };
}

/** `hsmkit serve [--listen 127.0.0.1:PORT]`: OCSP responder and CRL publication until SIGINT/SIGTERM. */
export function registerServe(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description('run the HTTP service: OCSP (GET/POST /ocsp) and CRLs (GET /crl/<ca>.crl)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8080')
    .option('--ocsp-refresh <duration>', 'how often pre-signed OCSP responses are re-signed', '1h')
    .action(async (o: { listen: string; ocspRefresh: string }) => {
      const { host, port } = parseListen(o.listen);
      const refreshMs = parseValidity(o.ocspRefresh);
      await withPki(globals(), async (deps) => {
        const ocsp = new OcspResponder(deps, { refreshMs, validityMs: Math.max(refreshMs * 2, 3_600_000) });
        await ocsp.start();
        const app = buildApp({ ocsp, crl: new CrlPublisher(deps) });
        const address = await app.listen({ host, port });
        emit(
          globals(),
          { listening: address, presigned: ocsp.lastRefreshSigned },
          () => `hsmkit serving on ${address}`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        ocsp.stop();
        await app.close();
      });
    });
}
