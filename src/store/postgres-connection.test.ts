import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scrubConnectionSecrets } from './postgres-connection.js';
import { isTransientPostgresError } from './transient-error.js';

describe('scrubConnectionSecrets', () => {
  const url = 'postgres://svc:p%40ss%2Fw0rd@db.example:5432/hsmkit';
  it('removes the URL, the password (encoded and decoded) and any user-info', () => {
    const cases = [
      `getaddrinfo failed for ${url}`,
      'password p%40ss%2Fw0rd rejected',
      'password p@ss/w0rd rejected',
      'normalised postgresql://svc:other@db.example/hsmkit',
    ];
    for (const c of cases) {
      const out = scrubConnectionSecrets(c, url);
      assert.ok(!out.includes('p@ss/w0rd') && !out.includes('p%40ss%2Fw0rd') && !out.includes('other'), out);
      assert.match(out, /\[redacted\]/);
    }
  });
  it('leaves messages without secrets unchanged', () => {
    assert.equal(
      scrubConnectionSecrets('connect ECONNREFUSED 127.0.0.1:5432', url),
      'connect ECONNREFUSED 127.0.0.1:5432',
    );
  });
});

describe('isTransientPostgresError', () => {
  it('classifies by SQLSTATE and errno code', () => {
    const withCode = (code: string) => Object.assign(new Error('x'), { code });
    for (const c of ['57P01', '57P03', '08006', 'ECONNREFUSED', 'ECONNRESET']) {
      assert.equal(isTransientPostgresError(withCode(c)), true, c);
    }
    for (const c of ['23505', '42P01', '28P01'])
      assert.equal(isTransientPostgresError(withCode(c)), false, c);
  });
});
