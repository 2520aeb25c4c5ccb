import { CKM } from '../constants.js';
import type { VendorProfile } from './vendor-profile.js';

/** SoftHSM 2.6 (OpenSSL backend): the development token. Checked by the conformance suite. */
export const softhsm2: VendorProfile = {
  id: 'softhsm2',
  name: 'SoftHSM 2',
  evidence: 'conformance',
  products: ['SoftHSM 2.6.1 (OpenSSL backend), Debian 12'],
  detect: { libraryManufacturer: /^SoftHSM\b/, tokenModel: /^SoftHSM v2/ },
  modulePaths: ['/usr/lib/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so'],
  login: { pinForm: 'the token user PIN', role: 'user (CKU_USER)', pinLength: { min: 4, max: 255 } },
  initialize: { requiresInitArgs: false },
  environment: { SOFTHSM2_CONF: 'path of softhsm2.conf, which names the token directory' },
  sessions:
    'No session limit (ulMaxRwSessionCount 0). Crashes under threads unless initialised with CKF_OS_LOCKING_OK, which hsmkit always passes.',
  avoidMechanisms: [],
  refusedKeyTypes: [],
  sessionObjects: true,
  neverSignWithPublicHandle: true,
  rfc5649Mechanism: CKM.AES_KEY_WRAP_PAD,
  templates: {
    notes: [
      'CKA_DECRYPT and CKA_UNWRAP default to true on EC private keys; hsmkit sets every usage attribute explicitly.',
    ],
  },
  errorCodes: {},
  features: {
    'key generation (RSA, EC, EdDSA)': {
      status: 'supported',
      reason: 'RSA 512–16384, P-256/384/521, Ed25519 and Ed448; RSA-8192 keygen takes 9–20 s.',
    },
    'ECDSA with hashing in the token': {
      status: 'not-applicable',
      reason: 'CKM_ECDSA_SHA* is CKR_MECHANISM_INVALID; hsmkit hashes in software and signs with CKM_ECDSA.',
    },
    'key wrap (RFC 5649)': {
      status: 'supported',
      reason: 'CKM_AES_KEY_WRAP_PAD (0x210A) is RFC 5649; SoftHSM zero-pads PKCS#8 before wrapping.',
    },
    clustering: {
      status: 'not-applicable',
      reason: 'A file-backed software token; hsmkit clusters members itself.',
    },
    'remote backup': {
      status: 'partial',
      reason: 'Copying the token directory backs it up; keys are protected only by the user PIN.',
    },
  },
  quirks: [
    'ECDSA only as CKM_ECDSA on a prehash; CKM_ECDSA_SHA* is CKR_MECHANISM_INVALID.',
    'A mechanism that does not fit the key passes C_SignInit and fails in C_Sign with CKR_GENERAL_ERROR; hsmkit checks the key family before it signs.',
    'A stale handle is CKR_OBJECT_HANDLE_INVALID (other modules say CKR_KEY_HANDLE_INVALID); both map to HSM_ERR_KEY_NOT_FOUND.',
    'Two processes starting on one file token at the same moment can fail; member hosts start one after another.',
  ],
  sources: ['https://github.com/softhsm/SoftHSMv2', '../shared/DESIGN.md (measured on Debian 12)'],
};
