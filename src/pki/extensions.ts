import { webcrypto } from 'node:crypto';
import { describeSubjectKey } from './policy.js';
import { OCSP_NOCHECK_OID, type Profile } from './profiles.js';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  Extension,
  type JsonGeneralName,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
} from './x509.js';

/** Inputs of {@link profileExtensions}. */
export interface ExtensionInput {
  profile: Profile;
  /** Subject SPKI DER. */
  spki: Uint8Array;
  /** Issuer's key identifier (hex); the subject's own for a self-signed root. */
  authorityKeyId?: string;
  /** basicConstraints pathLenConstraint of a CA. */
  pathLength?: number;
  sans: JsonGeneralName[];
}

/** The extensions a profile puts in a certificate, in a fixed order (so TBS bytes are reproducible). */
export async function profileExtensions(input: ExtensionInput): Promise<Extension[]> {
  const p = input.profile;
  const ski = await SubjectKeyIdentifierExtension.create(input.spki as never, false, webcrypto as never);
  let usage = p.keyUsage;
  // RSA TLS servers may still be reached with RSA key exchange.
  if (p.name === 'tls-server' && describeSubjectKey(input.spki).family === 'rsa') {
    usage |= KeyUsageFlags.keyEncipherment;
  }
  const exts: Extension[] = [
    new BasicConstraintsExtension(p.ca, p.ca ? input.pathLength : undefined, true),
    new KeyUsagesExtension(usage, true),
    ski,
    new AuthorityKeyIdentifierExtension(input.authorityKeyId ?? ski.keyId, false),
  ];
  if (p.eku.length > 0) exts.push(new ExtendedKeyUsageExtension(p.eku, false));
  if (input.sans.length > 0) exts.push(new SubjectAlternativeNameExtension(input.sans, false));
  if (p.ocspNoCheck) exts.push(new Extension(OCSP_NOCHECK_OID, false, new Uint8Array([0x05, 0x00])));
  return exts;
}
