/**
 * `hsmkit maintenance plan|end` on a three-member SoftHSM cluster (two production, one staging):
 * a stale backup and a tampered backup are refused with their codes; the vendor firmware hook
 * (a real script) accepts one image and refuses another; an admitted plan takes the member out of
 * rotation — `cluster status` shows it and the cluster places no new key on it — and `end` returns
 * it. Every step is in the audit log.
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { followMaintenance } from '../../../src/cli/follow-maintenance.js';
import { openCluster } from '../../../src/cli/open-cluster.js';
import { loadConfig } from '../../../src/config/load.js';
import { Store } from '../../../src/store/store.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { type BackupFixture, cli, makeBackupFixture } from './fixture.js';

describe('hsmkit maintenance plan', { timeout: 400_000 }, () => {
  let fx: BackupFixture;
  let others: SoftHsmToken[];
  let config: string;
  const g = () => ['--config', config, '--json'];

  before(async () => {
    fx = await makeBackupFixture('bk-maint');
    others = [createSoftHsmToken('bk-maint-m1'), createSoftHsmToken('bk-maint-stg')];
    others.forEach((t, i) => {
      writeFileSync(join(fx.dir, `user-pin-o${i}`), t.userPin, { mode: 0o600 });
    });
    // The vendor's firmware signature check: here a script that accepts images carrying a marker.
    const hook = join(fx.dir, 'verify-firmware.sh');
    writeFileSync(
      hook,
      '#!/bin/sh\ngrep -q "VENDOR-SIGNED" "$1" || { echo "bad signature on $1"; exit 3; }\n',
    );
    chmodSync(hook, 0o755);
    writeFileSync(join(fx.dir, 'good.fw'), 'firmware 7.8.4\nVENDOR-SIGNED\n');
    writeFileSync(join(fx.dir, 'bad.fw'), 'firmware 7.8.4\nforged\n');
    writeFileSync(
      join(fx.dir, 'rollback.md'),
      '1. keep 7.8.3 image\n2. lunash hsm update firmware --rollback\n',
    );
    config = join(fx.dir, 'maint.yaml');
    writeFileSync(
      config,
      stringify({
        hsm_configuration: {
          provider: 'softhsm2',
          connection: {
            type: 'local',
            module: SOFTHSM_MODULE,
            members: [
              { name: 'm0', token_label: fx.token.label, pin_file: 'user-pin-0', env: fx.token.env },
              { name: 'm1', token_label: others[0]!.label, pin_file: 'user-pin-o0', env: others[0]!.env },
              {
                name: 'stg',
                token_label: others[1]!.label,
                pin_file: 'user-pin-o1',
                env: others[1]!.env,
                role: 'staging',
              },
            ],
          },
        },
        store: { driver: 'sqlite', path: join(fx.dir, 'hsmkit.db') },
        backup: { maintenance: { firmware_verify_command: [hook] } },
      }),
    );
  });

  after(() => {
    for (const t of others ?? []) t.cleanup();
    fx?.cleanup();
  });

  const plan = (extra: string[]) =>
    cli([
      ...g(),
      'maintenance',
      'plan',
      '--member',
      'm0',
      '--backup',
      fx.backup,
      '--rollback-plan',
      join(fx.dir, 'rollback.md'),
      ...extra,
    ]);

  /** The checklist printed before the coded error (both JSON on stdout with --json). */
  const checklist = (stdout: string) =>
    JSON.parse(stdout.slice(0, stdout.indexOf('\n}\n') + 2)) as {
      ok: boolean;
      checks: Array<{ id: string; status: string; detail: string }>;
    };
  const status = (p: ReturnType<typeof checklist>, id: string) => p.checks.find((c) => c.id === id)?.status;

  it('refuses a stale backup, a tampered backup and a firmware image the hook rejects', async () => {
    // 0.0001 h = 0.36 s: the backup made in before() is older than that by now.
    const stale = await plan(['--max-backup-age-hours', '0.0001', '--firmware', join(fx.dir, 'good.fw')]);
    assert.notEqual(stale.code, 0);
    assert.match(stale.stdout, /"code": "HSM_ERR_POLICY"/);
    const sp = checklist(stale.stdout);
    assert.equal(sp.ok, false);
    assert.equal(status(sp, 'backup-verified'), 'pass');
    assert.equal(status(sp, 'backup-fresh'), 'fail');
    assert.equal(status(sp, 'firmware-signature'), 'pass');

    const text = readFileSync(fx.backup, 'utf8');
    const tampered = join(fx.dir, 'tampered.json');
    writeFileSync(tampered, text.replace('"svc-rsa"', '"svc-RSA"'));
    const bad = await cli([
      ...g(),
      'maintenance',
      'plan',
      '--member',
      'm0',
      '--backup',
      tampered,
      '--rollback-plan',
      join(fx.dir, 'rollback.md'),
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout, /"code": "HSM_ERR_BACKUP_INVALID"/);
    assert.equal(status(checklist(bad.stdout), 'backup-verified'), 'fail');

    const fw = await plan(['--firmware', join(fx.dir, 'bad.fw')]);
    assert.notEqual(fw.code, 0);
    assert.match(fw.stdout, /"code": "HSM_ERR_POLICY"/);
    const fp = checklist(fw.stdout);
    assert.equal(status(fp, 'firmware-signature'), 'fail');
    assert.match(fp.checks.find((c) => c.id === 'firmware-signature')!.detail, /exit 3/);
    assert.equal(status(fp, 'backup-fresh'), 'pass');

    const noPlan = await cli([...g(), 'maintenance', 'plan', '--member', 'm0', '--backup', fx.backup]);
    assert.notEqual(noPlan.code, 0);
    assert.equal(status(checklist(noPlan.stdout), 'rollback-plan'), 'fail');

    const st = await cli([...g(), 'cluster', 'status']);
    assert.equal(st.code, 0, st.stderr);
    for (const m of JSON.parse(st.stdout).members) assert.equal(m.maintenance, undefined, 'nothing recorded');
  });

  it('admits a safe plan: m0 leaves rotation, the cluster skips it, end returns it', async () => {
    const ok = await plan([
      '--firmware',
      join(fx.dir, 'good.fw'),
      '--window',
      `${new Date(Date.now() - 60_000).toISOString()}/${new Date(Date.now() + 3_600_000).toISOString()}`,
    ]);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    const p = JSON.parse(ok.stdout);
    assert.equal(p.ok, true);
    assert.deepEqual(
      p.checks.map((c: { id: string; status: string }) => `${c.id}:${c.status}`),
      [
        'backup-verified:pass',
        'backup-fresh:pass',
        'test-member:pass',
        'rotation:pass',
        'rollback-plan:pass',
        'firmware-signature:pass',
        'window:pass',
      ],
    );
    const again = await plan([]);
    assert.notEqual(again.code, 0, 'a member already in maintenance is refused');

    const st = await cli([...g(), 'cluster', 'status']);
    assert.equal(st.code, 0, st.stderr);
    const members = JSON.parse(st.stdout).members as Array<{
      name: string;
      maintenance?: { reason: string };
    }>;
    assert.equal(members.find((m) => m.name === 'm0')?.maintenance?.reason, 'firmware update');
    assert.equal(members.find((m) => m.name === 'm1')?.maintenance, undefined);

    // The cluster honours it: new keys (no replication configured: one member each) avoid m0.
    const cfg = loadConfig(config);
    const store = await Store.openSqlite(join(fx.dir, 'hsmkit.db'));
    const cluster = await openCluster(cfg);
    const stop = await followMaintenance(cluster, store.db);
    try {
      for (let i = 0; i < 4; i++) await cluster.createKey({ label: `rot-${i}`, type: 'ec-p256' });
      const placed = (await cluster.listKeys()).filter((k) => k.label.startsWith('rot-'));
      assert.equal(placed.length, 4);
      for (const k of placed)
        assert.ok(!k.replicas?.includes('m0'), `${k.label} on ${k.replicas?.join(',')}`);
      assert.ok(placed.some((k) => k.replicas?.includes('m1')));
    } finally {
      stop();
      await cluster.close();
      await store.close();
    }

    const end = await cli([...g(), 'maintenance', 'end', '--member', 'm0']);
    assert.equal(end.code, 0, end.stderr + end.stdout);
    const st2 = await cli([...g(), 'cluster', 'status']);
    assert.equal(
      (JSON.parse(st2.stdout).members as Array<{ name: string; maintenance?: unknown }>).find(
        (m) => m.name === 'm0',
      )?.maintenance,
      undefined,
    );

    const db = new Database(join(fx.dir, 'hsmkit.db'), { readonly: true });
    try {
      const rows = db
        .prepare(
          "SELECT operation, result, error_code FROM audit_log WHERE operation LIKE 'maintenance.%' ORDER BY seq",
        )
        .all() as Array<{ operation: string; result: string; error_code: string | null }>;
      assert.deepEqual(
        rows.map((r) => `${r.operation}:${r.result}:${r.error_code ?? ''}`),
        [
          'maintenance.plan:error:HSM_ERR_POLICY',
          'maintenance.plan:error:HSM_ERR_BACKUP_INVALID',
          'maintenance.plan:error:HSM_ERR_POLICY',
          'maintenance.plan:error:HSM_ERR_POLICY',
          'maintenance.plan:ok:',
          'maintenance.plan:error:HSM_ERR_POLICY',
          'maintenance.end:ok:',
        ],
      );
    } finally {
      db.close();
    }
  });
});
