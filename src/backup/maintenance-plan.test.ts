import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { HsmError } from '../errors/index.js';
import { type BackupFile, manifestBytes, serializeBackup, sha256hex } from './format.js';
import { assertPlanAdmitted, type MaintenanceInputs, planMaintenance } from './maintenance-plan.js';

/** A signed, empty backup made in software (the HSM signer is not what these rules are about). */
function backupAt(createdAt: string): Uint8Array {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const manifest: BackupFile['manifest'] = {
    createdAt,
    source: { member: 'm0', token: 't' },
    kek: { label: 'hsmkit-backup-kek' },
    signer: {
      label: 'hsmkit-backup-signing',
      alg: 'ecdsa-p256-sha256',
      spki: spki.toString('base64'),
      fingerprint: sha256hex(spki),
    },
    entries: [],
    notBackedUp: [],
  };
  const signature = sign('sha256', manifestBytes(manifest), { key: privateKey, dsaEncoding: 'der' });
  return Buffer.from(
    serializeBackup({
      format: 'hsmkit-backup',
      v: 1,
      manifest,
      signature: signature.toString('base64'),
      entries: [],
    }),
  );
}

const NOW = new Date('2026-11-28T12:00:00Z');

function inputs(over: Partial<MaintenanceInputs> = {}): MaintenanceInputs {
  const data = backupAt('2026-11-28T06:00:00Z');
  return {
    member: 'm0',
    members: [
      { name: 'm0', role: 'production', inMaintenance: false },
      { name: 'm1', role: 'production', inMaintenance: false },
      { name: 'stg', role: 'staging', inMaintenance: false },
    ],
    loadBackup: async () => data,
    backupLocation: 'b.json',
    maxBackupAgeHours: 24,
    rollbackPlan: { path: 'rollback.md', present: true },
    window: { start: NOW, end: new Date(NOW.getTime() + 3_600_000) },
    now: NOW,
    ...over,
  };
}

const statusOf = async (over: Partial<MaintenanceInputs>, id: string) =>
  (await planMaintenance(inputs(over))).checks.find((c) => c.id === id)?.status;

describe('maintenance plan rules', () => {
  it('admits a plan whose every check passes; the firmware check is skipped without a file', async () => {
    const p = await planMaintenance(inputs());
    assert.equal(p.ok, true);
    assert.equal(p.backup.ageHours, 6);
    assert.equal(p.checks.find((c) => c.id === 'firmware-signature')?.status, 'skipped');
    assertPlanAdmitted(p);
  });

  it('refuses a backup older than the limit by its signed creation time (HSM_ERR_POLICY)', async () => {
    const p = await planMaintenance(
      inputs({
        now: new Date('2026-11-30T12:00:00Z'),
        window: { start: NOW, end: new Date('2026-12-01T00:00:00Z') },
      }),
    );
    assert.equal(p.checks.find((c) => c.id === 'backup-fresh')?.status, 'fail');
    assert.throws(
      () => assertPlanAdmitted(p),
      (e) => HsmError.is(e, 'HSM_ERR_POLICY'),
    );
  });

  it('refuses an unreadable or tampered backup (HSM_ERR_BACKUP_INVALID)', async () => {
    const text = Buffer.from(backupAt('2026-11-28T06:00:00Z')).toString('utf8');
    for (const load of [
      async () => Buffer.from(text.replace('"m0"', '"mX"')),
      async () => Buffer.from('not json'),
      async () => {
        throw new HsmError('HSM_ERR_NOT_FOUND', 'gone');
      },
    ]) {
      const p = await planMaintenance(inputs({ loadBackup: load }));
      assert.equal(p.checks.find((c) => c.id === 'backup-verified')?.status, 'fail');
      assert.throws(
        () => assertPlanAdmitted(p),
        (e) => HsmError.is(e, 'HSM_ERR_BACKUP_INVALID'),
      );
    }
  });

  it('table: members, rollback plan, firmware hook and window', async () => {
    const cases: Array<[string, Partial<MaintenanceInputs>, string, string]> = [
      [
        'no staging member',
        {
          members: [
            { name: 'm0', role: 'production', inMaintenance: false },
            { name: 'm1', role: 'production', inMaintenance: false },
          ],
        },
        'test-member',
        'fail',
      ],
      ['a staging member itself', { member: 'stg' }, 'test-member', 'pass'],
      ['unknown member', { member: 'zz' }, 'test-member', 'fail'],
      [
        'already in maintenance',
        {
          members: [
            { name: 'm0', role: 'production', inMaintenance: true },
            { name: 'm1', role: 'production', inMaintenance: false },
            { name: 'stg', role: 'staging', inMaintenance: false },
          ],
        },
        'rotation',
        'fail',
      ],
      [
        'last production member',
        {
          members: [
            { name: 'm0', role: 'production', inMaintenance: false },
            { name: 'm1', role: 'production', inMaintenance: true },
            { name: 'stg', role: 'staging', inMaintenance: false },
          ],
        },
        'rotation',
        'fail',
      ],
      ['no rollback plan', { rollbackPlan: undefined }, 'rollback-plan', 'fail'],
      ['empty rollback plan', { rollbackPlan: { path: 'r', present: false } }, 'rollback-plan', 'fail'],
      ['firmware without a hook', { firmware: { path: 'fw' } }, 'firmware-signature', 'fail'],
      [
        'hook accepts',
        { firmware: { path: 'fw', verify: async () => ({ exitCode: 0, output: '' }) } },
        'firmware-signature',
        'pass',
      ],
      [
        'hook refuses',
        { firmware: { path: 'fw', verify: async () => ({ exitCode: 1, output: 'bad' }) } },
        'firmware-signature',
        'fail',
      ],
      [
        'hook cannot run',
        {
          firmware: {
            path: 'fw',
            verify: async () => {
              throw new Error('ENOENT');
            },
          },
        },
        'firmware-signature',
        'fail',
      ],
      ['window backwards', { window: { start: NOW, end: new Date(NOW.getTime() - 1) } }, 'window', 'fail'],
      [
        'window over',
        { window: { start: new Date(NOW.getTime() - 7_200_000), end: new Date(NOW.getTime() - 3_600_000) } },
        'window',
        'fail',
      ],
      ['window not a date', { window: { start: new Date('x'), end: NOW } }, 'window', 'fail'],
    ];
    for (const [name, over, id, want] of cases) assert.equal(await statusOf(over, id), want, name);
  });
});
