import { generateSecret, generateURI } from 'otplib';
import type { ServiceTotpRepository } from '../store/service-totp-repository.js';

/**
 * Enrols a human identity for TOTP: a fresh 160-bit secret is stored (replacing any earlier one)
 * and the otpauth:// URI for an authenticator app is returned for the caller to hand over; the
 * secret is never logged.
 */
export async function enrolTotp(repo: ServiceTotpRepository, identity: string): Promise<string> {
  const secret = generateSecret();
  await repo.enrol(identity, secret);
  return generateURI({ issuer: 'hsmkit', label: identity, secret });
}
