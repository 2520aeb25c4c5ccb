import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorFromProblem, errorFromTransport } from './remote-error.js';

describe('errorFromProblem', () => {
  it('a problem document becomes the HsmError with the same code, detail and request id', () => {
    const doc = {
      type: 'urn:hsmkit:error:HSM_ERR_POLICY_VIOLATION',
      title: 't',
      status: 403,
      detail: 'refused by rule x',
      code: 'HSM_ERR_POLICY_VIOLATION',
      retryable: false,
      instance: 'urn:uuid:1',
      details: { rule: 'x' },
    };
    const e = errorFromProblem(403, 'application/problem+json; charset=utf-8', JSON.stringify(doc));
    assert.equal(e.code, 'HSM_ERR_POLICY_VIOLATION');
    assert.equal(e.message, 'refused by rule x');
    assert.deepEqual(e.details, { rule: 'x', instance: 'urn:uuid:1' });
    assert.equal(e.status, 403);
  });

  it('an unknown code, HTML or broken JSON is HSM_ERR_INTERNAL naming the status', () => {
    for (const [type, text] of [
      ['application/problem+json', JSON.stringify({ code: 'HSM_ERR_MADE_UP', detail: 'x' })],
      ['text/html', '<html>bad gateway</html>'],
      ['application/json', '{"code":'],
    ] as const) {
      const e = errorFromProblem(502, type, text);
      assert.equal(e.code, 'HSM_ERR_INTERNAL', type);
      assert.match(e.message, /HTTP 502/);
    }
  });
});

describe('errorFromTransport', () => {
  const err = (code: string, extra: object = {}) => Object.assign(new Error('x'), { code, ...extra });
  const table: Array<[string, Error, boolean, string]> = [
    [
      'alert certificate required',
      err('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'),
      false,
      'HSM_ERR_UNAUTHENTICATED',
    ],
    ['alert unknown ca', err('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), true, 'HSM_ERR_UNAUTHENTICATED'],
    [
      'reset after the handshake',
      err('ECONNRESET', { afterHandshake: true }),
      true,
      'HSM_ERR_UNAUTHENTICATED',
    ],
    ['reset without a certificate', err('ECONNRESET'), false, 'HSM_ERR_UNAUTHENTICATED'],
    [
      'reset before the handshake, certificate sent',
      err('ECONNRESET', { afterHandshake: false }),
      true,
      'HSM_ERR_UNAVAILABLE',
    ],
    ['untrusted server', err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), true, 'HSM_ERR_CONFIG'],
    ['self-signed server', err('DEPTH_ZERO_SELF_SIGNED_CERT'), true, 'HSM_ERR_CONFIG'],
    ['wrong host name', err('ERR_TLS_CERT_ALTNAME_INVALID'), true, 'HSM_ERR_CONFIG'],
    ['timeout', err('HSM_TIMEOUT'), true, 'HSM_ERR_TIMEOUT'],
    ['refused', err('ECONNREFUSED'), true, 'HSM_ERR_UNAVAILABLE'],
    ['no code', new Error('x'), true, 'HSM_ERR_UNAVAILABLE'],
  ];
  for (const [name, e, sentCert, code] of table) {
    it(`${name} → ${code}`, () => assert.equal(errorFromTransport(e, 'h:1', sentCert).code, code));
  }
});
