/**
 * Shared fixture of the PKI integration tests: one SoftHSM token, an in-memory store and the PKI
 * services over the real PKCS#11 key manager, plus helpers that write artefacts and run openssl.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { type ErrorCode, HsmError } from '../../../src/errors/index.js';
import { toPem } from '../../../src/pki/pem.js';
import { createPkiDeps, type PkiDeps } from '../../../src/pki/pki-deps.js';
import { defaultPkiPolicy } from '../../../src/pki/policy.js';
import { Store } from '../../../src/store/index.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';
import { openssl, type ToolResult } from '../../support/tools.js';

/** The fixture: token, key manager, store, PKI deps and a work folder. */
export interface PkiFixture {
  token: SoftHsmToken;
  km: Pkcs11KeyManager;
  store: Store;
  deps: PkiDeps;
  work: string;
  close(): Promise<void>;
}

/** Opens a fresh token (two host processes, so RSA keygen does not hold up signing) and a store. */
export async function openFixture(): Promise<PkiFixture> {
  const token = createSoftHsmToken();
  const store = await Store.openMemory();
  const km = await Pkcs11KeyManager.open(token.member({ hostProcesses: 2 }) as never, { store: store.keys });
  const work = mkdtempSync(join(tmpdir(), 'hsmkit-pki-'));
  const deps = createPkiDeps(km, store, defaultPkiPolicy());
  return {
    token,
    km,
    store,
    deps,
    work,
    close: async () => {
      await km.close();
      await store.close();
      token.cleanup();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Writes `der` as PEM (or raw) into the work folder and returns the path. */
export function writePem(
  f: PkiFixture,
  name: string,
  der: Uint8Array | ArrayBuffer,
  label = 'CERTIFICATE',
): string {
  const p = join(f.work, name);
  writeFileSync(p, label === '' ? Buffer.from(der as ArrayBuffer) : toPem(new Uint8Array(der), label));
  return p;
}

/** Runs openssl and asserts exit 0, returning stdout+stderr. */
export function opensslOk(args: string[]): string {
  const r = openssl(args);
  assert.equal(r.status, 0, `openssl ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

/** Runs openssl and returns stdout+stderr whatever the exit status. */
export function opensslOutput(args: string[]): string {
  const r = openssl(args);
  return `${r.stdout}${r.stderr}`;
}

/** Runs openssl and asserts a non-zero exit. */
export function opensslFails(args: string[]): ToolResult {
  const r = openssl(args);
  assert.notEqual(r.status, 0, `openssl ${args.join(' ')} should fail\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Asserts that `work` rejects with an HsmError of `code`. */
export async function rejectsWith(work: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<void> {
  await assert.rejects(
    async () => (typeof work === 'function' ? work() : work),
    (err: unknown) => {
      assert.ok(err instanceof HsmError, `expected HsmError ${code}, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      return true;
    },
  );
}

/** Flips one bit of a copy of `bytes` at `index` (negative counts from the end). */
export function flip(bytes: Uint8Array | ArrayBuffer, index: number): Uint8Array {
  const out = new Uint8Array(bytes).slice();
  const i = index < 0 ? out.length + index : index;
  out[i] = out[i]! ^ 0x01;
  return out;
}
