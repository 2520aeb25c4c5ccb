import { CKA } from '../constants.js';
import type { VendorProfile } from './vendor-profile.js';

/** tpm2-pkcs11 1.9 over a TPM 2.0 (swtpm + tpm2-abrmd here). Checked by the conformance suite. */
export const tpm2: VendorProfile = {
  id: 'tpm2',
  name: 'tpm2-pkcs11',
  evidence: 'conformance',
  products: ['tpm2-pkcs11 1.9 with tpm2-abrmd 3.0, over swtpm 0.7.1 or a hardware TPM 2.0'],
  detect: { libraryManufacturer: /^tpm2-software/, libraryDescription: /TPM2\.0 Cryptoki/ },
  modulePaths: ['/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so', '/usr/lib64/pkcs11/libtpm2_pkcs11.so'],
  login: { pinForm: 'the token user PIN', role: 'user (CKU_USER)' },
  initialize: { requiresInitArgs: false },
  environment: {
    TPM2_PKCS11_TCTI: 'how to reach the TPM, e.g. tabrmd:bus_type=session or device:/dev/tpmrm0',
    TPM2_PKCS11_STORE: 'directory of the token store (SQLite)',
    DBUS_SESSION_BUS_ADDRESS: 'the bus tpm2-abrmd is on, when the TCTI is tabrmd with bus_type=session',
  },
  sessions:
    'ulMaxRwSessionCount 1024. TPM dictionary-attack lockout applies to wrong PINs (swtpm: 3 tries, 1000 s).',
  avoidMechanisms: [],
  refusedKeyTypes: [
    {
      type: 'ec-p521',
      refuse: 'generate-and-sign',
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'P-521 signing is broken in tpm2-pkcs11 1.9; hsmkit refuses it before the module is called.',
    },
  ],
  maxRsaBits: 3072,
  sessionObjects: false,
  neverSignWithPublicHandle: true,
  templates: {
    omitWhenFalse: [CKA.ENCRYPT, CKA.DECRYPT],
    notes: [
      'Keys are token objects only: CKA_TOKEN=false is refused.',
      'An explicit CKA_DECRYPT=false (private) or CKA_ENCRYPT=false (public) fails C_GenerateKeyPair with CKR_GENERAL_ERROR ("attr mismatch"); hsmkit leaves them out, and the key reports what the TPM gave it.',
    ],
  },
  errorCodes: {},
  features: {
    'key generation (RSA)': {
      status: 'partial',
      reason: 'RSA 1024–3072 only; rsa-4096 and rsa-8192 are refused.',
    },
    'key generation (EC)': {
      status: 'partial',
      reason: 'P-256 and P-384; P-521 signing is broken, so hsmkit refuses P-521.',
    },
    'RSA-PSS': {
      status: 'not-applicable',
      reason: 'Neither CKM_RSA_PKCS_PSS nor CKM_SHA*_RSA_PKCS_PSS is offered.',
    },
    'session objects': {
      status: 'not-applicable',
      reason: 'Tokens only; hsmkit probes with a named temporary token key that it destroys.',
    },
    'key wrap (RFC 5649)': { status: 'not-applicable', reason: 'No AES key wrap mechanism is offered.' },
    'hardware protection': {
      status: 'supported',
      reason: 'Keys are sealed to the TPM; with swtpm that is a software TPM.',
    },
  },
  quirks: [
    'Signing with a public-key handle drives the TPM into failure mode: hsmkit only ever signs with handles found as CKO_PRIVATE_KEY, by CKA_ID; callers cannot pass handles.',
    'Attributes can flip from sensitive to non-sensitive.',
    'Wrong PINs count towards the TPM dictionary-attack lockout; hsmkit never retries a refused PIN.',
  ],
  sources: ['https://github.com/tpm2-software/tpm2-pkcs11', '../shared/DESIGN.md (measured on Debian 12)'],
};
