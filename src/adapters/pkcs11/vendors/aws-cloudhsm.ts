import type { VendorProfile } from './vendor-profile.js';

const DOCS = 'https://docs.aws.amazon.com/cloudhsm/latest/userguide';

/** AWS CloudHSM (v2 clusters, Client SDK 5). Not runnable here: public documentation only. */
export const awsCloudhsm: VendorProfile = {
  id: 'aws_cloudhsm',
  name: 'AWS CloudHSM',
  evidence: 'documented',
  products: ['AWS CloudHSM clusters (hsm1.medium, hsm2m.medium)', 'Client SDK 5 PKCS#11 library'],
  detect: { libraryManufacturer: /Amazon|CloudHSM/i },
  modulePaths: ['/opt/cloudhsm/lib/libcloudhsm_pkcs11.so'],
  login: {
    pinForm: '<CU_user_name>:<password> — the crypto user (CU) name and password joined by a colon',
    role: 'crypto user (CU), as CKU_USER',
  },
  initialize: { requiresInitArgs: false },
  environment: {},
  sessions: 'Read-only sessions are not supported in SDK 5; hsmkit opens only read-write sessions.',
  avoidMechanisms: [],
  refusedKeyTypes: [],
  sessionObjects: true,
  neverSignWithPublicHandle: true,
  templates: {
    notes: [
      'Older libraries did not handle CKA_SENSITIVE and CKA_DERIVE (documented known issues); hsmkit reads the attributes back after generation.',
      'Older libraries mishandled CKA_MODULUS_BITS/CKA_PUBLIC_EXPONENT in the private template; hsmkit puts them only in the public template.',
    ],
  },
  errorCodes: {},
  features: {
    clustering: {
      status: 'supported',
      reason:
        'A cluster synchronises keys across its HSMs and the client library balances across them; hsmkit sees one member per cluster.',
    },
    'remote backup': {
      status: 'supported',
      reason: 'AWS backs the cluster up and can copy backups across regions; outside hsmkit.',
    },
    'multipart signing': {
      status: 'not-applicable',
      reason:
        'Not supported by the library; hsmkit signs single-part only (large messages are hashed in software).',
    },
    EdDSA: {
      status: 'partial',
      reason: 'Not in the documented SDK 5 mechanism list; capability detection decides.',
    },
  },
  quirks: [
    'Client SDK 5 hashes RSA and ECDSA data locally before the HSM signs, like hsmkit does.',
    'A single-HSM cluster needs disable_key_availability_check with SDK 5.',
  ],
  sources: [
    `${DOCS}/pkcs11-pin.html`,
    `${DOCS}/pkcs11-mechanisms.html`,
    `${DOCS}/ki-pkcs11-sdk.html`,
    `${DOCS}/pkcs11-library.html`,
  ],
};
