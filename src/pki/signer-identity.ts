import { pemCertificates } from './pem.js';
import { invalidInput, policyRefusal } from './pki-errors.js';
import type { PkiKeyManager } from './pki-key-manager.js';
import { EKU } from './profiles.js';
import { resolveSigningKey, type SigningKey } from './signing-key.js';
import { ExtendedKeyUsageExtension, X509Certificate } from './x509.js';

/** An HSM key with the certificate (and chain) that names it. */
export interface SignerIdentity {
  key: SigningKey;
  certificate: X509Certificate;
  /** Intermediates, issuer first. */
  chain: X509Certificate[];
}

const PURPOSE = {
  'code-signing': [EKU.codeSigning],
  'document-signing': [EKU.documentSigning, EKU.emailProtection],
} as const;

/**
 * Pairs an HSM key with its certificate: the first certificate of `certBundle` must certify the
 * key (else HSM_ERR_INVALID_INPUT) and carry an EKU for `purpose` (else HSM_ERR_POLICY); the rest
 * of the bundle and `chain` become the chain.
 */
export async function loadSignerIdentity(
  km: PkiKeyManager,
  keyRef: string,
  certBundle: Uint8Array,
  chain: Uint8Array | undefined,
  purpose: keyof typeof PURPOSE,
): Promise<SignerIdentity> {
  let certs: X509Certificate[];
  try {
    certs = [...pemCertificates(certBundle), ...(chain ? pemCertificates(chain) : [])].map(
      (d) => new X509Certificate(Buffer.from(d)),
    );
  } catch (err) {
    throw invalidInput('the certificate file is not PEM or DER certificates', err);
  }
  const certificate = certs[0];
  if (!certificate) throw invalidInput('no certificate given');
  const key = await resolveSigningKey(km, keyRef);
  if (!Buffer.from(certificate.publicKey.rawData).equals(Buffer.from(key.spki))) {
    throw invalidInput(`the certificate does not certify key "${key.label}"`);
  }
  const eku = (certificate.getExtension(ExtendedKeyUsageExtension)?.usages ?? []).map(String);
  if (!PURPOSE[purpose].some((u) => eku.includes(u))) {
    throw policyRefusal(`the certificate is not for ${purpose} (extKeyUsage)`);
  }
  return { key, certificate, chain: certs.slice(1) };
}
