/**
 * A scheduled recovery drill, wired as `hsmkit serve` wires it (config → duty → scheduler →
 * gauges + alert dispatcher): the backup is restored into a staging member that received the KEK
 * in a `backup kek import` ceremony, every key is verified, and with an RTO of 1 ms the run raises
 * `backup_drill_failed` to a webhook receiver started here and sets the drill gauges. The keys the
 * drill restored are gone from the staging token afterwards. A production member is refused.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { Pkcs11BackupKekMember } from '../../../src/adapters/pkcs11/backup-kek-member.js';
import type { WebhookPayload } from '../../../src/alerting/alert.js';
import { AlertDispatcher } from '../../../src/alerting/alert-dispatcher.js';
import { importBackupKek, type KekBundle } from '../../../src/backup/index.js';
import { keyFingerprint } from '../../../src/ceremony/approval.js';
import { openShare } from '../../../src/ceremony/share-envelope.js';
import { drillDutyFromConfig, scheduledDrills } from '../../../src/cli/scheduled-drills.js';
import { loadConfig } from '../../../src/config/load.js';
import { Secret } from '../../../src/config/secret.js';
import { HsmError } from '../../../src/errors/index.js';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';
import { listObjects } from '../../support/tools.js';
import { type BackupFixture, makeBackupFixture } from './fixture.js';

describe('scheduled recovery drill', { timeout: 300_000 }, () => {
  let fx: BackupFixture;
  let staging: SoftHsmToken;
  let receiver: Server;
  const received: WebhookPayload[] = [];
  let onReceived: (() => void) | undefined;

  before(async () => {
    fx = await makeBackupFixture('bk-drill');
    staging = createSoftHsmToken('bk-drill-stg');
    // The staging member gets the KEK once, from two custodians' shares.
    const so = await Pkcs11BackupKekMember.open({
      ...staging.member(),
      name: 'staging',
      pin: new Secret(staging.soPin, 'test'),
    });
    try {
      await importBackupKek({
        bundle: JSON.parse(readFileSync(fx.kek, 'utf8')) as KekBundle,
        target: so,
        decrypters: fx.shareKeys.map((f) => {
          const priv = createPrivateKey(readFileSync(f));
          const spki = createPublicKey(priv).export({ type: 'spki', format: 'der' });
          return {
            fingerprint: keyFingerprint(spki),
            decrypt: async (env, aad) => openShare(priv, env, aad),
          };
        }),
      });
    } finally {
      await so.close();
    }
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push(JSON.parse(body) as WebhookPayload);
        res.writeHead(204).end();
        onReceived?.();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  });

  after(async () => {
    await new Promise((r) => receiver?.close(r));
    staging?.cleanup();
    fx?.cleanup();
  });

  function writeConfig(rtoMs: number, stagingRole: 'staging' | 'production'): string {
    writeFileSync(join(fx.dir, 'user-pin-stg'), staging.userPin, { mode: 0o600 });
    const file = join(fx.dir, `drill-${rtoMs}-${stagingRole}.yaml`);
    const port = (receiver.address() as AddressInfo).port;
    writeFileSync(
      file,
      stringify({
        hsm_configuration: {
          provider: 'softhsm2',
          connection: {
            type: 'local',
            module: SOFTHSM_MODULE,
            members: [
              { name: 'm0', token_label: fx.token.label, pin_file: 'user-pin-0', env: fx.token.env },
              {
                name: 'staging',
                token_label: staging.label,
                pin_file: 'user-pin-stg',
                env: staging.env,
                role: stagingRole,
              },
            ],
          },
        },
        store: { driver: 'sqlite', path: join(fx.dir, 'hsmkit.db') },
        service: { alerting: { webhooks: [`http://127.0.0.1:${port}/hook`] } },
        backup: {
          drill: { interval_minutes: 60, backup: 'keys.backup.json', member: 'staging', rto_ms: rtoMs },
        },
      }),
    );
    return file;
  }

  it('a scheduled run over the RTO alerts through the webhook and sets the gauges', async () => {
    const config = loadConfig(writeConfig(1, 'staging'));
    assert.equal(config.backup.drill?.intervalMs, 3_600_000);
    const registry = new Registry();
    const alerts = new AlertDispatcher(config.service.alerting, undefined, () => undefined);
    let fire: (() => void) | undefined;
    let interval = 0;
    const scheduler = scheduledDrills(config, registry, alerts, {
      every: (ms, fn) => {
        interval = ms;
        fire = fn;
        return () => {
          fire = undefined;
        };
      },
    });
    assert.ok(scheduler);
    scheduler.start();
    assert.equal(interval, 3_600_000);
    const delivered = new Promise<void>((r) => {
      onReceived = r;
    });
    fire?.(); // the timer comes due
    await delivered;
    await scheduler.stop();
    await alerts.close();

    const last = scheduler.last!;
    assert.equal(last.ok, false);
    assert.equal(last.withinRto, false);
    assert.equal(last.verified, 2, 'both keys restored and verified before the RTO verdict');
    assert.equal(last.error, undefined);
    assert.equal(received.length, 1);
    const a = received[0]!.alert;
    assert.equal(a.kind, 'backup_drill_failed');
    assert.equal(a.severity, 'critical');
    assert.equal(a.member, 'staging');
    assert.equal(a.details?.rtoMs, 1);
    assert.ok(Number(a.details?.measuredMs) > 1);

    const text = await registry.metrics();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('hsmkit_backup_drill_within_rto'), 0);
    assert.equal(value('hsmkit_backup_drill_ok'), 0);
    assert.equal(value('hsmkit_backup_drill_keys_verified'), 2);
    assert.equal(value('hsmkit_backup_drill_rto_seconds'), 0.001);
    assert.ok(value('hsmkit_backup_drill_duration_seconds') > 0.001);
    assert.ok(value('hsmkit_backup_drill_last_run_timestamp_seconds') > Date.now() / 1000 - 600);
    assert.equal(value('hsmkit_backup_drill_last_success_timestamp_seconds'), 0, 'never succeeded');

    // The drill removed what it restored from the staging token; the source is untouched.
    assert.deepEqual(
      listObjects(staging, 'privkey').filter((o) => o.label?.startsWith('svc-')),
      [],
    );
    assert.equal(listObjects(fx.token, 'privkey').filter((o) => o.label?.startsWith('svc-')).length, 2);
  });

  it('a drill within its RTO passes, resolves the alert and records the success time', async () => {
    const config = loadConfig(writeConfig(600_000, 'staging'));
    const registry = new Registry();
    const raised: string[] = [];
    const resolved: string[] = [];
    const scheduler = scheduledDrills(
      config,
      registry,
      {
        raise: (x) => {
          raised.push(x.kind);
          return undefined;
        },
        resolve: (k) => {
          resolved.push(k);
          return true;
        },
      },
      { every: () => () => undefined },
    );
    const r = await scheduler!.tick();
    assert.equal(r?.ok, true, JSON.stringify(r));
    assert.deepEqual(raised, []);
    assert.deepEqual(resolved, ['backup_drill_failed']);
    const text = await registry.metrics();
    assert.match(text, /^hsmkit_backup_drill_ok 1$/m);
    assert.match(text, /^hsmkit_backup_drill_within_rto 1$/m);
    assert.ok(Number(/^hsmkit_backup_drill_last_success_timestamp_seconds (\S+)$/m.exec(text)?.[1]) > 0);
  });

  it('refuses a drill member that is not role: staging', () => {
    const config = loadConfig(writeConfig(1, 'production'));
    assert.throws(
      () => drillDutyFromConfig(config),
      (e) => e instanceof HsmError && e.code === 'HSM_ERR_CONFIG',
    );
  });
});
