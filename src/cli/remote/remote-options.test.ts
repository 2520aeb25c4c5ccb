import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HsmError } from '../../errors/index.js';
import { parseServerUrl, remoteTarget } from './remote-options.js';

const dir = mkdtempSync(join(tmpdir(), 'hsmkit-remote-options-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string, mode: number) => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode });
  return p;
};
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HsmError);
    return err.code;
  }
  return 'no error';
};

describe('parseServerUrl', () => {
  it('takes https URLs only, without credentials, query or fragment', () => {
    assert.equal(parseServerUrl('https://hsm.example:8443').host, 'hsm.example:8443');
    for (const bad of ['http://h:1', 'h:1', 'https://u:p@h', 'https://h/?x=1', 'https://h/#f', ''])
      assert.equal(
        code(() => parseServerUrl(bad)),
        'HSM_ERR_INVALID_INPUT',
        bad,
      );
  });
});

describe('remoteTarget', () => {
  const cert = file('c.pem', 'CERT', 0o644);
  const key = file('k.pem', 'SECRET-KEY-BODY', 0o600);
  const server = 'https://127.0.0.1:1';

  it('reads the certificate and a 0600 key', () => {
    const t = remoteTarget({ server, clientCert: cert, clientKey: key });
    assert.equal(t.key?.toString(), 'SECRET-KEY-BODY');
  });

  it('refuses a key readable by group or others, without printing it', () => {
    const loose = file('loose.pem', 'SECRET-KEY-BODY', 0o640);
    try {
      remoteTarget({ server, clientCert: cert, clientKey: loose });
      assert.fail('accepted');
    } catch (err) {
      assert.ok(HsmError.is(err, 'HSM_ERR_INVALID_INPUT'));
      assert.match(err.message, /chmod 600/);
      assert.doesNotMatch(err.message, /SECRET/);
    }
  });

  it('a certificate without its key (or the reverse) is refused', () => {
    assert.equal(
      code(() => remoteTarget({ server, clientCert: cert })),
      'HSM_ERR_INVALID_INPUT',
    );
    assert.equal(
      code(() => remoteTarget({ server, clientKey: key })),
      'HSM_ERR_INVALID_INPUT',
    );
  });

  it('a TOTP file holds a code or an otpauth URI (secret computed into a code); anything else is refused', async () => {
    const codeFile = file('code', '123456\n', 0o600);
    assert.equal(await remoteTarget({ server, totpFile: codeFile }).otp!(), '123456');
    const uri = file(
      'uri',
      'otpauth://totp/hsmkit:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=hsmkit\n',
      0o600,
    );
    assert.match(await remoteTarget({ server, totpFile: uri }).otp!(), /^\d{6}$/);
    const short = file('short', 'otpauth://totp/x?secret=JBSWY3DPEHPK3PXP', 0o600);
    await assert.rejects(
      remoteTarget({ server, totpFile: short }).otp!(),
      (e) => HsmError.is(e, 'HSM_ERR_INVALID_INPUT') && !e.message.includes('JBSWY3DP'),
    );
    const junk = file('junk', 'hello', 0o600);
    assert.equal(
      code(() => remoteTarget({ server, totpFile: junk })),
      'HSM_ERR_INVALID_INPUT',
    );
    const open = file('open', '123456', 0o644);
    assert.equal(
      code(() => remoteTarget({ server, totpFile: open })),
      'HSM_ERR_INVALID_INPUT',
    );
  });

  it('--role takes a role name', () => {
    assert.equal(remoteTarget({ server, role: 'security_officer' }).role, 'security_officer');
    assert.equal(
      code(() => remoteTarget({ server, role: 'x\r\ny' })),
      'HSM_ERR_INVALID_INPUT',
    );
  });
});
