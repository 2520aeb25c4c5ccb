/**
 * Test fixture: a throwaway client/server PKI made with the openssl CLI (EC P-256): a CA, a server
 * certificate for 127.0.0.1, client certificates with a CN and optional SAN URI, and a rogue CA
 * whose clients the service must refuse at the TLS layer.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM material of one client. */
export interface ClientCert {
  cert: Buffer;
  key: Buffer;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
}

function makeLeaf(dir: string, ca: string, file: string, cn: string, ext: string): void {
  writeFileSync(join(dir, `${file}.ext`), ext);
  openssl(
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${file}.key`,
      '-out',
      `${file}.csr`,
      '-subj',
      `/CN=${cn}`,
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${file}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '2',
      '-out',
      `${file}.pem`,
      '-extfile',
      `${file}.ext`,
    ],
    dir,
  );
}

/** The material of one test run, in `dir`. */
export class TlsMaterial {
  constructor(readonly dir: string) {
    makeCa(dir, 'ca');
    makeCa(dir, 'rogue-ca');
    makeLeaf(
      dir,
      'ca',
      'server',
      'localhost',
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
    );
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
    makeLeaf(
      this.dir,
      rogue ? 'rogue-ca' : 'ca',
      file,
      cn,
      `extendedKeyUsage=clientAuth\n${uri ? `subjectAltName=URI:${uri}\n` : ''}`,
    );
    return {
      cert: readFileSync(join(this.dir, `${file}.pem`)),
      key: readFileSync(join(this.dir, `${file}.key`)),
    };
  }
}
