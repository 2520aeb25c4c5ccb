/**
 * A throwaway mutual-TLS PKI made with the openssl CLI (EC P-256, valid 2 days): CAs, server and
 * client certificates as PEM files in one folder. The benchmark's service uses it, and so do the
 * tests and the soak (through test/integration/server/tls-material.ts): one maker, so a change of
 * key type or extensions reaches every caller.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM files of the benchmark's throwaway mutual-TLS PKI (made with the openssl CLI). */
export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** The extensions of a server certificate for 127.0.0.1 and localhost. */
export const SERVER_EXTENSIONS = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';

/** The extensions of a client certificate, with a SAN URI when `uri` is given. */
export function clientExtensions(uri?: string): string {
  return `extendedKeyUsage=clientAuth\n${uri ? `subjectAltName=URI:${uri}\n` : ''}`;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed CA in `dir`: `<name>.pem` and `<name>.key`, subject CN `cn` (default `name`). */
export function makeCa(dir: string, name: string, cn = name): void {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
      .concat(['-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`])
      .concat(['-addext', 'basicConstraints=critical,CA:TRUE'])
      .concat(['-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
    dir,
  );
}

/**
 * A certificate signed by the CA `ca` (made by {@link makeCa} in `dir`): `<name>.pem` and
 * `<name>.key`, subject CN `cn`, the openssl extension lines `ext`, a random serial.
 */
export function makeLeaf(dir: string, ca: string, name: string, cn: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    ]),
    dir,
  );
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`]
      .concat(['-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2'])
      .concat(['-out', `${name}.pem`, '-extfile', `${name}.ext`]),
    dir,
  );
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate with CN `clientCn`, in `dir`. */
export function makeTlsFiles(dir: string, clientCn: string): TlsFiles {
  makeCa(dir, 'ca', 'hsmkit bench CA');
  makeLeaf(dir, 'ca', 'server', 'localhost', SERVER_EXTENSIONS);
  makeLeaf(dir, 'ca', 'client', clientCn, clientExtensions());
  return {
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}
