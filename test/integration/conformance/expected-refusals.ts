/**
 * THE expected-refusals table: the only place the conformance suite knows one module from another.
 * A case not listed for a module must pass there; a listed one must be refused with exactly this
 * stable hsmkit code, and the reason says why (it is printed into docs/vendors/<vendor>.md).
 * A behaviour change on any module shows up here and in docs/vendors/matrix.md in review.
 */
import type { ErrorCode } from '../../../src/errors/codes.js';
import type { LocalVendor } from '../../support/modules/local-module.js';
import type { CaseId } from './cases.js';

/** An expected refusal: the code and the documented reason. */
export interface ExpectedRefusal {
  code: ErrorCode;
  reason: string;
}

export const EXPECTED_REFUSALS: Record<LocalVendor, Partial<Record<CaseId, ExpectedRefusal>>> = {
  softhsm2: {},
  opencryptoki: {
    'keygen-ec-p256': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'the 3.8 soft token has no EC mechanisms',
    },
    'keygen-ec-p384': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'the 3.8 soft token has no EC mechanisms',
    },
    'keygen-ec-p521': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'the 3.8 soft token has no EC mechanisms',
    },
    'keygen-ed25519': { code: 'HSM_ERR_MECHANISM_UNSUPPORTED', reason: 'no EdDSA mechanisms' },
    'sign-ecdsa-p256-sha256': { code: 'HSM_ERR_MECHANISM_UNSUPPORTED', reason: 'no EC keys' },
    'sign-ecdsa-p384-sha384': { code: 'HSM_ERR_MECHANISM_UNSUPPORTED', reason: 'no EC keys' },
    'sign-ecdsa-p521-sha512': { code: 'HSM_ERR_MECHANISM_UNSUPPORTED', reason: 'no EC keys' },
    'sign-ed25519': { code: 'HSM_ERR_MECHANISM_UNSUPPORTED', reason: 'no EdDSA keys' },
    'wrap-unwrap': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'no AES key wrap mechanism (only AES-CBC-PAD)',
    },
  },
  nss: {
    'keygen-ed25519': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'NSS 3.87 offers no EdDSA key generation',
    },
    'sign-ed25519': { code: 'HSM_ERR_MECHANISM_UNSUPPORTED', reason: 'NSS 3.87 offers no EdDSA' },
    'non-exportable-default-policy': {
      code: 'HSM_ERR_POLICY',
      reason:
        'the probe wrapped a CKA_EXTRACTABLE=false key: NSS 3.87 does not enforce it, so the default policy refuses non-exportable keys',
    },
  },
  tpm2: {
    'keygen-rsa-4096': { code: 'HSM_ERR_KEY_SIZE', reason: 'tpm2-pkcs11 generates RSA up to 3072 bits' },
    'keygen-ec-p521': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason:
        'P-521 signing is broken in tpm2-pkcs11 1.9; the vendor profile refuses it before the module is called',
    },
    'keygen-ed25519': { code: 'HSM_ERR_MECHANISM_UNSUPPORTED', reason: 'no EdDSA mechanisms' },
    'sign-rsa-pss-sha256': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'no RSA-PSS mechanism is offered',
    },
    'sign-ecdsa-p521-sha512': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'P-521 is refused (see keygen-ec-p521)',
    },
    'sign-ed25519': { code: 'HSM_ERR_MECHANISM_UNSUPPORTED', reason: 'no EdDSA keys' },
    'wrap-unwrap': { code: 'HSM_ERR_MECHANISM_UNSUPPORTED', reason: 'no AES key wrap mechanism is offered' },
  },
  'p11-kit-remote': {
    'keygen-ed25519': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'p11-kit 0.24 RPC does not forward EdDSA mechanisms',
    },
    'sign-ed25519': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'p11-kit 0.24 RPC does not forward CKM_EDDSA',
    },
    'wrap-unwrap': {
      code: 'HSM_ERR_MECHANISM_UNSUPPORTED',
      reason: 'p11-kit 0.24 RPC does not forward AES key wrap mechanisms',
    },
  },
};
