import type { SignAlgorithm } from '../../kms/sign-algorithm.js';
import type { PolicyDocument } from '../policy-document.js';
import { type Refusal, refuse } from '../policy-request.js';

/**
 * The mechanism names a signature may be allowed under: the combined mechanism first, then the
 * raw one hsmkit actually calls on a prehash. Listing either in allowed_mechanisms allows it.
 */
export function signMechanisms(alg: SignAlgorithm): string[] {
  const h = alg.hash?.slice(3); // '256' from 'sha256'
  switch (alg.scheme) {
    case 'rsa-pkcs1':
      return [`CKM_SHA${h}_RSA_PKCS`, 'CKM_RSA_PKCS'];
    case 'rsa-pss':
      return [`CKM_SHA${h}_RSA_PKCS_PSS`, 'CKM_RSA_PKCS_PSS'];
    case 'ecdsa':
      return [`CKM_ECDSA_SHA${h}`, 'CKM_ECDSA'];
    case 'eddsa':
      return ['CKM_EDDSA'];
    case 'ml-dsa':
      return ['CKM_ML_DSA'];
  }
}

/** Hash and mechanism rules for a signature. */
export function checkSignAlgorithm(doc: PolicyDocument, alg: SignAlgorithm): Refusal | undefined {
  const hashes = doc.algorithms.hashes;
  if (alg.hash !== undefined && hashes !== undefined && !(hashes as readonly string[]).includes(alg.hash)) {
    return refuse('algorithms.hashes', `hash ${alg.hash} is not allowed`);
  }
  const allowed = doc.security_policy.allowed_mechanisms;
  const names = signMechanisms(alg);
  if (allowed !== undefined && !names.some((n) => allowed.includes(n))) {
    return refuse('security_policy.allowed_mechanisms', `${names[0]} is not an allowed mechanism`);
  }
  return undefined;
}
