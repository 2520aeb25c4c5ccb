/**
 * PKCS#11 constants that hsmkit uses, by value. Kept here (not taken from pkcs11js) so that code
 * outside the seam never needs the native binding, and so that constants pkcs11js 2.1.7 lacks
 * (EdDSA from 3.0, ML-DSA/ML-KEM from 3.2) sit beside the rest.
 */

/** Object classes (CKO_*). */
export const CKO = {
  DATA: 0x0,
  CERTIFICATE: 0x1,
  PUBLIC_KEY: 0x2,
  PRIVATE_KEY: 0x3,
  SECRET_KEY: 0x4,
} as const;

/** Key types (CKK_*). EC_EDWARDS is 3.0; ML_KEM/ML_DSA are 3.2 (0x49, 0x4A). */
export const CKK = { RSA: 0x0, EC: 0x3, AES: 0x1f, EC_EDWARDS: 0x40, ML_KEM: 0x49, ML_DSA: 0x4a } as const;

/** Attribute types (CKA_*). */
export const CKA = {
  CLASS: 0x0,
  TOKEN: 0x1,
  PRIVATE: 0x2,
  LABEL: 0x3,
  VALUE: 0x11,
  KEY_TYPE: 0x100,
  ID: 0x102,
  SENSITIVE: 0x103,
  ENCRYPT: 0x104,
  DECRYPT: 0x105,
  WRAP: 0x106,
  UNWRAP: 0x107,
  SIGN: 0x108,
  SIGN_RECOVER: 0x109,
  VERIFY: 0x10a,
  DERIVE: 0x10c,
  MODULUS: 0x120,
  MODULUS_BITS: 0x121,
  PUBLIC_EXPONENT: 0x122,
  VALUE_LEN: 0x161,
  EXTRACTABLE: 0x162,
  LOCAL: 0x163,
  NEVER_EXTRACTABLE: 0x164,
  ALWAYS_SENSITIVE: 0x165,
  MODIFIABLE: 0x170,
  COPYABLE: 0x171,
  DESTROYABLE: 0x172,
  EC_PARAMS: 0x180,
  EC_POINT: 0x181,
  ALWAYS_AUTHENTICATE: 0x202,
  WRAP_WITH_TRUSTED: 0x210,
  TRUSTED: 0x86,
  PARAMETER_SET: 0x61d,
} as const;

/** Mechanisms (CKM_*). */
export const CKM = {
  RSA_PKCS_KEY_PAIR_GEN: 0x0,
  RSA_PKCS: 0x1,
  RSA_X_509: 0x3,
  RSA_PKCS_PSS: 0xd,
  RSA_PKCS_OAEP: 0x9,
  SHA1_RSA_PKCS: 0x6,
  SHA256_RSA_PKCS: 0x40,
  SHA384_RSA_PKCS: 0x41,
  SHA512_RSA_PKCS: 0x42,
  SHA256_RSA_PKCS_PSS: 0x43,
  SHA384_RSA_PKCS_PSS: 0x44,
  SHA512_RSA_PKCS_PSS: 0x45,
  SHA224_RSA_PKCS: 0x46,
  SHA224_RSA_PKCS_PSS: 0x47,
  ML_KEM_KEY_PAIR_GEN: 0x0f,
  ML_KEM: 0x17,
  ML_DSA_KEY_PAIR_GEN: 0x1c,
  ML_DSA: 0x1d,
  SHA_1: 0x220,
  SHA256: 0x250,
  SHA384: 0x260,
  SHA512: 0x270,
  EC_KEY_PAIR_GEN: 0x1040,
  ECDSA: 0x1041,
  ECDSA_SHA1: 0x1042,
  ECDSA_SHA224: 0x1043,
  ECDSA_SHA256: 0x1044,
  ECDSA_SHA384: 0x1045,
  ECDSA_SHA512: 0x1046,
  EC_EDWARDS_KEY_PAIR_GEN: 0x1055,
  EDDSA: 0x1057,
  AES_KEY_GEN: 0x1080,
  AES_KEY_WRAP: 0x2109,
  AES_KEY_WRAP_PAD: 0x210a,
} as const;

/** ML-DSA / ML-KEM parameter sets (CKP_*), PKCS#11 3.2. */
export const CKP = {
  ML_DSA_44: 1,
  ML_DSA_65: 2,
  ML_DSA_87: 3,
  ML_KEM_512: 1,
  ML_KEM_768: 2,
  ML_KEM_1024: 3,
} as const;

/** Mask generation functions for PSS (CKG_*). */
export const CKG = { MGF1_SHA1: 1, MGF1_SHA256: 2, MGF1_SHA384: 3, MGF1_SHA512: 4, MGF1_SHA224: 5 } as const;

/** Flags. */
export const CKF = {
  RW_SESSION: 0x2,
  SERIAL_SESSION: 0x4,
  OS_LOCKING_OK: 0x2,
  TOKEN_INITIALIZED: 0x400,
  LOGIN_REQUIRED: 0x4,
  USER_PIN_LOCKED: 0x40000,
  WRITE_PROTECTED: 0x2,
  RNG: 0x1,
  HW: 0x1,
  SIGN: 0x800,
  VERIFY: 0x2000,
  GENERATE_KEY_PAIR: 0x10000,
  WRAP: 0x20000,
  UNWRAP: 0x40000,
} as const;

/** User types for C_Login. */
export const CKU = { SO: 0, USER: 1, CONTEXT_SPECIFIC: 2 } as const;

/** Session-count values that mean "no information" / "no limit". */
export const CK_UNAVAILABLE_INFORMATION = 0xffffffff;
export const CK_EFFECTIVELY_INFINITE = 0;

const MECHANISM_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(CKM).map(([name, value]) => [value, `CKM_${name}`]),
);

/** `CKM_ECDSA` for 0x1041; hex for mechanisms hsmkit has no name for. */
export function mechanismName(mech: number): string {
  return MECHANISM_NAMES[mech] ?? `CKM_0x${mech.toString(16).toUpperCase().padStart(8, '0')}`;
}

/** The value of a CKM_* name, or undefined. */
export function mechanismByName(name: string): number | undefined {
  const key = name.replace(/^CKM_/, '') as keyof typeof CKM;
  return Object.hasOwn(CKM, key) ? CKM[key] : undefined;
}
