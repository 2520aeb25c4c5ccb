import { Integer } from 'asn1js';
import { HsmError } from '../errors/index.js';
import { tbsOf } from './der-parts.js';
import { hsmCrypto } from './hsm-crypto.js';
import { loadCa } from './issue.js';
import type { PkiDeps } from './pki-deps.js';
import { verifySignature } from './signature-verify.js';
import { AuthorityKeyIdentifierExtension, Extension, type X509Crl, X509CrlGenerator } from './x509.js';

/** cRLNumber (RFC 5280 §5.2.3). */
export const CRL_NUMBER_OID = '2.5.29.20';

/** How long a CRL is valid when nothing else is asked: 7 days. */
export const DEFAULT_CRL_VALIDITY_MS = 7 * 86_400_000;

/** A signed CRL and its number. */
export interface GeneratedCrl {
  crl: X509Crl;
  number: number;
}

/**
 * Signs a CRL for a CA in the HSM: every revoked certificate with its date and reason code, a
 * fresh monotonic cRLNumber, the CA's key identifier (AKI), thisUpdate/nextUpdate. The signature
 * is checked with the CA's public key before the CRL is saved as the published one.
 */
export async function generateCrl(
  deps: PkiDeps,
  caName: string,
  validityMs = DEFAULT_CRL_VALIDITY_MS,
): Promise<GeneratedCrl> {
  const issuer = await loadCa(deps, caName);
  const revoked = await deps.repo.listRevocations(caName);
  const number = await deps.repo.nextCrlNumber(caName);
  const thisUpdate = new Date(Math.floor(deps.now().getTime() / 1000) * 1000);
  const crl = await X509CrlGenerator.create(
    {
      issuer: issuer.certificate.subjectName,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + validityMs),
      signingKey: issuer.key.cryptoKey,
      signingAlgorithm: issuer.key.algorithms.web,
      extensions: [
        new AuthorityKeyIdentifierExtension(issuer.keyId, false),
        new Extension(CRL_NUMBER_OID, false, new Uint8Array(new Integer({ value: number }).toBER())),
      ],
      entries: revoked.map((r) => ({
        serialNumber: r.serial,
        revocationDate: new Date(r.revokedAt),
        reason: r.reason,
      })),
    } as never,
    hsmCrypto(deps.signer),
  );
  const der = new Uint8Array(crl.rawData);
  if (
    !verifySignature(
      crl.signatureAlgorithm as never,
      issuer.key.spki,
      tbsOf(der),
      new Uint8Array(crl.signature),
    )
  ) {
    throw new HsmError('HSM_ERR_INTEGRITY', "the HSM's CRL signature does not verify with the CA key");
  }
  await deps.repo.saveCrl(caName, der);
  return { crl, number };
}
