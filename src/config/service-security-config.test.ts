import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { HsmError } from '../errors/index.js';
import { parseConfig } from './load.js';

/** A minimal config with `service` merged in. */
function config(service: Record<string, unknown>) {
  return parseConfig(
    stringify({
      hsm_configuration: {
        provider: 'softhsm2',
        connection: { module: '/usr/lib/softhsm/libsofthsm2.so', token_label: 't', pin: 'not-used' },
      },
      service,
    }),
  );
}

/** The YAML paths a refused config names. */
function refusedPaths(service: Record<string, unknown>): string[] {
  try {
    config(service);
  } catch (err) {
    assert.ok(HsmError.is(err, 'HSM_ERR_CONFIG'));
    return ((err.details?.issues ?? []) as Array<{ path: string }>).map((i) => i.path);
  }
  assert.fail('the config was accepted');
}

describe('service.break_glass and service.totp_lockout', () => {
  it('defaults: no break-glass, 5 TOTP attempts then one per 60 s', () => {
    const c = config({});
    assert.equal(c.service.breakGlass, undefined);
    assert.deepEqual(c.service.totpLockout, { attempts: 5, refillSeconds: 60 });
  });

  it('a break_glass block is normalised, max_duration_minutes defaulting to 60', () => {
    const c = config({
      break_glass: {
        role: 'admin',
        approvers: { identities: ['carol'], roles: ['security_officer'] },
        quorum: 2,
      },
      totp_lockout: { attempts: 3, refill_seconds: 120 },
    });
    assert.deepEqual(c.service.breakGlass, {
      role: 'admin',
      approvers: { identities: ['carol'], roles: ['security_officer'] },
      quorum: 2,
      maxDurationMinutes: 60,
    });
    assert.deepEqual(c.service.totpLockout, { attempts: 3, refillSeconds: 120 });
  });

  it('refuses an unknown role, no approvers, a zero quorum, an unknown key, and a too long duration, naming the path', () => {
    const base = { role: 'admin', approvers: { roles: ['security_officer'] }, quorum: 2 };
    assert.ok(
      refusedPaths({ break_glass: { ...base, role: 'root' } }).some((p) => p.includes('break_glass.role')),
    );
    assert.ok(
      refusedPaths({ break_glass: { ...base, approvers: {} } }).some((p) =>
        p.includes('break_glass.approvers'),
      ),
    );
    assert.ok(
      refusedPaths({ break_glass: { ...base, quorum: 0 } }).some((p) => p.includes('break_glass.quorum')),
    );
    assert.ok(
      refusedPaths({ break_glass: { ...base, approver: 'x' } }).some((p) => p.includes('break_glass')),
    );
    assert.ok(
      refusedPaths({ break_glass: { ...base, max_duration_minutes: 2000 } }).some((p) =>
        p.includes('break_glass.max_duration_minutes'),
      ),
    );
    assert.ok(
      refusedPaths({ totp_lockout: { attempts: 0 } }).some((p) => p.includes('totp_lockout.attempts')),
    );
  });
});
