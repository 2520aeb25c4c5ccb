/**
 * Chaos test B (issue 5): a network HSM member (p11-kit-client → p11-kit server → SoftHSM) dies
 * mid-load. The cluster routes around it (every request still succeeds through the local path to
 * the same partition) and, when the server is restarted on the same socket, the member rejoins
 * without restarting hsmkit: the member host reloads the module (C_Finalize + C_Initialize), which
 * is the only cure for p11-kit's sticky CKR_DEVICE_ERROR.
 */
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { ClusterKeyManager } from '../../../src/cluster/cluster-key-manager.js';
import { P11KIT_CLIENT, P11KitServer } from '../../support/p11kit-server.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';

function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () =>
      cond() ? resolve() : Date.now() > end ? reject(new Error('timed out')) : setTimeout(tick, 20);
    tick();
  });
}

describe('chaos B: the network member dies and rejoins', () => {
  let token: SoftHsmToken;
  let server: P11KitServer;
  let cluster: ClusterKeyManager;
  let pem: string;

  before(async () => {
    token = createSoftHsmToken('partition');
    server = new P11KitServer(token);
    await server.start();
    const network = await Pkcs11KeyManager.open({
      ...token.member(),
      name: 'network',
      module: P11KIT_CLIENT,
      env: server.env,
      failFast: true,
      operationTimeoutMs: 2000,
    });
    const local = await Pkcs11KeyManager.open({
      ...token.member(),
      name: 'local',
      failFast: true,
      operationTimeoutMs: 2000,
    });
    // Both members reach the same partition (as an HA group does), so keys exist on both paths.
    pem = (await local.createKey({ label: 'shared-p256', type: 'ec-p256' })).publicKeyPem;
    cluster = new ClusterKeyManager(
      [
        { name: 'network', km: network },
        { name: 'local', km: local },
      ],
      { healthIntervalMs: 200, failoverTimeoutMs: 3000 },
    );
    await cluster.start();
  });

  after(async () => {
    await cluster?.close();
    await server?.kill();
    token?.cleanup();
  });

  it('routes around the dead server within 1 s and takes the member back when it returns', async () => {
    const states: Array<{ member: string; to: string; at: number }> = [];
    cluster.on('member-state', (e: { member: string; to: string }) =>
      states.push({ ...e, at: performance.now() }),
    );
    let ok = 0;
    let failed = 0;
    let stop = false;
    const data = Buffer.from('network chaos');
    const load = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          const sig = await cluster.sign({ key: 'shared-p256', data });
          assert.ok(verify('sha256', data, pem, sig));
          ok++;
        } catch {
          failed++;
        }
      }
    });
    await until(() => ok > 500, 10_000).catch(() => {
      throw new Error(`warm-up: ok=${ok} failed=${failed}`);
    });
    const network = cluster.members.find((m) => m.name === 'network')!;
    const killedAt = performance.now();
    await server.kill();
    await until(() => network.health === 'down', 5000).catch(() => {
      throw new Error(`down: ${network.health} ${network.breaker.state} ok=${ok} failed=${failed}`);
    });
    const routedAroundMs = performance.now() - killedAt;
    const okAtKill = ok;
    await until(() => ok > okAtKill + 500, 10_000);
    await server.start();
    const restartedAt = performance.now();
    await until(() => network.health === 'up', 15_000).catch(() => {
      throw new Error(`up: ${network.health} ${network.breaker.state}`);
    });
    const rejoinMs = performance.now() - restartedAt;
    // The rejoined member serves again: a signature through it alone verifies.
    const direct = await network.km.sign({ key: 'shared-p256', data });
    assert.ok(verify('sha256', data, pem, direct));
    stop = true;
    await Promise.all(load);
    console.log(
      `chaos B: ${ok} ok, ${failed} failed; network member marked down ${routedAroundMs.toFixed(0)} ms after the kill; rejoined ${rejoinMs.toFixed(0)} ms after restart; transitions ${states.map((s) => `${s.member}:${s.to}`).join(' ')}`,
    );
    assert.equal(failed, 0, 'every request succeeded through the other path');
    assert.ok(routedAroundMs < 1000, `routed around after ${routedAroundMs.toFixed(0)} ms`);
  });
});
