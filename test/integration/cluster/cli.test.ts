/**
 * The cluster from the CLI: a config with two SoftHSM members, `cluster init-replication` with the
 * members' SO PIN files, then `cluster status` shows both members up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { runCli as cli } from '../../support/cli.js';
import {
  createSoftHsmToken,
  memberEntries,
  SOFTHSM_MODULE,
  type SoftHsmToken,
} from '../../support/softhsm.js';
import { listObjects } from '../../support/tools.js';

describe('hsmkit cluster', () => {
  let dir: string;
  let tokens: SoftHsmToken[];
  let config: string;
  const outputs: string[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hsmkit-cluster-cli-'));
    tokens = [createSoftHsmToken('cli-node0'), createSoftHsmToken('cli-node1')];
    const members = memberEntries(dir, tokens, (i) => `node${i}`).map((m, i) => ({
      ...m,
      site: i === 0 ? 'eu' : 'us',
    }));
    config = join(dir, 'hsmkit.yaml');
    writeFileSync(
      config,
      stringify({
        hsm_configuration: {
          provider: 'softhsm2',
          connection: { type: 'local', module: SOFTHSM_MODULE, members },
          // sla_ms is generous: this shared test machine is busy, and `degraded` is not what this test is about.
          high_availability: {
            replication: { min_copies: 2 },
            local_site: 'eu',
            health_interval_ms: 500,
            sla_ms: 5000,
          },
        },
        store: { driver: 'sqlite', path: join(dir, 'hsmkit.db') },
      }),
    );
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const t of tokens) t.cleanup();
  });

  it('init-replication puts a trusted replication key on every member; status shows them up', async () => {
    const missing = await cli([
      '--config',
      config,
      '--json',
      'cluster',
      'init-replication',
      '--so-pin-file',
      `node0=${join(dir, 'so-pin-0')}`,
    ]);
    outputs.push(missing.stdout, missing.stderr);
    assert.equal(missing.code, 2);
    assert.equal(JSON.parse(missing.stdout).error.code, 'HSM_ERR_INVALID_INPUT');

    const init = await cli([
      '--config',
      config,
      '--json',
      'cluster',
      'init-replication',
      '--so-pin-file',
      `node0=${join(dir, 'so-pin-0')}`,
      '--so-pin-file',
      `node1=${join(dir, 'so-pin-1')}`,
    ]);
    outputs.push(init.stdout, init.stderr);
    assert.equal(init.code, 0, init.stderr);
    assert.deepEqual(JSON.parse(init.stdout).members, ['node0-so', 'node1-so']);
    for (const t of tokens) {
      const secret = listObjects(t, 'secrkey').filter((o) => o.label === 'hsmkit-replication');
      assert.equal(secret.length, 1, `one replication key on ${t.label}`);
      assert.ok(
        !secret[0]!.access.includes('extractable'),
        `sealed, not extractable: ${secret[0]!.access.join(', ')}`,
      );
      assert.ok(secret[0]!.access.includes('sensitive'), 'sensitive');
    }

    // The ceremony left an audit record, and the chain verifies.
    const db = new Database(join(dir, 'hsmkit.db'), { readonly: true });
    try {
      const rows = db.prepare(`select result from audit_log where operation = 'key.create'`).all() as Array<{
        result: string;
      }>;
      assert.ok(
        rows.some((r) => r.result === 'ok'),
        'an ok key.create record for the replication key',
      );
    } finally {
      db.close();
    }
    const verifyAudit = await cli(['--config', config, '--json', 'audit', 'verify']);
    outputs.push(verifyAudit.stdout, verifyAudit.stderr);
    assert.equal(verifyAudit.code, 0, verifyAudit.stderr);

    const status = await cli(['--config', config, '--json', 'cluster', 'status']);
    outputs.push(status.stdout, status.stderr);
    assert.equal(status.code, 0, status.stderr);
    const members = JSON.parse(status.stdout).members as Array<{
      name: string;
      health: string;
      site: string;
    }>;
    assert.deepEqual(
      members.map((m) => [m.name, m.health, m.site]),
      [
        ['node0', 'up', 'eu'],
        ['node1', 'up', 'us'],
      ],
    );
  });

  it('keeps metadata of replicated keys once for the cluster, and writes audit checkpoints', async () => {
    const gen = await cli([
      '--config',
      config,
      '--json',
      'key',
      'generate',
      '--type',
      'ec-p256',
      '--label',
      'cluster-meta',
      '--meta',
      'purpose=tls',
      '--meta',
      'owner=team-pki',
      '--meta',
      'env=prod',
    ]);
    outputs.push(gen.stdout, gen.stderr);
    assert.equal(gen.code, 0, gen.stderr);
    assert.doesNotMatch(
      gen.stderr,
      /checkpoint_failure|needs a store/,
      'no failed checkpoint in cluster mode',
    );
    const created = JSON.parse(gen.stdout) as { uri: string; replicas: string[] };
    assert.deepEqual([...created.replicas].sort(), ['node0', 'node1'], 'copied to both members');
    assert.doesNotMatch(created.uri, /token=/, 'a logical URI');

    const show = await cli(['--config', config, '--json', 'key', 'show', created.uri]);
    outputs.push(show.stdout, show.stderr);
    assert.equal(show.code, 0, show.stderr);
    const meta = (JSON.parse(show.stdout) as { metadata: Record<string, unknown> }).metadata;
    assert.equal(meta.purpose, 'tls');
    assert.equal(meta.owner, 'team-pki');
    assert.equal(meta.status, 'active');
    assert.deepEqual(meta.tags, { env: 'prod' });

    // One record for the logical key, none per member; and the governor's checkpoint (signed by
    // the audit key it created on the cluster) is in the chain.
    const db = new Database(join(dir, 'hsmkit.db'), { readonly: true });
    try {
      const rows = db
        .prepare(`select uri, member from key_metadata where label = 'cluster-meta'`)
        .all() as Array<{
        uri: string;
        member: string;
      }>;
      assert.deepEqual(rows, [{ uri: created.uri, member: 'cluster' }]);
      const checkpoints = db
        .prepare(`select count(*) as n from audit_log where operation = 'audit.checkpoint'`)
        .get() as { n: number };
      assert.ok(checkpoints.n >= 1, 'a checkpoint record');
    } finally {
      db.close();
    }
    const verifyAudit = await cli(['--config', config, '--json', 'audit', 'verify']);
    outputs.push(verifyAudit.stdout, verifyAudit.stderr);
    assert.equal(verifyAudit.code, 0, verifyAudit.stderr);

    const del = await cli(['--config', config, '--json', 'key', 'delete', created.uri, '--yes']);
    outputs.push(del.stdout, del.stderr);
    assert.equal(del.code, 0, del.stderr);
    const after = new Database(join(dir, 'hsmkit.db'), { readonly: true });
    try {
      const n = after
        .prepare(`select count(*) as n from key_metadata where label = 'cluster-meta'`)
        .get() as {
        n: number;
      };
      assert.equal(n.n, 0, 'metadata removed with the key');
    } finally {
      after.close();
    }
    for (const t of tokens) {
      assert.equal(listObjects(t, 'privkey').filter((o) => o.label === 'cluster-meta').length, 0);
    }
  });

  it('never prints a PIN', () => {
    const all = outputs.join('\n');
    for (const t of tokens) {
      assert.ok(!all.includes(t.userPin) && !all.includes(t.soPin));
    }
  });
});
