/** The PKI layer: CAs, CSRs, certificates, CRLs, OCSP, CMS and JWS over a KeyManager (never an adapter). */
export {
  type CaPlan,
  type CaPlanRequest,
  certifyCa,
  type InitCaRequest,
  type InitializedCa,
  initCa,
  planCa,
} from './ca.js';
export { verifyChain } from './chain-verify.js';
export { type CmsSignRequest, signCms, type Timestamper } from './cms-sign.js';
export { type CmsVerification, verifyCms } from './cms-verify.js';
export { type GeneratedCrl, generateCrl } from './crl.js';
export { createCsr, parseCsr, type VerifiedCsr } from './csr.js';
export { hsmCrypto, hsmTbsSigner, type TbsSigner } from './hsm-crypto.js';
export { type BatchIssueResult, type IssuedCertificate, issueBatch, issueFromCsr, loadCa } from './issue.js';
export { type Issuer, loadIssuer } from './issuer.js';
export { type JwsVerification, signJws, verifyJws } from './jws.js';
export { assertLintClean, type LintFinding, lintCertificate } from './lint.js';
export { OcspResponder, type OcspResponderOptions } from './ocsp/ocsp-responder.js';
export { fromPemOrDer, pemCertificates, toPem } from './pem.js';
export { createPkiDeps, type PkiDeps } from './pki-deps.js';
export { asPkiKeyManager, type PkiKeyManager } from './pki-key-manager.js';
export { defaultPkiPolicy, type PkiPolicy } from './policy.js';
export { getProfile, LEAF_PROFILES, type ProfileName } from './profiles.js';
export { type RenewMode, renewCertificate } from './renew.js';
export { parseReason, parseSerial, REVOCATION_REASONS, reasonName, revokeCertificate } from './revocation.js';
export { loadSignerIdentity, type SignerIdentity } from './signer-identity.js';
export { resolveSigningKey, type SigningKey } from './signing-key.js';
export { parseValidity } from './validity.js';
export { X509Certificate, X509Crl } from './x509.js';
