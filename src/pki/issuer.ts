import type { CaRecord } from '../store/pki-records.js';
import { policyRefusal } from './pki-errors.js';
import type { PkiKeyManager } from './pki-key-manager.js';
import { resolveSigningKey, type SigningKey } from './signing-key.js';
import {
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
} from './x509.js';

/** A CA able to sign: its certificate and its HSM key. */
export interface Issuer {
  /** CA name in the store. */
  name: string;
  certificate: X509Certificate;
  key: SigningKey;
  /** The certificate's subjectKeyIdentifier (hex). */
  keyId: string;
  /** pathLenConstraint, when the CA has one. */
  pathLength?: number;
}

/**
 * Builds an Issuer from a certificate and an HSM key, refusing (HSM_ERR_POLICY) a certificate that
 * is not a CA (basicConstraints cA, keyUsage keyCertSign), that has expired, or whose public key
 * is not the HSM key's.
 */
export async function loadIssuer(
  km: PkiKeyManager,
  name: string,
  certificateDer: Uint8Array,
  keyRef: string,
  now: Date,
): Promise<Issuer> {
  const certificate = new X509Certificate(Buffer.from(certificateDer));
  const bc = certificate.getExtension(BasicConstraintsExtension);
  const ku = certificate.getExtension(KeyUsagesExtension);
  if (!bc?.ca || !ku || (ku.usages & KeyUsageFlags.keyCertSign) === 0) {
    throw policyRefusal(`"${name}" is not a CA certificate (basicConstraints cA and keyCertSign required)`);
  }
  if (now > certificate.notAfter)
    throw policyRefusal(`CA "${name}" expired on ${certificate.notAfter.toISOString()}`);
  const key = await resolveSigningKey(km, keyRef);
  if (!Buffer.from(certificate.publicKey.rawData).equals(Buffer.from(key.spki))) {
    throw policyRefusal(`the key of CA "${name}" is not the key its certificate certifies`);
  }
  const keyId = certificate.getExtension(SubjectKeyIdentifierExtension)?.keyId;
  if (!keyId) throw policyRefusal(`CA "${name}" has no subjectKeyIdentifier`);
  const issuer: Issuer = { name, certificate, key, keyId };
  if (bc.pathLength !== undefined) issuer.pathLength = bc.pathLength;
  return issuer;
}

/** loadIssuer for a CA from the store. */
export function issuerOf(km: PkiKeyManager, ca: CaRecord, now: Date): Promise<Issuer> {
  return loadIssuer(km, ca.name, ca.certificate, ca.keyUri, now);
}
