import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memberOptions } from '../cli/member-options.js';
import { HsmError } from '../errors/index.js';
import { parseConfig } from './load.js';

const config = (connection: string) =>
  parseConfig(`hsm_configuration:\n  provider: softhsm2\n  connection:\n${connection}`, { env: {} });

describe('config: symbols', () => {
  it('is absent unless configured (the adapter applies its default)', () => {
    const c = config('    module: /usr/lib/softhsm/libsofthsm2.so\n    token_label: t\n');
    assert.equal(c.members[0]?.symbols, undefined);
    assert.equal(memberOptions(c, c.members[0]!).symbols, undefined);
  });

  it('takes the connection value as default and lets a member override it', () => {
    const c = config(`    module: /usr/lib/softhsm/libsofthsm2.so
    symbols: global
    members:
      - { name: a, token_label: a }
      - { name: b, token_label: b, symbols: isolated }
`);
    assert.deepEqual(
      c.members.map((m) => m.symbols),
      ['global', 'isolated'],
    );
    assert.equal(memberOptions(c, c.members[1]!).symbols, 'isolated');
  });

  it('refuses other values with HSM_ERR_CONFIG naming the path', () => {
    try {
      config('    module: /m.so\n    symbols: deepbind\n');
      assert.fail('expected HSM_ERR_CONFIG');
    } catch (err) {
      assert.ok(HsmError.is(err, 'HSM_ERR_CONFIG'), String(err));
      assert.match(err.message, /hsm_configuration\.connection\.symbols: expected one of: isolated, global/);
    }
  });
});
