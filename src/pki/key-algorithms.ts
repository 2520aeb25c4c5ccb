import { HsmError } from '../errors/index.js';
import type { SignAlgorithm } from '../kms/sign-algorithm.js';

/** How one key type signs certificates, CRLs, OCSP responses, CMS and JWS. */
export interface KeyAlgorithms {
  /** What hsmkit's KeyManager.sign is asked for. */
  sign: SignAlgorithm;
  /** WebCrypto algorithm as @peculiar/x509 expects it on a CryptoKey (decides the signature OID). */
  web: { name: string; hash?: { name: string }; namedCurve?: string };
  /** Signature AlgorithmIdentifier OID, and whether it carries NULL parameters (RSA PKCS#1 does). */
  signatureOid: string;
  nullParams: boolean;
  /** Digest OID for CMS (SHA-512 for Ed25519, RFC 8419). */
  digestOid: string;
  /** Node hash name of the digest. */
  digest: 'sha256' | 'sha384' | 'sha512';
  /** JWS "alg" (RFC 7518 / RFC 8037). */
  jws: string;
  /** ECDSA r‖s half length in bytes, for raw signatures. */
  ecPointSize?: number;
}

const SHA = {
  sha256: { oid: '2.16.840.1.101.3.4.2.1', web: 'SHA-256' },
  sha384: { oid: '2.16.840.1.101.3.4.2.2', web: 'SHA-384' },
  sha512: { oid: '2.16.840.1.101.3.4.2.3', web: 'SHA-512' },
} as const;

function rsa(hash: 'sha256' | 'sha384' | 'sha512'): KeyAlgorithms {
  const oid = {
    sha256: '1.2.840.113549.1.1.11',
    sha384: '1.2.840.113549.1.1.12',
    sha512: '1.2.840.113549.1.1.13',
  };
  return {
    sign: { scheme: 'rsa-pkcs1', hash },
    web: { name: 'RSASSA-PKCS1-v1_5', hash: { name: SHA[hash].web } },
    signatureOid: oid[hash],
    nullParams: true,
    digestOid: SHA[hash].oid,
    digest: hash,
    jws: `RS${hash.slice(3)}`,
  };
}

function ecdsa(curve: 'P-256' | 'P-384' | 'P-521', hash: 'sha256' | 'sha384' | 'sha512'): KeyAlgorithms {
  const oid = { sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4' };
  return {
    sign: { scheme: 'ecdsa', hash },
    web: { name: 'ECDSA', hash: { name: SHA[hash].web }, namedCurve: curve },
    signatureOid: oid[hash],
    nullParams: false,
    digestOid: SHA[hash].oid,
    digest: hash,
    jws: `ES${hash.slice(3)}`,
    ecPointSize: { 'P-256': 32, 'P-384': 48, 'P-521': 66 }[curve],
  };
}

/**
 * The algorithms for a key type. The hash grows with the key (SHA-384 for P-384 and RSA-4096,
 * SHA-512 for P-521) so the signature is never weaker than the key.
 */
export function keyAlgorithms(keyType: string): KeyAlgorithms {
  switch (keyType) {
    case 'rsa-2048':
    case 'rsa-3072':
      return rsa('sha256');
    case 'rsa-4096':
    case 'rsa-8192':
      return rsa('sha384');
    case 'ec-p256':
      return ecdsa('P-256', 'sha256');
    case 'ec-p384':
      return ecdsa('P-384', 'sha384');
    case 'ec-p521':
      return ecdsa('P-521', 'sha512');
    case 'ed25519':
      return {
        sign: { scheme: 'eddsa' },
        web: { name: 'Ed25519' },
        signatureOid: '1.3.101.112',
        nullParams: false,
        digestOid: SHA.sha512.oid,
        digest: 'sha512',
        jws: 'EdDSA',
      };
    default:
      throw new HsmError(
        'HSM_ERR_MECHANISM_UNSUPPORTED',
        `a ${keyType} key cannot sign certificates here; use rsa-*, ec-p256/384/521 or ed25519`,
      );
  }
}
