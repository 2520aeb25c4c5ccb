import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../errors/index.js';
import type { KeyInfo } from '../kms/key-info.js';
import type { KeyManager } from '../kms/key-manager.js';
import type { KeyWrapTraits } from '../kms/key-transfer.js';
import { AUDIT_KEY_LABEL, AuditKey } from './audit-key.js';

/** An existing audit key with the given attributes, behind the narrow KeyManager seam. */
function keyManager(extractable: boolean, traits?: KeyWrapTraits): KeyManager {
  const info = {
    uri: `pkcs11:object=${AUDIT_KEY_LABEL};type=private`,
    label: AUDIT_KEY_LABEL,
    id: '01',
    type: 'ec-p384',
    family: 'ec',
    token: 't',
    member: 'm',
    publicKeyPem: '',
    attributes: {
      token: true,
      private: true,
      sensitive: true,
      extractable,
      alwaysSensitive: true,
      neverExtractable: !extractable,
      local: true,
      sign: true,
      decrypt: false,
      unwrap: false,
      derive: false,
    },
  } as KeyInfo;
  const km = {
    getKey: async () => info,
    createKey: async () => {
      throw new HsmError('HSM_ERR_INTERNAL', 'not expected');
    },
    getPublicKey: async () => new Uint8Array(),
    sign: async () => new Uint8Array(),
    close: async () => undefined,
  } as unknown as KeyManager;
  if (traits) Object.assign(km, { wrapTraits: async () => traits });
  return km;
}

describe('audit key protection', () => {
  it('accepts a non-extractable key', async () => {
    assert.equal((await AuditKey.ensure(keyManager(false), false)).info.label, AUDIT_KEY_LABEL);
  });

  it('refuses an extractable key whose wrapping nobody can vouch for', async () => {
    await assert.rejects(AuditKey.ensure(keyManager(true), false), (e) => HsmError.is(e, 'HSM_ERR_AUDIT'));
  });

  it('refuses an extractable key that any wrapping key may wrap', async () => {
    const km = keyManager(true, { extractable: true, wrapWithTrusted: false, sensitive: true });
    await assert.rejects(AuditKey.ensure(km, false), (e) => HsmError.is(e, 'HSM_ERR_AUDIT'));
  });

  it('accepts a replicated key extractable only under a trusted wrapping key', async () => {
    const km = keyManager(true, { extractable: true, wrapWithTrusted: true, sensitive: true });
    assert.equal((await AuditKey.ensure(km, false)).info.label, AUDIT_KEY_LABEL);
  });
});
