import type { CertificateRecord } from '../store/pki-records.js';
import type { PkiDeps } from './pki-deps.js';
import { invalidInput, printable } from './pki-errors.js';
import { normaliseSerial } from './serial.js';

/** RFC 5280 CRLReason names and codes (7 is unused; removeFromCRL belongs to delta CRLs only). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

/** A reason name as `cert revoke --reason` takes it. */
export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** The code of a reason name (case-insensitive); unknown names are HSM_ERR_INVALID_INPUT. */
export function parseReason(name: string): number {
  const key = Object.keys(REVOCATION_REASONS).find((k) => k.toLowerCase() === String(name).toLowerCase());
  if (key === undefined) {
    throw invalidInput(
      `unknown revocation reason "${printable(name)}"; valid: ${Object.keys(REVOCATION_REASONS).join(', ')}`,
    );
  }
  return REVOCATION_REASONS[key as RevocationReason];
}

/** The name of a reason code. */
export function reasonName(code: number): string {
  return Object.entries(REVOCATION_REASONS).find(([, v]) => v === code)?.[0] ?? `reason-${code}`;
}

/** Parses a serial as users type it (hex, optional colons or 0x). */
export function parseSerial(text: string): string {
  const hex = String(text).trim().toLowerCase().replace(/^0x/, '').replace(/:/g, '');
  if (!/^[0-9a-f]{1,40}$/.test(hex)) throw invalidInput(`"${printable(text)}" is not a hexadecimal serial`);
  return normaliseSerial(hex.length % 2 ? `0${hex}` : hex);
}

/** Revokes an issued certificate: status `revoked` and the reason, recorded for CRLs and OCSP. */
export async function revokeCertificate(
  deps: PkiDeps,
  serial: string,
  reason: string,
): Promise<CertificateRecord> {
  const code = parseReason(reason);
  const s = parseSerial(serial);
  const rec = await deps.repo.getCertificate(s);
  if (!rec) throw invalidInput(`no certificate with serial ${s}`);
  // Whole seconds: CRLs and OCSP carry revocation times without fractions.
  return deps.repo.revoke(s, code, new Date(Math.floor(deps.now().getTime() / 1000) * 1000));
}
