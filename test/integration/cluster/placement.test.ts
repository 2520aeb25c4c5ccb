/**
 * Replication where a member cannot wrap (issue 5): a p11-kit network member (p11-kit 0.24 RPC
 * forwards no key-wrap mechanisms) is left out of replication with a clear alert; with two wrapping
 * members left, keys are copied between them; with fewer, the key is placed on one member and the
 * refusal is said plainly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { Pkcs11ReplicationCeremonyMember } from '../../../src/adapters/pkcs11/replication-ceremony.js';
import { ClusterKeyManager } from '../../../src/cluster/cluster-key-manager.js';
import { establishReplicationKey, REPLICATION_KEY_LABEL } from '../../../src/cluster/replication-ceremony.js';
import { Secret } from '../../../src/config/secret.js';
import { countObjects } from '../../support/cluster-tools.js';
import { P11KIT_CLIENT, P11KitServer } from '../../support/p11kit-server.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';

describe('replication with a member that cannot wrap', () => {
  const tokens: SoftHsmToken[] = [];
  let server: P11KitServer;
  const kms: Pkcs11KeyManager[] = [];
  const clusters: ClusterKeyManager[] = [];

  before(async () => {
    for (const label of ['wrap-a', 'wrap-b', 'remote']) tokens.push(createSoftHsmToken(label));
    const so = await Promise.all(
      tokens.slice(0, 2).map((t, i) =>
        Pkcs11ReplicationCeremonyMember.open({
          ...t.member(),
          name: `so${i}`,
          pin: new Secret(t.soPin, 'test'),
        }),
      ),
    );
    try {
      await establishReplicationKey(so);
    } finally {
      await Promise.all(so.map((m) => m.close()));
    }
    server = new P11KitServer(tokens[2]!);
    await server.start();
  });

  after(async () => {
    for (const c of clusters) await c.close();
    await server?.kill();
    for (const t of tokens) t.cleanup();
  });

  async function open(name: string, token: SoftHsmToken, remote = false): Promise<Pkcs11KeyManager> {
    const km = await Pkcs11KeyManager.open({
      ...token.member(),
      name,
      failFast: true,
      ...(remote ? { module: P11KIT_CLIENT, env: server.env } : {}),
    });
    kms.push(km);
    return km;
  }

  it('copies between the wrapping members and leaves the network member out, saying so', async () => {
    const members = [
      { name: 'a', km: await open('a', tokens[0]!) },
      { name: 'b', km: await open('b', tokens[1]!) },
      { name: 'remote', km: await open('remote', tokens[2]!, true) },
    ];
    const cluster = new ClusterKeyManager(members, {
      replicationKeyLabel: REPLICATION_KEY_LABEL,
      healthIntervalMs: 500,
    });
    clusters.push(cluster);
    const alerts: string[] = [];
    cluster.on('alert', (a: { message: string }) => alerts.push(a.message));
    await cluster.start();
    assert.ok(
      alerts.some((m) => m.includes('member remote cannot wrap keys')),
      alerts.join('\n'),
    );
    const info = await cluster.createKey({ label: 'two-copies', type: 'ec-p256' });
    assert.deepEqual(info.replicas?.sort(), ['a', 'b']);
    assert.equal(countObjects(tokens[0]!, 'two-copies'), 2);
    assert.equal(countObjects(tokens[1]!, 'two-copies'), 2);
    assert.equal(
      countObjects(tokens[2]!, 'two-copies'),
      0,
      'nothing was sent to the member that cannot wrap',
    );
  });

  it('with fewer than two wrapping members the key is placed on one member and the refusal is an alert', async () => {
    const cluster = new ClusterKeyManager(
      [
        { name: 'a2', km: await open('a2', tokens[0]!) },
        { name: 'remote2', km: await open('remote2', tokens[2]!, true) },
      ],
      { replicationKeyLabel: REPLICATION_KEY_LABEL, healthIntervalMs: 500 },
    );
    clusters.push(cluster);
    const alerts: string[] = [];
    cluster.on('alert', (a: { message: string }) => alerts.push(a.message));
    await cluster.start();
    const info = await cluster.createKey({ label: 'placed', type: 'ec-p256' });
    assert.equal(info.replicas?.length, 1);
    assert.ok(
      alerts.some((m) => m.includes('replication refused for placed')),
      alerts.join('\n'),
    );
    const onA = countObjects(tokens[0]!, 'placed');
    const onRemote = countObjects(tokens[2]!, 'placed');
    assert.equal(onA + onRemote, 2, 'one key pair, on one member');
    // A placed key is an ordinary non-extractable key: no CKA_WRAP_WITH_TRUSTED, not extractable.
    assert.equal(info.attributes.extractable, false);
  });
});
