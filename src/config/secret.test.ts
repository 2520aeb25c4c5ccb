import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import { Secret } from './secret.js';

const VALUE = 'S3CRET-PIN';

describe('Secret', () => {
  const secret = new Secret(VALUE, 'env:HSM_PIN');

  it('reveals the value and its source', () => {
    assert.equal(secret.reveal(), VALUE);
    assert.equal(secret.source, 'env:HSM_PIN');
  });

  it('never shows the value in strings or JSON', () => {
    assert.equal(String(secret), '[redacted]');
    assert.equal(`${secret}`, '[redacted]');
    assert.equal(`pin=${secret}`, 'pin=[redacted]');
    assert.equal(secret.toJSON(), '[redacted]');
    assert.equal(JSON.stringify({ pin: secret }), '{"pin":"[redacted]"}');
    assert.equal(JSON.stringify([secret]), '["[redacted]"]');
  });

  it('never shows the value through util.inspect or console.log-style formatting', () => {
    assert.equal(inspect(secret), 'Secret([redacted])');
    const texts = [
      inspect({ member: { auth: { pin: secret } } }, { depth: 10 }),
      inspect(secret, { showHidden: true }),
      inspect(secret, { customInspect: false, showHidden: true }),
      format('%s %o %O %j %d', secret, secret, secret, { secret }, secret),
      format(secret),
      format('pin:', secret),
    ];
    for (const text of texts) assert.ok(!text.includes(VALUE), text);
  });

  it('has no enumerable own properties that could leak', () => {
    assert.deepEqual(Object.keys(secret), []);
    assert.deepEqual(Object.getOwnPropertyNames(secret), []);
    assert.ok(Object.isFrozen(secret));
  });
});
