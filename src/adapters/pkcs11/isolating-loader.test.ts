import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { HsmError } from '../../errors/index.js';
import { ISOLATE_MODULE_ENV, ISOLATE_SHIM_ENV, symbolPlan } from './isolating-loader.js';

const MODULE = '/usr/lib/vendor/libvendor-pkcs11.so';
const dir = mkdtempSync(join(tmpdir(), 'hsmkit-isolating-loader-'));
const present = join(dir, 'shim.so');
writeFileSync(present, 'not loaded by these tests');
const saved = process.env[ISOLATE_SHIM_ENV];

afterEach(() => {
  if (saved === undefined) delete process.env[ISOLATE_SHIM_ENV];
  else process.env[ISOLATE_SHIM_ENV] = saved;
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('symbolPlan', () => {
  it('global loads the module itself and adds no environment', () => {
    process.env[ISOLATE_SHIM_ENV] = present;
    assert.deepEqual(symbolPlan(MODULE, 'global'), { symbols: 'global', env: {} });
  });

  for (const requested of ['isolated', undefined] as const) {
    it(`${requested ?? 'the default'} with a shim loads the shim and names the real module in the env`, () => {
      process.env[ISOLATE_SHIM_ENV] = present;
      assert.deepEqual(symbolPlan(MODULE, requested), {
        symbols: 'isolated',
        loadPath: present,
        env: { [ISOLATE_MODULE_ENV]: MODULE },
      });
    });
  }

  it('explicit isolated without a shim is HSM_ERR_CONFIG with the member in the context', () => {
    process.env[ISOLATE_SHIM_ENV] = join(dir, 'missing.so');
    assert.throws(
      () => symbolPlan(MODULE, 'isolated', 'm1'),
      (err: unknown) => HsmError.is(err, 'HSM_ERR_CONFIG') && err.member === 'm1',
    );
  });

  it('the default without a shim falls back to global and says why', () => {
    process.env[ISOLATE_SHIM_ENV] = join(dir, 'missing.so');
    const plan = symbolPlan(MODULE, undefined);
    assert.equal(plan.symbols, 'global');
    assert.equal(plan.loadPath, undefined);
    assert.deepEqual(plan.env, {});
    assert.match(plan.note ?? '', /missing\.so does not exist/);
  });
});
