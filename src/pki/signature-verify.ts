import { constants, createPublicKey, verify } from 'node:crypto';

/** A signature algorithm as @peculiar/x509 reports it (WebCrypto form). */
export interface WebSignatureAlgorithm {
  name: string;
  hash?: { name: string } | string;
  saltLength?: number;
  namedCurve?: string;
}

function nodeHash(alg: WebSignatureAlgorithm): string | undefined {
  const h = typeof alg.hash === 'string' ? alg.hash : alg.hash?.name;
  return h === undefined ? undefined : h.replace('-', '').toLowerCase();
}

/**
 * Verifies a signature in software (Node's OpenSSL) with a SubjectPublicKeyInfo. ECDSA signatures
 * are DER, as they sit in X.509 structures. Any error (wrong key type, malformed input) is `false`.
 */
export function verifySignature(
  alg: WebSignatureAlgorithm,
  spki: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    const hash = nodeHash(alg);
    switch (alg.name.toUpperCase()) {
      case 'RSASSA-PKCS1-V1_5':
        return key.asymmetricKeyType === 'rsa' && verify(hash!, data, key, signature);
      case 'RSA-PSS':
        return verify(
          hash!,
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength ?? 32 },
          signature,
        );
      case 'ECDSA':
        return key.asymmetricKeyType === 'ec' && verify(hash!, data, { key, dsaEncoding: 'der' }, signature);
      case 'ED25519':
        return key.asymmetricKeyType === 'ed25519' && verify(null, data, key, signature);
      case 'EDDSA':
        return key.asymmetricKeyType === 'ed448' && verify(null, data, key, signature);
      default:
        return false;
    }
  } catch {
    return false;
  }
}
