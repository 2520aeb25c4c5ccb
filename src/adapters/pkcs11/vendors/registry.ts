/**
 * The vendor profiles and how one is chosen for a member: by the configured `provider:`, else
 * detected from C_GetInfo / C_GetTokenInfo (manufacturer, description, model), else the generic
 * profile, which assumes nothing beyond the PKCS#11 standard.
 */
import { HsmError } from '../../../errors/index.js';
import { awsCloudhsm } from './aws-cloudhsm.js';
import { azureDedicated } from './azure-dedicated.js';
import { entrustNshield } from './entrust-nshield.js';
import { nss } from './nss.js';
import { opencryptoki } from './opencryptoki.js';
import { p11KitRemote } from './p11-kit-remote.js';
import { softhsm2 } from './softhsm2.js';
import { thalesLuna } from './thales-luna.js';
import { tpm2 } from './tpm2.js';
import { utimaco } from './utimaco.js';
import type { VendorProfile } from './vendor-profile.js';

/** Every vendor profile, local (conformance-checked) ones first. */
export const VENDOR_PROFILES: readonly VendorProfile[] = [
  softhsm2,
  opencryptoki,
  nss,
  tpm2,
  p11KitRemote,
  thalesLuna,
  entrustNshield,
  utimaco,
  awsCloudhsm,
  azureDedicated,
];

/** The profile for a module hsmkit has no profile for: standard PKCS#11, nothing avoided. */
export const GENERIC_PROFILE: VendorProfile = {
  id: 'generic',
  name: 'Generic PKCS#11 module',
  evidence: 'documented',
  products: [],
  modulePaths: [],
  login: { pinForm: 'the token user PIN', role: 'user (CKU_USER)' },
  initialize: { requiresInitArgs: false },
  environment: {},
  sessions: 'Sized from ulMaxRwSessionCount.',
  avoidMechanisms: [],
  refusedKeyTypes: [],
  sessionObjects: true,
  neverSignWithPublicHandle: true,
  templates: { notes: [] },
  errorCodes: {},
  features: {},
  quirks: ['No vendor knowledge: capability detection alone decides what is used.'],
  sources: ['PKCS #11 Cryptographic Token Interface Base Specification'],
};

/** What detection looks at (blank padding already stripped). */
export interface ModuleIdentity {
  libraryManufacturer: string;
  libraryDescription: string;
  tokenManufacturer: string;
  tokenModel: string;
}

/** The profile with this id (config `provider:`), or undefined. */
export function vendorProfile(id: string): VendorProfile | undefined {
  return VENDOR_PROFILES.find((p) => p.id === id);
}

/** The first profile whose detection patterns all match, or undefined. */
export function detectVendorProfile(identity: ModuleIdentity): VendorProfile | undefined {
  return VENDOR_PROFILES.find((p) => {
    const d = p.detect;
    if (!d) return false;
    const checks: Array<[RegExp | undefined, string]> = [
      [d.libraryManufacturer, identity.libraryManufacturer],
      [d.libraryDescription, identity.libraryDescription],
      [d.tokenManufacturer, identity.tokenManufacturer],
      [d.tokenModel, identity.tokenModel],
    ];
    return checks.some(([re]) => re) && checks.every(([re, value]) => !re || re.test(value));
  });
}

/**
 * The profile for a member: the configured provider's (an unknown or non-PKCS#11 provider is a
 * configuration error), else the detected one, else the generic profile.
 */
export function selectVendorProfile(provider: string | undefined, identity?: ModuleIdentity): VendorProfile {
  if (provider !== undefined) {
    const p = vendorProfile(provider);
    if (!p) {
      throw new HsmError(
        'HSM_ERR_CONFIG',
        `provider "${provider}" has no PKCS#11 vendor profile; known: ${VENDOR_PROFILES.map((v) => v.id).join(', ')}`,
      );
    }
    return p;
  }
  return (identity && detectVendorProfile(identity)) ?? GENERIC_PROFILE;
}
