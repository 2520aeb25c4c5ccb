import { createPublicKey, X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import { HsmError } from '../errors/index.js';
import { tbsOf } from './der-parts.js';
import { hsmCrypto, type TbsSigner } from './hsm-crypto.js';
import { assertLintClean, type LintContext, lintCertificate } from './lint.js';
import { lintSigningKey } from './lint-signer.js';
import type { SigningKey } from './signing-key.js';
import { type Extension, type Name, X509Certificate, X509CertificateGenerator } from './x509.js';

/** Everything that goes into a certificate's TBS. */
export interface CertificateDraft {
  /** Lowercase hex, from the HSM RNG. */
  serial: string;
  subject: Name;
  issuer: Name;
  notBefore: Date;
  notAfter: Date;
  /** Subject public key (SPKI DER). */
  spki: Uint8Array;
  extensions: Extension[];
}

/** A draft whose throw-away copy passed lint, ready for the HSM. */
export interface PreparedCertificate {
  draft: CertificateDraft;
  issuerKey: SigningKey;
  lint: LintContext;
  lintTbs: Uint8Array;
}

function params(draft: CertificateDraft) {
  return {
    serialNumber: draft.serial,
    subject: draft.subject,
    issuer: draft.issuer,
    notBefore: draft.notBefore,
    notAfter: draft.notAfter,
    publicKey: draft.spki,
    extensions: draft.extensions,
  };
}

/**
 * Signs a throw-away copy of the draft with a software lint key and lints it; nothing reaches the
 * HSM if lint fails (HSM_ERR_POLICY).
 */
export async function prepareCertificate(
  draft: CertificateDraft,
  issuerKey: SigningKey,
  lint: LintContext,
): Promise<PreparedCertificate> {
  const k = await lintSigningKey(issuerKey.algorithms);
  const copy = await X509CertificateGenerator.create(
    { ...params(draft), signingKey: k.privateKey, signingAlgorithm: issuerKey.algorithms.web } as never,
    webcrypto as never,
  );
  assertLintClean(lintCertificate(copy, lint), 'the certificate');
  return { draft, issuerKey, lint, lintTbs: tbsOf(new Uint8Array(copy.rawData)) };
}

/**
 * Has the HSM sign a prepared certificate, then checks what came back: the TBS must equal the
 * linted copy's byte for byte (HSM_ERR_INTEGRITY otherwise), the signature must verify with the
 * issuer's public key, and the real certificate is linted again.
 */
export async function finishCertificate(
  prep: PreparedCertificate,
  signer: TbsSigner,
): Promise<X509Certificate> {
  const cert = await X509CertificateGenerator.create(
    {
      ...params(prep.draft),
      signingKey: prep.issuerKey.cryptoKey,
      signingAlgorithm: prep.issuerKey.algorithms.web,
    } as never,
    hsmCrypto(signer),
  );
  const der = new Uint8Array(cert.rawData);
  if (!Buffer.from(tbsOf(der)).equals(Buffer.from(prep.lintTbs))) {
    throw new HsmError(
      'HSM_ERR_INTEGRITY',
      'the signed TBS differs from the linted copy; nothing was issued',
    );
  }
  const issuerPub = createPublicKey({ key: Buffer.from(prep.issuerKey.spki), format: 'der', type: 'spki' });
  if (!new NodeX509(Buffer.from(der)).verify(issuerPub)) {
    throw new HsmError(
      'HSM_ERR_INTEGRITY',
      "the HSM's certificate signature does not verify with the issuer key",
    );
  }
  const real = new X509Certificate(der);
  assertLintClean(lintCertificate(real, prep.lint), 'the signed certificate');
  return real;
}

/** prepareCertificate then finishCertificate. */
export async function signCertificate(
  draft: CertificateDraft,
  issuerKey: SigningKey,
  lint: LintContext,
  signer: TbsSigner,
): Promise<X509Certificate> {
  return finishCertificate(await prepareCertificate(draft, issuerKey, lint), signer);
}
