/**
 * Chaos: the network HSM hangs. A `p11-kit server` (p11-kit-client → server → SoftHSM) is
 * SIGSTOPped under a governed signing load. hsmkit must not wait on it forever:
 * operation_timeout_ms turns the hang into HSM_ERR_TIMEOUT (retryable) for the calls in flight,
 * later calls fail with typed retryable codes in bounded time, and when the server continues
 * (SIGCONT) signing resumes by itself. Every call is answered exactly once, every success is a
 * valid signature, and the audit log holds one record per call and still verifies.
 * (The member-host SIGSTOP and the p11-kit SIGKILL cases live in test/integration.)
 */
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyManager } from '../../src/adapters/pkcs11/pkcs11-key-manager.js';
import type { Governance } from '../../src/governance/open-governance.js';
import { Store } from '../../src/store/store.js';
import { P11KIT_CLIENT } from '../support/p11kit-server.js';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm.js';
import {
  assertAuditAccounts,
  ChaosP11KitServer,
  failures,
  governed,
  tallied,
  tally,
  waitFor,
} from './support.js';

const TIMEOUT_MS = 1500;
const RETRYABLE = new Set([
  'HSM_ERR_TIMEOUT',
  'HSM_ERR_MEMBER_CRASHED',
  'HSM_ERR_DEVICE',
  'HSM_ERR_UNAVAILABLE',
]);

describe('chaos: a hung network HSM (SIGSTOPped p11-kit server)', () => {
  let token: SoftHsmToken;
  let server: ChaosP11KitServer;
  let store: Store;
  let km: Pkcs11KeyManager;
  let g: Governance;
  let pem: string;

  before(async () => {
    token = createSoftHsmToken();
    server = new ChaosP11KitServer(token);
    await server.start();
    store = await Store.openMemory();
    km = await Pkcs11KeyManager.open(
      {
        ...token.member(),
        name: 'network',
        module: P11KIT_CLIENT,
        env: server.env,
        operationTimeoutMs: TIMEOUT_MS,
        startTimeoutMs: 3000,
      } as never,
      { store: store.keys },
    );
    g = await governed(km, store);
    pem = (await g.km.createKey({ label: 'hang-p256', type: 'ec-p256' })).publicKeyPem;
    // The audit key exists before the fault, so the closing checkpoint needs no key generation.
    assert.equal(await g.governor.checkpoint(), undefined);
  });

  after(async () => {
    server?.cont();
    await km?.close();
    await server?.kill();
    await store?.close();
    token?.cleanup();
  });

  it('in-flight calls fail with HSM_ERR_TIMEOUT within operation_timeout_ms; service resumes after SIGCONT; audit accounts for every call', async () => {
    const data = Buffer.from('hung network hsm');
    const t = tally();
    let calls = 0;
    let stop = false;
    let stoppedAt = 0;
    let firstFailureAfterStop = Number.POSITIVE_INFINITY;
    const load = Array.from({ length: 4 }, async () => {
      while (!stop) {
        calls++;
        const sig = await tallied(t, () => g.km.sign({ key: 'hang-p256', data }));
        if (sig) assert.ok(verify('sha256', data, pem, sig), 'a signature does not verify');
        else if (stoppedAt > 0)
          firstFailureAfterStop = Math.min(firstFailureAfterStop, performance.now() - stoppedAt);
      }
    });
    await waitFor(() => t.ok >= 100, 20_000, 'warm-up');
    server.stop();
    stoppedAt = performance.now();
    await waitFor(() => failures(t) > 0, TIMEOUT_MS * 4, 'first failure after SIGSTOP');
    // Keep the HSM hung a while longer: new calls must fail in bounded time too, not pile up.
    await new Promise((r) => setTimeout(r, 2500));
    const okBeforeCont = t.ok;
    server.cont();
    const contAt = performance.now();
    await waitFor(() => t.ok > okBeforeCont + 50, 30_000, 'signing resumes after SIGCONT');
    const resumedMs = performance.now() - contAt;
    stop = true;
    await Promise.all(load);

    console.log(
      `p11-kit hang: ${calls} calls, ${t.ok} ok, failed ${JSON.stringify([...t.failed])}; first failure ${firstFailureAfterStop.toFixed(0)} ms after SIGSTOP; resumed ${resumedMs.toFixed(0)} ms after SIGCONT; slowest call ${t.slowestMs.toFixed(0)} ms`,
    );
    assert.deepEqual(t.untyped, [], 'every failure is a typed HsmError');
    assert.ok(t.failed.has('HSM_ERR_TIMEOUT'), 'the hang surfaced as HSM_ERR_TIMEOUT');
    for (const code of t.failed.keys()) assert.ok(RETRYABLE.has(code), `unexpected failure code ${code}`);
    assert.ok(
      firstFailureAfterStop < TIMEOUT_MS + 2000,
      `first failure after ${firstFailureAfterStop.toFixed(0)} ms`,
    );
    assert.equal(t.ok + failures(t), calls, 'every call answered exactly once');
    await assertAuditAccounts(g, { 'key.sign': { ok: t.ok, error: failures(t) } });
  });
});
