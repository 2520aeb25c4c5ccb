/** Starts the Cloud KMS fake and a GcpKmsKeyManager pointed at it, for the gcpkms contract tests. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GcpKmsKeyManager, type GcpKmsKeyManagerOptions } from '../../../src/adapters/gcpkms/index.js';
import { GcpKmsFake } from '../../support/gcpkms-fake.js';

/** The key ring the tests use. */
export const KEY_RING = 'projects/hsmkit-test/locations/us-east1/keyRings/ring-1';

/** A fake plus a manager on it; sleeps are recorded, not waited for. */
export interface Harness {
  fake: GcpKmsFake;
  km: GcpKmsKeyManager;
  /** Every backoff or poll delay the manager asked for, in ms. */
  sleeps: number[];
  close(): Promise<void>;
}

/** Starts the fake on 127.0.0.1 (random port) and a manager with the key ring created. */
export async function startHarness(opts: Partial<GcpKmsKeyManagerOptions> = {}): Promise<Harness> {
  const fake = await GcpKmsFake.start();
  const sleeps: number[] = [];
  const km = new GcpKmsKeyManager({
    keyRing: KEY_RING,
    member: 'gcp-test',
    connection: {
      apiEndpoint: '127.0.0.1',
      port: fake.port,
      protocol: 'http',
      credentials: 'none',
      timeoutMs: 20_000,
    },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...opts,
  });
  await km.createKeyRing();
  return {
    fake,
    km,
    sleeps,
    async close() {
      await km.close();
      await fake.stop();
    },
  };
}

/** Verifies a signature with the OpenSSL command line, given the SPKI PEM. True on "Verified OK". */
export function opensslVerify(
  publicKeyPem: string,
  data: Uint8Array,
  signature: Uint8Array,
  hash: 'sha256' | 'sha384' | 'sha512',
  pss = false,
): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'gcpkms-verify-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), publicKeyPem);
    writeFileSync(join(dir, 'data.bin'), data);
    writeFileSync(join(dir, 'sig.bin'), signature);
    const pssOpts = pss ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest'] : [];
    const r = spawnSync(
      'openssl',
      [
        'dgst',
        `-${hash}`,
        '-verify',
        join(dir, 'pub.pem'),
        ...pssOpts,
        '-signature',
        join(dir, 'sig.bin'),
        join(dir, 'data.bin'),
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    return r.status === 0 && r.stdout.includes('Verified OK');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Verifies an Ed25519 signature with `openssl pkeyutl -verify -rawin`. */
export function opensslVerifyEd25519(publicKeyPem: string, data: Uint8Array, signature: Uint8Array): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'gcpkms-verify-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), publicKeyPem);
    writeFileSync(join(dir, 'data.bin'), data);
    writeFileSync(join(dir, 'sig.bin'), signature);
    const r = spawnSync(
      'openssl',
      [
        'pkeyutl',
        '-verify',
        '-pubin',
        '-inkey',
        join(dir, 'pub.pem'),
        '-rawin',
        '-in',
        join(dir, 'data.bin'),
        '-sigfile',
        join(dir, 'sig.bin'),
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    return r.status === 0 && r.stdout.includes('Signature Verified Successfully');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
