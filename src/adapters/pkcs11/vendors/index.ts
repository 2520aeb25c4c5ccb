export { nssInitArgs } from './nss.js';
export {
  detectVendorProfile,
  GENERIC_PROFILE,
  type ModuleIdentity,
  selectVendorProfile,
  VENDOR_PROFILES,
  vendorProfile,
} from './registry.js';
export type {
  AvoidedMechanism,
  FeatureStatus,
  ProfileEvidence,
  RefusedKeyType,
  VendorFeature,
  VendorProfile,
} from './vendor-profile.js';
