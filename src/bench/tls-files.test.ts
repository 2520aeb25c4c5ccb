/**
 * The throwaway mutual-TLS PKI, checked with `openssl verify` and `openssl x509` (not with the code
 * that made it): chains and purposes verify, a certificate of another CA does not, and the
 * extensions the service relies on (server IP SAN, client SAN URI) are present.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clientExtensions, makeCa, makeLeaf, makeTlsFiles, type TlsFiles } from './tls-files.js';

/** `openssl verify` of `cert` against `ca`: exit status and output. */
function verify(ca: string, cert: string, purpose: string): { status: number | null; out: string } {
  const r = spawnSync('openssl', ['verify', '-purpose', purpose, '-CAfile', ca, cert], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function text(cert: string): string {
  return execFileSync('openssl', ['x509', '-in', cert, '-noout', '-text'], { encoding: 'utf8' });
}

describe('throwaway mutual-TLS PKI (openssl)', () => {
  let dir: string;
  let files: TlsFiles;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hsmkit-tls-files-'));
    files = makeTlsFiles(dir, 'bench-client');
    makeCa(dir, 'other-ca');
    makeLeaf(dir, 'other-ca', 'stranger', 'stranger', clientExtensions('spiffe://hsmkit.test/human/x'));
    makeLeaf(dir, 'ca', 'alice', 'alice', clientExtensions('spiffe://hsmkit.test/human/alice'));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the server certificate verifies as a TLS server for 127.0.0.1 under the CA', () => {
    const v = verify(files.ca, files.serverCert, 'sslserver');
    assert.equal(v.status, 0, v.out);
    assert.match(text(files.serverCert), /IP Address:127\.0\.0\.1/);
    assert.match(text(files.serverCert), /TLS Web Server Authentication/);
  });

  it('the client certificates verify as TLS clients under the CA; a SAN URI is carried', () => {
    const v = verify(files.ca, files.clientCert, 'sslclient');
    assert.equal(v.status, 0, v.out);
    assert.match(text(files.clientCert), /Subject: CN\s*=\s*bench-client/);
    const a = join(dir, 'alice.pem');
    assert.equal(verify(files.ca, a, 'sslclient').status, 0);
    assert.match(text(a), /URI:spiffe:\/\/hsmkit\.test\/human\/alice/);
  });

  it('a certificate of another CA does not verify under the CA, and a client is no server', () => {
    const v = verify(files.ca, join(dir, 'stranger.pem'), 'sslclient');
    assert.notEqual(v.status, 0, v.out);
    assert.equal(verify(join(dir, 'other-ca.pem'), join(dir, 'stranger.pem'), 'sslclient').status, 0);
    assert.notEqual(verify(files.ca, files.clientCert, 'sslserver').status, 0);
  });
});
