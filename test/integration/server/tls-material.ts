/**
 * Test fixture: a throwaway client/server PKI made with the openssl CLI (EC P-256): a CA, a server
 * certificate for 127.0.0.1, client certificates with a CN and optional SAN URI, and a rogue CA
 * whose clients the service must refuse at the TLS layer. The certificates are made by the
 * benchmark's maker (src/bench/tls-files.ts), the one openssl PKI maker of the project.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientExtensions, makeCa, makeLeaf, SERVER_EXTENSIONS } from '../../../src/bench/tls-files.js';

/** PEM material of one client. */
export interface ClientCert {
  cert: Buffer;
  key: Buffer;
}

/** The material of one test run, in `dir`. */
export class TlsMaterial {
  constructor(readonly dir: string) {
    makeCa(dir, 'ca');
    makeCa(dir, 'rogue-ca');
    makeLeaf(dir, 'ca', 'server', 'localhost', SERVER_EXTENSIONS);
  }

  /** Paths for `service.tls`. */
  get serverFiles(): { certificate: string; key: string; clientCa: string } {
    return {
      certificate: join(this.dir, 'server.pem'),
      key: join(this.dir, 'server.key'),
      clientCa: join(this.dir, 'ca.pem'),
    };
  }

  /** The CA clients trust the server with. */
  get ca(): Buffer {
    return readFileSync(join(this.dir, 'ca.pem'));
  }

  /** A client certificate with subject CN `cn` and, when given, a SAN URI; `rogue` signs it with the untrusted CA. */
  client(cn: string, uri?: string, rogue = false): ClientCert {
    const file = `client-${randomBytes(4).toString('hex')}`;
    makeLeaf(this.dir, rogue ? 'rogue-ca' : 'ca', file, cn, clientExtensions(uri));
    return {
      cert: readFileSync(join(this.dir, `${file}.pem`)),
      key: readFileSync(join(this.dir, `${file}.key`)),
    };
  }
}
