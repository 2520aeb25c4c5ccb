import { CKM } from '../constants.js';
import type { VendorProfile } from './vendor-profile.js';

const UNMARSHALLABLE = 'p11-kit 0.24 RPC cannot marshal it: CKR_MECHANISM_INVALID through the client';

/**
 * p11-kit's RPC client (p11-kit-client.so) talking to `p11-kit server` in front of another module:
 * the stand-in for a network HSM. Checked by the conformance suite over SoftHSM.
 */
export const p11KitRemote: VendorProfile = {
  id: 'p11-kit-remote',
  name: 'p11-kit remote (RPC client → p11-kit server)',
  evidence: 'conformance',
  products: ['p11-kit 0.24.1 client and server, Debian 12'],
  detect: { libraryManufacturer: /^PKCS#11 Kit/ },
  modulePaths: ['/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so'],
  login: { pinForm: 'the PIN of the token behind the server', role: "as the server's module requires" },
  initialize: { requiresInitArgs: false },
  environment: {
    P11_KIT_SERVER_ADDRESS: 'unix:path=SOCKET (read once per process: one member host per server)',
  },
  sessions:
    'The server serialises all calls (about one core). When the server dies every call fails with CKR_DEVICE_ERROR until C_Finalize + C_Initialize.',
  avoidMechanisms: [
    { mechanism: CKM.EDDSA, reason: UNMARSHALLABLE },
    { mechanism: CKM.ECDSA_SHA1, reason: UNMARSHALLABLE },
    { mechanism: CKM.ECDSA_SHA224, reason: UNMARSHALLABLE },
    { mechanism: CKM.ECDSA_SHA256, reason: UNMARSHALLABLE },
    { mechanism: CKM.ECDSA_SHA384, reason: UNMARSHALLABLE },
    { mechanism: CKM.ECDSA_SHA512, reason: UNMARSHALLABLE },
    { mechanism: CKM.SHA256_RSA_PKCS_PSS, reason: UNMARSHALLABLE },
    { mechanism: CKM.SHA384_RSA_PKCS_PSS, reason: UNMARSHALLABLE },
    { mechanism: CKM.SHA512_RSA_PKCS_PSS, reason: UNMARSHALLABLE },
    { mechanism: CKM.AES_KEY_WRAP, reason: UNMARSHALLABLE },
    { mechanism: CKM.AES_KEY_WRAP_PAD, reason: UNMARSHALLABLE },
  ],
  refusedKeyTypes: [],
  sessionObjects: true,
  neverSignWithPublicHandle: true,
  templates: { notes: [] },
  errorCodes: {},
  features: {
    'network HSM': { status: 'supported', reason: 'Each member host has its own P11_KIT_SERVER_ADDRESS.' },
    EdDSA: {
      status: 'not-applicable',
      reason: 'CKM_EDDSA and CKM_EC_EDWARDS_KEY_PAIR_GEN are not forwarded.',
    },
    'key wrap (RFC 5649)': { status: 'not-applicable', reason: 'AES key wrap mechanisms are not forwarded.' },
    'recovery after a server restart': {
      status: 'supported',
      reason:
        'CKR_DEVICE_ERROR makes the member host reload the module (C_Finalize + C_Initialize), rate-limited.',
    },
    'load balancing': {
      status: 'partial',
      reason: 'One server is one core; hsmkit balances across several members.',
    },
  },
  quirks: [
    'Only mechanisms it can marshal are forwarded (and listed); EdDSA, ECDSA_SHA*, SHA*_RSA_PKCS_PSS and AES key wrap are not.',
    'p11-kit-proxy ignores user module configs when it runs as root; load p11-kit-client.so directly.',
  ],
  sources: [
    'https://p11-glue.github.io/p11-glue/p11-kit.html',
    '../shared/DESIGN.md (measured on Debian 12)',
  ],
};
