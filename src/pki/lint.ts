import { HsmError } from '../errors/index.js';
import { tbsOf } from './der-parts.js';
import { OCSP_NOCHECK_OID, type Profile } from './profiles.js';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  type X509Certificate,
} from './x509.js';

/** One lint failure: the rule's id (see docs/lint-rules.md) and what is wrong. */
export interface LintFinding {
  rule: string;
  message: string;
}

/** What a certificate is linted against. */
export interface LintContext {
  profile: Profile;
  /** Longest validity allowed, in days. */
  maxValidityDays: number;
  /** The issuer's certificate; absent for a self-signed root. */
  issuer?: X509Certificate;
}

const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  ski: '2.5.29.14',
  aki: '2.5.29.35',
  san: '2.5.29.17',
};
const ANY_EKU = '2.5.29.37.0';

/**
 * Structural lint of a certificate (the rules of docs/lint-rules.md). Runs on the throw-away copy
 * before the HSM signs, and again on the real certificate after.
 */
export function lintCertificate(cert: X509Certificate, ctx: LintContext): LintFinding[] {
  const out: LintFinding[] = [];
  const fail = (rule: string, message: string) => out.push({ rule, message });
  const p = ctx.profile;
  const der = new Uint8Array(cert.rawData);

  // L01 version 3 — the TBS starts with the [0] EXPLICIT version 2.
  const tbs = tbsOf(der);
  if (!hasV3(tbs)) fail('L01', 'certificate is not version 3');
  // L02 serial: positive, 64..160 bits.
  const serialBytes = Buffer.from(cert.serialNumber, 'hex');
  if (serialBytes.length < 8 || serialBytes.length > 20 || serialBytes.every((b) => b === 0)) {
    fail('L02', `serial ${cert.serialNumber} is not 8..20 non-zero octets`);
  }
  // L03 validity order and cap.
  const ms = cert.notAfter.getTime() - cert.notBefore.getTime();
  if (ms <= 0) fail('L03', 'notAfter is not after notBefore');
  if (ms > ctx.maxValidityDays * 86_400_000 + 1000) {
    fail('L03', `validity exceeds the ${p.name} cap of ${ctx.maxValidityDays} days`);
  }
  // L04 subject present (always for CAs; leaves may rely on the SAN only when it is critical, which hsmkit never does).
  if (cert.subjectName.toJSON().length === 0) fail('L04', 'subject is empty');
  // L05 no duplicate extensions.
  const oids = cert.extensions.map((e) => e.type);
  if (new Set(oids).size !== oids.length) fail('L05', 'an extension appears twice');

  // L06 SKI present, not critical.
  const ski = cert.getExtension(SubjectKeyIdentifierExtension);
  if (!ski) fail('L06', 'subjectKeyIdentifier is missing');
  else if (ski.critical) fail('L06', 'subjectKeyIdentifier must not be critical');
  // L07 AKI present, not critical, equal to the issuer's SKI (or own SKI for a root).
  const aki = cert.getExtension(AuthorityKeyIdentifierExtension);
  const issuerSki = ctx.issuer ? ctx.issuer.getExtension(SubjectKeyIdentifierExtension)?.keyId : ski?.keyId;
  if (!aki?.keyId) fail('L07', 'authorityKeyIdentifier with a keyIdentifier is missing');
  else if (aki.critical) fail('L07', 'authorityKeyIdentifier must not be critical');
  else if (issuerSki !== undefined && aki.keyId !== issuerSki) {
    fail('L07', 'authorityKeyIdentifier does not match the issuer key');
  }
  // L08 issuer name chains to the issuer's subject, byte for byte.
  const expectedIssuer = ctx.issuer ? ctx.issuer.subjectName : cert.subjectName;
  if (!sameBytes(cert.issuerName.toArrayBuffer(), expectedIssuer.toArrayBuffer())) {
    fail('L08', 'issuer name differs from the issuer certificate subject');
  }
  // L09 validity nested in the issuer's.
  if (ctx.issuer && (cert.notBefore < ctx.issuer.notBefore || cert.notAfter > ctx.issuer.notAfter)) {
    fail('L09', "validity is not within the issuer's validity");
  }

  // L10 basicConstraints.
  const bc = cert.getExtension(BasicConstraintsExtension);
  if (p.ca) {
    if (!bc?.ca) fail('L10', 'a CA certificate needs basicConstraints cA=TRUE');
    else if (!bc.critical) fail('L10', 'basicConstraints must be critical in a CA certificate');
  } else if (bc?.ca) fail('L10', 'a leaf certificate must not have cA=TRUE');
  else if (bc?.pathLength !== undefined) fail('L10', 'pathLenConstraint without cA');
  // L11 keyUsage present and critical; CA bits only on CAs.
  const ku = cert.getExtension(KeyUsagesExtension);
  const caBits = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
  if (!ku) fail('L11', 'keyUsage is missing');
  else {
    if (!ku.critical) fail('L11', 'keyUsage must be critical');
    if (p.ca && (ku.usages & caBits) !== caBits) fail('L11', 'a CA needs keyCertSign and cRLSign');
    if (!p.ca && (ku.usages & caBits) !== 0) fail('L11', 'a leaf must not have keyCertSign or cRLSign');
    if (Number(ku.usages) === 0) fail('L11', 'keyUsage has no bit set');
  }
  // L12 extKeyUsage: leaves have exactly the profile's, no anyExtendedKeyUsage; CAs none.
  const eku = cert.getExtension(ExtendedKeyUsageExtension);
  const usages = (eku?.usages ?? []).map(String);
  if (p.ca && eku) fail('L12', 'hsmkit CA certificates carry no extKeyUsage');
  if (!p.ca) {
    if (!eku) fail('L12', 'extKeyUsage is missing');
    else if (usages.includes(ANY_EKU)) fail('L12', 'anyExtendedKeyUsage is not allowed');
    else if (p.eku.some((u) => !usages.includes(u))) fail('L12', `extKeyUsage lacks a ${p.name} purpose`);
  }
  // L13 SAN rules.
  const san = cert.getExtension(SubjectAlternativeNameExtension);
  const names = san?.names.toJSON() ?? [];
  if (san && names.length === 0) fail('L13', 'subjectAltName is empty');
  if (p.sanRequired && !names.some((n) => n.type === 'dns' || n.type === 'ip')) {
    fail('L13', `${p.name} needs a DNS or IP subjectAltName`);
  }
  for (const n of names) {
    if (!(p.sanKinds as string[]).includes(n.type))
      fail('L13', `SAN kind ${n.type} is not allowed in ${p.name}`);
  }
  // L14 OCSP responder certificates carry id-pkix-ocsp-nocheck.
  const nocheck = oids.includes(OCSP_NOCHECK_OID);
  if (p.ocspNoCheck !== nocheck) fail('L14', `id-pkix-ocsp-nocheck ${nocheck ? 'unexpected' : 'missing'}`);
  // L15 only known extensions, so nothing unreviewed is ever signed.
  const known = new Set([...Object.values(OID), OCSP_NOCHECK_OID]);
  for (const o of oids) if (!known.has(o)) fail('L15', `unexpected extension ${o}`);
  return out;
}

/** Throws HSM_ERR_POLICY listing the findings, when there are any. */
export function assertLintClean(findings: LintFinding[], what: string): void {
  if (findings.length === 0) return;
  throw new HsmError(
    'HSM_ERR_POLICY',
    `${what} fails lint: ${findings.map((f) => `${f.rule} ${f.message}`).join('; ')}`,
    { details: { findings } },
  );
}

function hasV3(tbs: Uint8Array): boolean {
  // SEQUENCE header, then A0 03 02 01 02.
  const headerLen = (tbs[1] ?? 0) < 0x80 ? 2 : 2 + ((tbs[1] ?? 0) & 0x7f);
  const v = tbs.subarray(headerLen, headerLen + 5);
  return v.length === 5 && v[0] === 0xa0 && v[1] === 3 && v[2] === 2 && v[3] === 1 && v[4] === 2;
}

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}
