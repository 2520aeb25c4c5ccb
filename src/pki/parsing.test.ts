import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../errors/index.js';
import { parseSans, parseSubject } from './names.js';
import { fromPemOrDer, toPem } from './pem.js';
import { defaultPkiPolicy } from './policy.js';
import { getLeafProfile } from './profiles.js';
import { parseReason, parseSerial } from './revocation.js';
import { parseValidity } from './validity.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HsmError, String(err));
    return err.code;
  }
  return 'no error';
};

describe('PKI input parsing', () => {
  it('validity durations', () => {
    assert.equal(parseValidity('90d'), 90 * 86_400_000);
    assert.equal(parseValidity('10y'), 3650 * 86_400_000);
    assert.equal(parseValidity('12h'), 12 * 3_600_000);
    for (const bad of ['', '0d', '10', 'd', '1.5y', '-1d', '10m', '9999999d']) {
      assert.equal(
        code(() => parseValidity(bad)),
        'HSM_ERR_INVALID_INPUT',
        bad,
      );
    }
  });

  it('subjects and SANs', () => {
    assert.equal(parseSubject('CN=Root,O=Example').toString(), 'CN=Root, O=Example');
    for (const bad of ['', 'garbage', 'CN=', 'XX=1'])
      assert.equal(
        code(() => parseSubject(bad)),
        'HSM_ERR_INVALID_INPUT',
        bad,
      );
    assert.deepEqual(parseSans('dns:A.example,ip:10.0.0.1,email:a@b.c,uri:https://x.example/'), [
      { type: 'dns', value: 'a.example' },
      { type: 'ip', value: '10.0.0.1' },
      { type: 'email', value: 'a@b.c' },
      { type: 'url', value: 'https://x.example/' },
    ]);
    for (const bad of ['dns:', 'dns:-bad-', 'ip:999.1.1.1', 'foo:bar', 'nocolon', 'email:nope']) {
      assert.equal(
        code(() => parseSans(bad)),
        'HSM_ERR_INVALID_INPUT',
        bad,
      );
    }
  });

  it('serials, reasons, profiles, PEM', () => {
    assert.equal(parseSerial('0x00AB:CD'), 'abcd');
    assert.equal(
      code(() => parseSerial('xyz')),
      'HSM_ERR_INVALID_INPUT',
    );
    assert.equal(parseReason('KEYCOMPROMISE'), 1);
    assert.equal(
      code(() => parseReason('removeFromCRL')),
      'HSM_ERR_INVALID_INPUT',
    );
    assert.equal(getLeafProfile('tls-server').eku[0], '1.3.6.1.5.5.7.3.1');
    assert.equal(
      code(() => getLeafProfile('root-ca')),
      'HSM_ERR_INVALID_INPUT',
    );
    assert.equal(
      code(() => getLeafProfile('__proto__')),
      'HSM_ERR_INVALID_INPUT',
    );
    const der = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]);
    assert.deepEqual(fromPemOrDer(Buffer.from(toPem(der, 'X509 CRL')), ['X509 CRL'], 'CRL'), der);
    assert.equal(
      code(() => fromPemOrDer(Buffer.from(toPem(der, 'X509 CRL')), ['CERTIFICATE'], 'x')),
      'HSM_ERR_INVALID_INPUT',
    );
    assert.equal(defaultPkiPolicy({ minimumKeySize: { rsa: 4096 } }).minimumKeySize.rsa, 4096);
    assert.equal(defaultPkiPolicy().minimumKeySize.rsa, 2048);
  });
});
