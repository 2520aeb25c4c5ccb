import type { VendorProfile } from './vendor-profile.js';

const DOCS = 'https://thalesdocs.com/gphsm/luna/7/docs/network/Content/Home_Luna.htm';

/**
 * Thales Luna (Network HSM 7 / Luna SA, Luna PCIe). Not runnable here: only what Thales documents
 * publicly. Capability detection decides mechanisms and key sizes at connect time.
 */
export const thalesLuna: VendorProfile = {
  id: 'thales_luna',
  name: 'Thales Luna',
  evidence: 'documented',
  products: ['Luna Network HSM 7 (formerly SafeNet Luna SA)', 'Luna PCIe HSM 7', 'Luna HSM Client 10.x'],
  detect: { libraryManufacturer: /SafeNet|Thales|Gemalto/i, tokenModel: /Luna/i },
  modulePaths: ['/usr/safenet/lunaclient/lib/libCryptoki2_64.so', '/usr/lib/libCryptoki2_64.so'],
  login: {
    pinForm: 'the partition role password (or PED-authenticated challenge secret)',
    role: 'Crypto Officer (CKU_USER) for key generation; the Crypto User role may only use keys',
  },
  initialize: { requiresInitArgs: false },
  environment: {
    ChrystokiConfigurationPath: 'directory of Chrystoki.conf, when the client is not at the default location',
  },
  sessions:
    'Per-partition session limits are set by the HSM; hsmkit sizes its pool from ulMaxRwSessionCount.',
  avoidMechanisms: [],
  refusedKeyTypes: [],
  sessionObjects: true,
  neverSignWithPublicHandle: true,
  templates: {
    notes: [
      'Luna partitions with the default policy refuse non-sensitive secret (AES) keys; hsmkit creates only sensitive keys.',
      'hsmkit sets every security attribute explicitly.',
    ],
  },
  errorCodes: {},
  features: {
    'HA groups (client-side load balancing and failover)': {
      status: 'partial',
      reason:
        'The Luna client presents an HA group as one virtual slot and balances inside it; hsmkit then sees one member. hsmkit can instead balance across partitions as separate members.',
    },
    'partition roles (Crypto Officer / Crypto User)': {
      status: 'partial',
      reason:
        'user_type crypto_officer logs in as CKU_USER; the Crypto User role needs a vendor user type hsmkit does not send.',
    },
    'remote backup (Backup HSM, cloning)': {
      status: 'not-applicable',
      reason: 'Done with Thales tools (lunacm/lunash) outside PKCS#11; hsmkit does not drive it.',
    },
    'PED authentication': {
      status: 'partial',
      reason: 'Works once the partition is activated (challenge secret); hsmkit cannot answer PED prompts.',
    },
    'key wrap (RFC 5649)': {
      status: 'partial',
      reason: 'Depends on firmware and policy; hsmkit uses it only when the mechanism list offers it.',
    },
  },
  quirks: ['Configured through Chrystoki.conf (client certificates, server list, HA groups).'],
  sources: [
    DOCS,
    'https://thalesdocs.com/gphsm/luna/7/docs/usb/Content/install/client_install/dynamic_partition_loading.htm',
  ],
};
