import { verify } from 'otplib';
import { HsmError } from '../errors/index.js';
import { type RateLimit, RateLimiter } from './rate-limiter.js';

/** Where enrolled TOTP secrets are read from (the store's service_totp table). */
export interface TotpSecrets {
  secret(identity: string): Promise<string | undefined>;
}

/** Failed codes an identity may send before it must wait: 5, then one more per minute (service.totp_lockout). */
export const TOTP_LOCKOUT: RateLimit = { perSecond: 1 / 60, burst: 5 };

/**
 * Checks the second factor of human identities: a 6-digit RFC 6238 code (30 s steps, one step of
 * clock skew either way). Wrong codes are limited per identity, so guessing a code is slow.
 * The secret never leaves this class: not in errors, logs or responses.
 */
export class TotpVerifier {
  readonly #failures: RateLimiter;

  /** `lockout`: wrong codes allowed (`burst`) and how fast they come back; default {@link TOTP_LOCKOUT}. */
  constructor(
    private readonly secrets: TotpSecrets,
    lockout: RateLimit = TOTP_LOCKOUT,
  ) {
    this.#failures = new RateLimiter(lockout);
  }

  /** Resolves when `code` is valid for `identity`; HSM_ERR_MFA_REQUIRED, _UNAUTHENTICATED or _RATE_LIMITED otherwise. */
  async check(identity: string, code: string | undefined): Promise<void> {
    if (code === undefined || code === '') {
      throw new HsmError(
        'HSM_ERR_MFA_REQUIRED',
        `identity ${identity} is human: send the TOTP code in X-Hsmkit-Otp`,
      );
    }
    // A locked-out identity's code is not even checked, so guessing gains nothing while locked.
    const locked = this.#failures.waitFor(identity);
    if (locked > 0) throw tooMany(identity, locked);
    const secret = await this.secrets.secret(identity);
    const valid =
      secret !== undefined &&
      /^\d{6}$/.test(code) &&
      (await verify({ secret, token: code, epochTolerance: 30 }).catch(() => ({ valid: false }))).valid;
    if (valid) return;
    this.#failures.take(identity);
    throw new HsmError(
      'HSM_ERR_UNAUTHENTICATED',
      secret === undefined
        ? `identity ${identity} has no TOTP enrolment; run "hsmkit totp enrol ${identity} --out FILE"`
        : 'the TOTP code is wrong or expired',
    );
  }
}

function tooMany(identity: string, wait: number): HsmError {
  return new HsmError('HSM_ERR_RATE_LIMITED', `too many wrong TOTP codes for ${identity}; wait ${wait} s`, {
    details: { retryAfterSeconds: wait },
  });
}
