import type { VendorProfile } from './vendor-profile.js';

/** C_Initialize parameters for an NSS softokn database in `dir` whose key token is labelled `tokenLabel`. */
export function nssInitArgs(dir: string, tokenLabel?: string): string {
  const label = tokenLabel === undefined ? '' : ` dbTokenDescription='${tokenLabel.replace(/'/g, '')}'`;
  return `configdir='sql:${dir}' certPrefix='' keyPrefix='' secmod='secmod.db' flags=${label}`;
}

/** CKM_NSS_AES_KEY_WRAP_KWP: NSS's RFC 5649 (its 0x210A is RFC 3394 over PKCS#7 padding). */
export const CKM_NSS_AES_KEY_WRAP_KWP = 0x210b;

/** NSS softokn 3.87 (Mozilla). Checked by the conformance suite. */
export const nss: VendorProfile = {
  id: 'nss',
  name: 'NSS softokn',
  evidence: 'conformance',
  products: ['NSS softokn 3.87 with an sql: database, Debian 12'],
  detect: { libraryManufacturer: /^Mozilla Foundation/, libraryDescription: /^NSS Internal/ },
  modulePaths: ['/usr/lib/x86_64-linux-gnu/libsoftokn3.so', '/usr/lib64/libsoftokn3.so'],
  login: {
    pinForm: 'the database password of the key token ("NSS Certificate DB", or its dbTokenDescription)',
    role: 'user (CKU_USER)',
  },
  initialize: {
    requiresInitArgs: true,
    example: nssInitArgs('/path/to/db', 'hsmkit'),
  },
  environment: {},
  sessions:
    'No session limit. Slot 1 is a crypto-only token without login; keys live on the database token (slot 2).',
  avoidMechanisms: [],
  refusedKeyTypes: [],
  sessionObjects: true,
  neverSignWithPublicHandle: true,
  rfc5649Mechanism: CKM_NSS_AES_KEY_WRAP_KWP,
  templates: { notes: [] },
  errorCodes: {},
  features: {
    'key generation (RSA, EC)': {
      status: 'supported',
      reason: 'RSA of any size hsmkit offers; P-256, P-384, P-521.',
    },
    'key generation (EdDSA)': {
      status: 'not-applicable',
      reason: 'NSS 3.87 lists no CKM_EC_EDWARDS_KEY_PAIR_GEN.',
    },
    'non-extractable keys': {
      status: 'partial',
      reason:
        'NSS 3.87 ignores CKA_EXTRACTABLE=false and wraps such keys; the capability probe detects it and hsmkit refuses non-exportable keys here unless policy allows it.',
    },
    'key wrap (RFC 5649)': {
      status: 'supported',
      reason: 'CKM_NSS_AES_KEY_WRAP_KWP (0x210B). Its 0x210A is RFC 3394 over PKCS#7 padding, not RFC 5649.',
    },
    clustering: { status: 'not-applicable', reason: 'A local database; hsmkit clusters members itself.' },
  },
  quirks: [
    "C_Initialize without pReserved init args fails with CKR_ARGUMENTS_BAD; give init_args (e.g. configdir='sql:DIR' …).",
    'CKA_EXTRACTABLE=false is not enforced: such keys can be wrapped.',
    'CKM_AES_KEY_WRAP_PAD (0x210A) is not portable: NSS wraps RFC 3394 over PKCS#7 padding with it.',
    'EC private keys cannot be unwrapped (C_UnwrapKey answers CKR_TEMPLATE_INCOMPLETE); RSA private keys can.',
  ],
  sources: [
    'https://firefox-source-docs.mozilla.org/security/nss/',
    '../shared/DESIGN.md (measured on Debian 12)',
  ],
};
