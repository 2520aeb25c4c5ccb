import { invalidInput, printable } from './pki-errors.js';
import { KeyUsageFlags } from './x509.js';

/** Extended key usage OIDs hsmkit's profiles use. */
export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  /** id-kp-documentSigning, RFC 9336. */
  documentSigning: '1.3.6.1.5.5.7.3.36',
} as const;

/** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): a delegated responder's certificate is not itself checked. */
export const OCSP_NOCHECK_OID = '1.3.6.1.5.5.7.48.1.5';

/** Profiles a CSR can be issued under. */
export const LEAF_PROFILES = [
  'tls-server',
  'tls-client',
  'code-signing',
  'ocsp-signing',
  'document-signing',
] as const;

/** Every profile name, CA profiles included. */
export type ProfileName = 'root-ca' | 'intermediate-ca' | (typeof LEAF_PROFILES)[number];

/** A certificate profile: what the certificate may be used for and what its request must carry. */
export interface Profile {
  name: ProfileName;
  /** basicConstraints cA. */
  ca: boolean;
  /** keyUsage bits (always critical). RSA subjects of tls-server also get keyEncipherment. */
  keyUsage: number;
  /** extKeyUsage OIDs; empty for CAs. */
  eku: string[];
  /** SAN rule: tls-server needs a DNS or IP name; the others take what the request has. */
  sanRequired: boolean;
  /** SAN kinds allowed (others are refused). */
  sanKinds: Array<'dns' | 'ip' | 'email' | 'url'>;
  /** Adds id-pkix-ocsp-nocheck. */
  ocspNoCheck: boolean;
  /** Validity when none is asked for, in days. */
  defaultValidityDays: number;
}

const SIGN = KeyUsageFlags.digitalSignature;

const PROFILES: Record<ProfileName, Profile> = {
  'root-ca': {
    name: 'root-ca',
    ca: true,
    keyUsage: KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | SIGN,
    eku: [],
    sanRequired: false,
    sanKinds: [],
    ocspNoCheck: false,
    defaultValidityDays: 3650,
  },
  'intermediate-ca': {
    name: 'intermediate-ca',
    ca: true,
    keyUsage: KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | SIGN,
    eku: [],
    sanRequired: false,
    sanKinds: [],
    ocspNoCheck: false,
    defaultValidityDays: 1825,
  },
  'tls-server': {
    name: 'tls-server',
    ca: false,
    keyUsage: SIGN,
    eku: [EKU.serverAuth],
    sanRequired: true,
    sanKinds: ['dns', 'ip'],
    ocspNoCheck: false,
    defaultValidityDays: 90,
  },
  'tls-client': {
    name: 'tls-client',
    ca: false,
    keyUsage: SIGN,
    eku: [EKU.clientAuth],
    sanRequired: false,
    sanKinds: ['dns', 'ip', 'email', 'url'],
    ocspNoCheck: false,
    defaultValidityDays: 365,
  },
  'code-signing': {
    name: 'code-signing',
    ca: false,
    keyUsage: SIGN,
    eku: [EKU.codeSigning],
    sanRequired: false,
    sanKinds: ['email', 'url'],
    ocspNoCheck: false,
    defaultValidityDays: 365,
  },
  'ocsp-signing': {
    name: 'ocsp-signing',
    ca: false,
    keyUsage: SIGN,
    eku: [EKU.ocspSigning],
    sanRequired: false,
    sanKinds: [],
    ocspNoCheck: true,
    defaultValidityDays: 30,
  },
  'document-signing': {
    name: 'document-signing',
    ca: false,
    keyUsage: SIGN | KeyUsageFlags.nonRepudiation,
    // emailProtection beside documentSigning: OpenSSL verifies CMS signers for the S/MIME purpose.
    eku: [EKU.documentSigning, EKU.emailProtection],
    sanRequired: false,
    sanKinds: ['email', 'url'],
    ocspNoCheck: false,
    defaultValidityDays: 365,
  },
};

/** The profile called `name`; an unknown name is HSM_ERR_INVALID_INPUT listing the valid ones. */
export function getProfile(name: string): Profile {
  if (typeof name !== 'string' || !Object.hasOwn(PROFILES, name)) {
    throw invalidInput(`unknown profile "${printable(String(name))}"; valid: ${LEAF_PROFILES.join(', ')}`);
  }
  return PROFILES[name as ProfileName];
}

/** A leaf profile (what `cert issue --profile` accepts); CA profiles are refused here. */
export function getLeafProfile(name: string): Profile {
  const p = getProfile(name);
  if (p.ca) throw invalidInput(`profile ${p.name} is for "ca init", not for issuing from a CSR`);
  return p;
}
