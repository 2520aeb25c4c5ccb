import type { VendorProfile } from './vendor-profile.js';

const DOCS = 'https://nshielddocs.entrust.com/security-world-docs/api-pkcs11/load-sharing-mode.html';

/** Entrust nShield (Connect, Solo, Edge) with a Security World. Not runnable here: public documentation only. */
export const entrustNshield: VendorProfile = {
  id: 'entrust_nshield',
  name: 'Entrust nShield',
  evidence: 'documented',
  products: ['nShield Connect', 'nShield Solo / Solo XC', 'nShield Edge', 'Security World software 13.x'],
  detect: { libraryManufacturer: /nCipher|Entrust/i },
  modulePaths: ['/opt/nfast/toolkits/pkcs11/libcknfast.so'],
  login: {
    pinForm: 'the passphrase of the Operator Card Set (OCS) or softcard; module-protected keys need none',
    role: 'user (CKU_USER)',
  },
  initialize: { requiresInitArgs: false },
  environment: {
    CKNFAST_LOADSHARING:
      '1 to enable load-sharing mode (required for softcards; also enables high-availability mode)',
    CKNFAST_CARDSET_HASH: 'limit the slots to one card set',
  },
  sessions:
    'Slots are virtual: one per OCS/softcard in load-sharing mode, plus an accelerator slot for session objects.',
  avoidMechanisms: [],
  refusedKeyTypes: [],
  sessionObjects: true,
  neverSignWithPublicHandle: true,
  templates: {
    notes: [
      'nShield applies its own defaults to attributes left out of a template; hsmkit always sets CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_PRIVATE, CKA_TOKEN and the usage attributes explicitly, false ones included.',
    ],
  },
  errorCodes: {},
  features: {
    'Security World': {
      status: 'partial',
      reason:
        'Keys are blobs protected by the world; creating the world and card sets is done with Entrust tools, not hsmkit.',
    },
    'OCS / softcard protection': {
      status: 'supported',
      reason: 'Log in with the OCS or softcard passphrase as the PIN; softcards need CKNFAST_LOADSHARING=1.',
    },
    'K/N card sets': {
      status: 'partial',
      reason: 'Needs preload or the nShield-specific C_LoginBegin/Next/End, which hsmkit does not call.',
    },
    'load sharing / high availability': {
      status: 'supported',
      reason:
        'In load-sharing mode the library spreads one token over several HSMs and adapts to modules joining or leaving.',
    },
    'remote backup': {
      status: 'partial',
      reason:
        'Key blobs in the kmdata directory are the backup (encrypted under the world); copying them is outside hsmkit.',
    },
  },
  quirks: [
    'C_Logout removes the nShield logical token; hsmkit never logs out per operation.',
    'C_InitToken is not supported in non-load-sharing FIPS 140 Level 3 worlds.',
  ],
  sources: [
    DOCS,
    'https://nshielddocs.entrust.com/security-world-docs/v13.3/api-pkcs11/no-load-sharing-or-pool-mode.html',
  ],
};
