/**
 * What hsmkit knows about one PKCS#11 vendor, as data: where the module lives, how to log in, how
 * to initialise it, which mechanisms to avoid, template rules, key-size limits, error-code
 * normalisation, and the vendor's features with a status and a reason. The five modules that run
 * on the project's machines are checked by the conformance suite (test/integration/conformance);
 * the others encode only what the vendor documents publicly, with the source named.
 */
import type { ErrorCode } from '../../../errors/index.js';
import type { KeyType } from '../../../kms/key-spec.js';

/** Whether a vendor feature is available through hsmkit, and why (or why not). */
export type FeatureStatus = 'supported' | 'partial' | 'not-applicable';

/** One vendor feature: its status and the reason. */
export interface VendorFeature {
  status: FeatureStatus;
  /** Why, in one or two sentences; for partial and not-applicable, what is missing. */
  reason: string;
}

/** How the profile was established. */
export type ProfileEvidence =
  /** Checked on every run by the conformance suite against the real module. */
  | 'conformance'
  /** Taken from the vendor's public documentation; hsmkit cannot run the device here. */
  | 'documented';

/** A mechanism hsmkit must not use on this vendor, with the reason. */
export interface AvoidedMechanism {
  /** CKM_* value. */
  mechanism: number;
  reason: string;
}

/** A key type hsmkit refuses on this vendor, with the code and the reason. */
export interface RefusedKeyType {
  type: KeyType;
  /** What hsmkit refuses: generating the key, or signing with it (a key made elsewhere). */
  refuse: 'generate' | 'generate-and-sign';
  code: Extract<ErrorCode, 'HSM_ERR_MECHANISM_UNSUPPORTED' | 'HSM_ERR_KEY_SIZE'>;
  reason: string;
}

/** A vendor profile. */
export interface VendorProfile {
  /** Profile id; the config's `provider:` value. */
  id: string;
  /** Display name. */
  name: string;
  evidence: ProfileEvidence;
  /** Models or products the profile covers. */
  products: string[];
  /**
   * How to recognise the module when no provider is configured: regular expressions matched
   * against C_GetInfo (manufacturerID, libraryDescription) and C_GetTokenInfo (manufacturerID, model).
   * A profile matches when every given pattern matches; without `detect` it is chosen only by config.
   */
  detect?: {
    libraryManufacturer?: RegExp;
    libraryDescription?: RegExp;
    tokenManufacturer?: RegExp;
    tokenModel?: RegExp;
  };
  /** Usual install paths of the PKCS#11 library, most common first. */
  modulePaths: string[];
  /** How a client logs in. */
  login: {
    /** The form of the PIN hsmkit passes to C_Login. */
    pinForm: string;
    /** The role hsmkit should log in as for key use. */
    role: string;
    /** PIN length limits the module enforces, when known. */
    pinLength?: { min: number; max: number };
  };
  /** C_Initialize arguments. */
  initialize: {
    /** The module refuses C_Initialize without pReserved init args (NSS). */
    requiresInitArgs: boolean;
    /** What to pass, as an example. */
    example?: string;
  };
  /** Environment variables the module reads (per process: hence one member host per member). */
  environment: Record<string, string>;
  /** Session limits and behaviour. */
  sessions: string;
  /** Mechanisms hsmkit must not use even when listed; sign-plan falls back or refuses. */
  avoidMechanisms: AvoidedMechanism[];
  /** Key types refused before the module is called. */
  refusedKeyTypes: RefusedKeyType[];
  /** Largest RSA modulus hsmkit generates here (the module's own mechanism info may be lower). */
  maxRsaBits?: number;
  /** Whether the token supports session objects (CKA_TOKEN=false); probes use token keys if not. */
  sessionObjects: boolean;
  /** Signing ever uses a CKO_PRIVATE_KEY handle only; true where a public handle is dangerous. */
  neverSignWithPublicHandle: boolean;
  /** The mechanism value of RFC 5649 AES key wrap with padding, when the module offers it. */
  rfc5649Mechanism?: number;
  /**
   * Template rules: extra private-key attributes (CKA number → value), attributes to leave out of
   * both templates when their value would be false (a module that rejects them), and notes.
   */
  templates: { extraPrivate?: Record<number, boolean>; omitWhenFalse?: number[]; notes: string[] };
  /** Vendor-defined CKR values → hsmkit codes (applied before the standard table). */
  errorCodes: Record<number, ErrorCode>;
  /** Vendor features (clustering, load balancing, backup, …) and their status. */
  features: Record<string, VendorFeature>;
  /** Quirks worth knowing, in plain sentences. */
  quirks: string[];
  /** Public documents the profile is based on. */
  sources: string[];
}
