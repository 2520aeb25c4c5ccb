// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are ${NAME} references under test, not templates.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../errors/index.js';
import { interpolateEnv, interpolateEnvDetailed } from './interpolate.js';

function configError(fn: () => unknown): HsmError {
  try {
    fn();
  } catch (err) {
    assert.ok(HsmError.is(err, 'HSM_ERR_CONFIG'), String(err));
    return err;
  }
  assert.fail('expected HSM_ERR_CONFIG');
}

describe('interpolateEnv', () => {
  const env = { HOST: 'hsm1', PORT: '1792', EMPTY: '', SECRET: 'S3CRET-PIN' };

  it('replaces ${NAME} inside string scalars anywhere in the tree', () => {
    const tree = { a: '${HOST}:${PORT}', list: ['x-${HOST}', 7, true, null], nested: { b: 'plain' } };
    assert.deepEqual(interpolateEnv(tree, env), {
      a: 'hsm1:1792',
      list: ['x-hsm1', 7, true, null],
      nested: { b: 'plain' },
    });
  });

  it('uses ${NAME:-default} when the variable is unset or empty', () => {
    assert.deepEqual(
      interpolateEnv({ a: '${NOPE:-fallback}', b: '${EMPTY:-dflt}', c: '${HOST:-x}', d: '${NOPE:-}' }, env),
      {
        a: 'fallback',
        b: 'dflt',
        c: 'hsm1',
        d: '',
      },
    );
  });

  it('treats $${ as a literal ${ and leaves other dollars alone', () => {
    assert.deepEqual(interpolateEnv({ a: '$${HOST}', b: 'cost $5 $$ x', c: 'a$${b}${HOST}' }, env), {
      a: '${HOST}',
      b: 'cost $5 $$ x',
      c: 'a${b}hsm1',
    });
  });

  it('does not mutate its input', () => {
    const tree = { a: '${HOST}' };
    interpolateEnv(tree, env);
    assert.deepEqual(tree, { a: '${HOST}' });
  });

  it('reports an unset variable with its path and name, never a value', () => {
    const err = configError(() =>
      interpolateEnv({ top: { list: [{ pin: '${UNSET_PIN}' }] }, other: '${SECRET}' }, env),
    );
    assert.equal(err.details?.path, 'top.list[0].pin');
    assert.match(err.message, /^top\.list\[0\]\.pin: .*UNSET_PIN/);
    assert.ok(!err.message.includes('S3CRET-PIN'));
  });

  it('reports every unset variable at once', () => {
    const err = configError(() => interpolateEnv({ a: '${A1}', b: ['${B1}'] }, {}));
    const issues = err.details?.issues as { path: string }[];
    assert.deepEqual(
      issues.map((i) => i.path),
      ['a', 'b[0]'],
    );
  });

  it('rejects malformed references', () => {
    for (const bad of ['${1X}', '${X-y}', '${unterminated', '${}']) {
      const err = configError(() => interpolateEnv({ k: bad }, env));
      assert.equal(err.details?.path, 'k');
    }
  });

  it('reports which paths came from the environment', () => {
    const result = interpolateEnvDetailed({ a: '${HOST}', b: 'plain', c: ['$${x}', 'p${PORT:-1}'] }, env);
    assert.deepEqual([...result.paths].sort(), ['a', 'c[1]']);
    assert.deepEqual(result.interpolated.find((i) => i.path === 'c[1]')?.variables, ['PORT']);
  });
});
