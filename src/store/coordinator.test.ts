import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advisoryKey, LocalCoordinator, leadDuty } from './coordinator.js';

// PostgreSQL advisory-lock leads across two processes' connections: test/integration/store/postgres.test.ts.
describe('LocalCoordinator', () => {
  it('holds a lead once until released; runExclusive skips while it is held', async () => {
    const c = new LocalCoordinator();
    const lead = await c.tryLead('alerting');
    assert.equal(lead?.held, true);
    assert.equal(await c.tryLead('alerting'), undefined);
    assert.deepEqual(await c.runExclusive('alerting', async () => 1), { ran: false });
    assert.deepEqual(await c.runExclusive('crl', async () => 2), { ran: true, value: 2 });
    await lead?.release();
    assert.equal(lead?.held, false);
    assert.deepEqual(await c.runExclusive('alerting', async () => 3), { ran: true, value: 3 });
    await c.close();
  });

  it('leadDuty starts the duty when it gets the lead and stops it on close', async () => {
    const c = new LocalCoordinator();
    const events: string[] = [];
    const duty = leadDuty(
      c,
      'x',
      { start: () => void events.push('start'), stop: () => void events.push('stop') },
      50,
    );
    for (let i = 0; i < 20 && !duty.leading; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(duty.leading, true);
    await duty.close();
    assert.deepEqual(events, ['start', 'stop']);
    assert.ok(await c.tryLead('x'), 'the lead is free again');
  });

  it('advisory keys are stable 64-bit numbers, distinct per name', () => {
    assert.equal(advisoryKey('alert-evaluation'), advisoryKey('alert-evaluation'));
    assert.notEqual(advisoryKey('alert-evaluation'), advisoryKey('backup-drill'));
    assert.equal(BigInt.asIntN(64, advisoryKey('a')), advisoryKey('a'));
  });
});
