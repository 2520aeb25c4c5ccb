import { readFileSync } from 'node:fs';
import { HsmError } from '../errors/index.js';

/** Files of the service's mutual TLS: server certificate chain and key, and the client CA. */
export interface TlsFiles {
  certificate: string;
  key: string;
  clientCa: string;
}

/**
 * node:https options for mutual TLS: a client must present a certificate that chains to the
 * client CA, or the handshake fails (`requestCert` + `rejectUnauthorized`); TLS 1.2 at least.
 */
export function mutualTlsOptions(files: TlsFiles): Record<string, unknown> {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new HsmError(
        'HSM_ERR_CONFIG',
        `service.tls.${what}: cannot read ${path}: ${(err as Error).message}`,
      );
    }
  };
  return {
    cert: read(files.certificate, 'certificate'),
    key: read(files.key, 'key'),
    ca: read(files.clientCa, 'client_ca'),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}
