import { CKM } from '../constants.js';
import type { VendorProfile } from './vendor-profile.js';

/** opencryptoki 3.8 soft token (IBM). Checked by the conformance suite. */
export const opencryptoki: VendorProfile = {
  id: 'opencryptoki',
  name: 'opencryptoki (soft token)',
  evidence: 'conformance',
  products: ['opencryptoki 3.8.1 with the soft token (libpkcs11_sw.so), Debian 12'],
  detect: { libraryManufacturer: /^IBM\b/, libraryDescription: /Meta PKCS11/ },
  modulePaths: [
    '/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so',
    '/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so',
    '/usr/lib64/opencryptoki/libopencryptoki.so',
  ],
  login: {
    pinForm: 'the token user PIN',
    role: 'user (CKU_USER); the process needs the pkcs11 group',
    pinLength: { min: 4, max: 8 },
  },
  initialize: { requiresInitArgs: false },
  environment: {},
  sessions:
    'Needs the pkcsslotd daemon and fixed system paths (/etc/opencryptoki, /var/lib/opencryptoki); reports ulMaxRwSessionCount 0xFFFFFFFE.',
  avoidMechanisms: [
    {
      mechanism: CKM.SHA256_RSA_PKCS,
      reason:
        'CKR_MECHANISM_INVALID in 3.8; hsmkit hashes in software and signs the DigestInfo with CKM_RSA_PKCS.',
    },
    { mechanism: CKM.SHA384_RSA_PKCS, reason: 'as CKM_SHA256_RSA_PKCS' },
    { mechanism: CKM.SHA512_RSA_PKCS, reason: 'as CKM_SHA256_RSA_PKCS' },
  ],
  // No EC and RSA ≤ 4096 need no entry: the mechanism list and its key sizes already say so.
  refusedKeyTypes: [],
  maxRsaBits: 4096,
  sessionObjects: true,
  neverSignWithPublicHandle: true,
  templates: { notes: [] },
  errorCodes: {},
  features: {
    'key generation (RSA)': { status: 'supported', reason: 'RSA 512–4096 (CKM_RSA_PKCS_KEY_PAIR_GEN).' },
    'key generation (EC, EdDSA)': {
      status: 'not-applicable',
      reason: 'The 3.8 soft token offers no EC mechanisms.',
    },
    'RSA with hashing in the token': {
      status: 'partial',
      reason:
        'CKM_SHA*_RSA_PKCS is unusable; hsmkit falls back to software hashing with CKM_RSA_PKCS + DigestInfo.',
    },
    'key wrap (RFC 5649)': {
      status: 'not-applicable',
      reason: 'No AES key wrap mechanism; only AES-CBC(-PAD).',
    },
    clustering: {
      status: 'not-applicable',
      reason: 'One slot daemon per machine; hsmkit clusters members itself.',
    },
  },
  quirks: [
    'One pkcsslotd per machine and fixed paths: tests that use it must not run concurrently.',
    'PINs are 4–8 characters; the default user PIN (12345678) must be changed before use.',
  ],
  sources: ['https://github.com/opencryptoki/opencryptoki', '../shared/DESIGN.md (measured on Debian 12)'],
};
