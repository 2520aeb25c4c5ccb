import type { VendorProfile } from './vendor-profile.js';

/** Utimaco CryptoServer (Se/CS series, CryptoServer LAN) and its simulator. Not runnable here: public documentation only. */
export const utimaco: VendorProfile = {
  id: 'utimaco',
  name: 'Utimaco CryptoServer',
  evidence: 'documented',
  products: [
    'CryptoServer Se-Series / CSe-Series (PCIe and LAN)',
    'CryptoServer simulator (SDK)',
    'PKCS#11 R2/R3 library',
  ],
  detect: { libraryManufacturer: /Utimaco/i },
  modulePaths: ['/opt/utimaco/lib/libcs_pkcs11_R3.so', '/opt/utimaco/lib/libcs_pkcs11_R2.so'],
  login: {
    pinForm: 'the slot user PIN (the PKCS#11 user created with the Utimaco admin tools)',
    role: 'user (CKU_USER)',
  },
  initialize: { requiresInitArgs: false },
  environment: {
    CS_PKCS11_R2_CFG: 'path of cs_pkcs11_R2.cfg (device addresses, slot count, logging), for the R2 library',
  },
  sessions: 'Set by the configuration file and the device; hsmkit sizes its pool from ulMaxRwSessionCount.',
  avoidMechanisms: [],
  refusedKeyTypes: [],
  sessionObjects: true,
  neverSignWithPublicHandle: true,
  templates: { notes: ['hsmkit sets every security attribute explicitly.'] },
  errorCodes: {},
  features: {
    'load balancing mode': {
      status: 'supported',
      reason: 'The R2 library spreads sessions over several devices listed in the configuration file.',
    },
    'failover mode': {
      status: 'supported',
      reason: 'The library switches to the next configured device when one fails.',
    },
    'simulator mode': {
      status: 'supported',
      reason:
        'The SDK simulator is reached like a LAN device (address in the Device parameter); useful for CI at the vendor site.',
    },
    'remote backup': {
      status: 'not-applicable',
      reason:
        'Backup of keys and users is done with the Utimaco admin tools (csadm, p11tool2), outside PKCS#11.',
    },
  },
  quirks: ['Configured through cs_pkcs11_R2.cfg / cs_pkcs11_R3.cfg rather than init args.'],
  sources: [
    'https://crypto-hsm.com/Utimaco_PKCS11_ENG_Guide (CryptoServer PKCS#11 R2 Developer Guide, sections 3.2, 4.1, 5.1)',
  ],
};
