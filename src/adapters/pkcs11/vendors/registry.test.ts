import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HsmError } from '../../../errors/index.js';
import { CKM } from '../constants.js';
import { planSign } from '../sign-plan.js';
import { detectVendorProfile, selectVendorProfile, VENDOR_PROFILES, vendorProfile } from './registry.js';
import { TokenCapabilities } from './token-capabilities.js';

/** What the five local modules report (measured on Debian 12; see docs/vendors/). */
const IDENTITIES = {
  softhsm2: {
    libraryManufacturer: 'SoftHSM',
    libraryDescription: 'Implementation of PKCS11',
    tokenManufacturer: 'SoftHSM project',
    tokenModel: 'SoftHSM v2',
  },
  opencryptoki: {
    libraryManufacturer: 'IBM',
    libraryDescription: 'Meta PKCS11 LIBRARY',
    tokenManufacturer: 'IBM Corp.',
    tokenModel: 'IBM SoftTok',
  },
  nss: {
    libraryManufacturer: 'Mozilla Foundation',
    libraryDescription: 'NSS Internal Crypto Services',
    tokenManufacturer: 'Mozilla Foundation',
    tokenModel: 'NSS 3',
  },
  tpm2: {
    libraryManufacturer: 'tpm2-software.github.io',
    libraryDescription: 'TPM2.0 Cryptoki',
    tokenManufacturer: 'IBM',
    tokenModel: 'SW   TPM',
  },
  'p11-kit-remote': {
    libraryManufacturer: 'PKCS#11 Kit',
    libraryDescription: 'PKCS#11 Kit Proxy Module',
    tokenManufacturer: 'SoftHSM project',
    tokenModel: 'SoftHSM v2',
  },
};

describe('vendor profiles', () => {
  it('one profile per configurable provider, each feature with a status and a reason, each with sources', () => {
    assert.equal(VENDOR_PROFILES.length, 10);
    for (const p of VENDOR_PROFILES) {
      assert.ok(p.sources.length > 0, `${p.id} names its sources`);
      for (const [name, f] of Object.entries(p.features)) {
        assert.ok(['supported', 'partial', 'not-applicable'].includes(f.status), `${p.id} ${name}`);
        assert.ok(f.reason.length > 10, `${p.id} ${name} has a reason`);
      }
    }
  });

  it('detects each local module from C_GetInfo/C_GetTokenInfo (p11-kit over SoftHSM is p11-kit, not SoftHSM)', () => {
    for (const [id, identity] of Object.entries(IDENTITIES))
      assert.equal(detectVendorProfile(identity)?.id, id);
    const unknown = {
      libraryManufacturer: 'Acme',
      libraryDescription: 'x',
      tokenManufacturer: 'Acme',
      tokenModel: 'x',
    };
    assert.equal(selectVendorProfile(undefined, unknown).id, 'generic');
  });

  it('a configured provider wins over detection; one without a PKCS#11 profile is HSM_ERR_CONFIG', () => {
    assert.equal(selectVendorProfile('azure_dedicated', IDENTITIES.softhsm2).id, 'azure_dedicated');
    assert.throws(
      () => selectVendorProfile('gcp_kms'),
      (e: unknown) => HsmError.is(e, 'HSM_ERR_CONFIG'),
    );
  });
});

describe('tpm2 refusals happen before the module is called', () => {
  const mechanisms = [CKM.ECDSA, CKM.EC_KEY_PAIR_GEN, CKM.RSA_PKCS, CKM.RSA_PKCS_KEY_PAIR_GEN].map(
    (type) => ({
      type,
      minKeySize: 0,
      maxKeySize: 0,
      flags: 0,
    }),
  );
  const caps = new TokenCapabilities({ mechanisms, vendor: 'tpm2' });

  it('P-521 signing is refused by sign-plan with HSM_ERR_MECHANISM_UNSUPPORTED, P-256 is planned', () => {
    const digest = { digest: new Uint8Array(64) };
    const alg = { scheme: 'ecdsa', hash: 'sha512' } as const;
    assert.throws(
      () =>
        planSign('ec', alg, caps.usable, digest, { keyType: 'ec-p521', refusedKeyTypes: caps.signRefusals }),
      (e: unknown) => HsmError.is(e, 'HSM_ERR_MECHANISM_UNSUPPORTED'),
    );
    const plan = planSign('ec', alg, caps.usable, digest, {
      keyType: 'ec-p256',
      refusedKeyTypes: caps.signRefusals,
    });
    assert.equal(plan.mechanism, CKM.ECDSA);
  });

  it('P-521 and RSA above 3072 are not offered for generation', () => {
    assert.deepEqual(
      caps.refusalFor({ type: 'ec-p521', family: 'ec', bits: 521, curve: 'P-521', canSign: true })?.code,
      'HSM_ERR_MECHANISM_UNSUPPORTED',
    );
    assert.equal(
      caps.refusalFor({ type: 'rsa-4096', family: 'rsa', bits: 4096, canSign: true })?.code,
      'HSM_ERR_KEY_SIZE',
    );
    assert.ok(caps.keyTypes().includes('ec-p256'));
    assert.ok(!caps.keyTypes().includes('ec-p521'));
  });

  it('opencryptoki-style lists fall back to software hashing + CKM_RSA_PKCS (DigestInfo)', () => {
    const ock = new TokenCapabilities({
      mechanisms: [
        { type: CKM.SHA256_RSA_PKCS, minKeySize: 0, maxKeySize: 0, flags: 0 },
        { type: CKM.RSA_PKCS, minKeySize: 0, maxKeySize: 0, flags: 0 },
      ],
      vendor: 'opencryptoki',
    });
    assert.ok(!ock.usable.has(CKM.SHA256_RSA_PKCS));
    const plan = planSign('rsa', { scheme: 'rsa-pkcs1', hash: 'sha256' }, ock.usable, {
      data: Buffer.from('m'),
    });
    assert.equal(plan.mechanism, CKM.RSA_PKCS);
    assert.equal(vendorProfile('opencryptoki')?.maxRsaBits, 4096);
  });
});
