import { HsmError } from '../errors/index.js';
import type { CeremonyRepository, CustodianRecord } from '../store/ceremony-records.js';
import { type Approval, approvalSignatureValid, publicKeyOf } from './approval.js';
import type { BiometricVerifier } from './biometric.js';
import { type Challenge, challengeSha256 } from './challenge.js';

/** Why an approval was refused (the `details.reason` of HSM_ERR_APPROVAL_REFUSED). */
export type RefusalReason =
  | 'malformed'
  | 'unregistered_key'
  | 'not_participant'
  | 'wrong_step'
  | 'replay'
  | 'bad_signature'
  | 'site_not_allowed'
  | 'biometric_failed'
  | 'duplicate_custodian';

/** An approval as received: where it came from (file name) and its parsed JSON. */
export interface ApprovalInput {
  source: string;
  value: unknown;
}

/** An approval that counted. */
export interface AcceptedApproval {
  approval: Approval;
  custodian: CustodianRecord;
  biometricVerifier?: string;
}

/** The outcome for one step: who counted and who was refused, and why. */
export interface ApprovalOutcome {
  accepted: AcceptedApproval[];
  refused: Array<{ source: string; reason: RefusalReason; custodian?: string }>;
}

/** What the rules depend on. */
export interface ApprovalRules {
  challenge: Challenge;
  /** Custodians this script names. */
  participants: readonly string[];
  /** Allowed sites; empty: any. */
  sites: readonly string[];
  biometric?: BiometricVerifier;
}

const refused = (reason: RefusalReason, message: string) =>
  new HsmError('HSM_ERR_APPROVAL_REFUSED', message, { details: { reason } });

/**
 * Checks approvals for one step: each must answer exactly this step's current challenge (same
 * ceremony, step, parameter hash and nonce), with a nonce not yet consumed, signed by a
 * registered custodian key of a participant, from an allowed site, with biometric evidence when
 * required. One approval per custodian counts.
 */
export class ApprovalVerifier {
  constructor(private readonly repo: CeremonyRepository) {}

  /** Checks one approval; throws HSM_ERR_APPROVAL_REFUSED with `details.reason`. */
  async check(
    value: unknown,
    rules: ApprovalRules,
    custodians: CustodianRecord[],
  ): Promise<AcceptedApproval> {
    const a = value as Approval;
    if (
      typeof a !== 'object' ||
      a === null ||
      a.type !== 'hsmkit.ceremony.approval' ||
      typeof a.signature !== 'string' ||
      typeof a.keyFingerprint !== 'string' ||
      typeof a.custodian !== 'string' ||
      typeof a.site !== 'string' ||
      typeof a.challenge !== 'object' ||
      a.challenge === null
    ) {
      throw refused('malformed', 'not an hsmkit ceremony approval');
    }
    const registered = custodians.find((c) => c.fingerprint === a.keyFingerprint.toLowerCase());
    if (!registered)
      throw refused('unregistered_key', `approval key ${a.keyFingerprint.slice(0, 16)}… is not registered`);
    if (!approvalSignatureValid(a, publicKeyOf(registered.publicKeyPem))) {
      throw refused(
        'bad_signature',
        `the approval of ${registered.name} does not verify with the registered key`,
      );
    }
    if (a.custodian !== registered.name) {
      throw refused('unregistered_key', `the key is registered to ${registered.name}, not ${a.custodian}`);
    }
    if (!rules.participants.includes(registered.name)) {
      throw refused('not_participant', `${registered.name} is not a custodian of this ceremony`);
    }
    const c = a.challenge;
    const want = rules.challenge;
    if (
      c.ceremonyId !== want.ceremonyId ||
      c.step !== want.step ||
      c.paramsSha256 !== want.paramsSha256 ||
      c.scriptSha256 !== want.scriptSha256 ||
      c.action !== want.action
    ) {
      throw refused(
        'wrong_step',
        `the approval of ${registered.name} is for another ceremony, step or parameters`,
      );
    }
    // Same step, other nonce: an approval of an earlier challenge. Consumed or superseded, it is a replay.
    const nonce = typeof c.nonce === 'string' ? await this.repo.getNonce(c.nonce) : undefined;
    if (c.nonce !== want.nonce || !nonce || nonce.usedAt !== undefined) {
      throw refused(
        'replay',
        `the approval of ${registered.name} answers a challenge that is no longer open`,
      );
    }
    if (rules.sites.length > 0 && !rules.sites.includes(a.site)) {
      throw refused('site_not_allowed', `site "${a.site.slice(0, 64)}" is not allowed for this ceremony`);
    }
    const accepted: AcceptedApproval = { approval: a, custodian: registered };
    if (rules.biometric) {
      const r = await rules.biometric
        .verify({
          custodian: registered.name,
          challengeSha256: challengeSha256(want),
          evidence: a.biometric ?? '',
        })
        .catch((err: unknown) => ({ ok: false, verifier: 'error', reason: (err as Error).message }));
      if (!r.ok)
        throw refused(
          'biometric_failed',
          `biometric check of ${registered.name} failed: ${r.reason ?? 'no match'}`,
        );
      accepted.biometricVerifier = r.verifier;
    }
    return accepted;
  }

  /** Checks every approval; the outcome lists the accepted (one per custodian) and the refused. */
  async verifyAll(inputs: ApprovalInput[], rules: ApprovalRules): Promise<ApprovalOutcome> {
    const custodians = await this.repo.listCustodians();
    const out: ApprovalOutcome = { accepted: [], refused: [] };
    for (const input of inputs) {
      try {
        const ok = await this.check(input.value, rules, custodians);
        if (out.accepted.some((x) => x.custodian.name === ok.custodian.name)) {
          out.refused.push({
            source: input.source,
            reason: 'duplicate_custodian',
            custodian: ok.custodian.name,
          });
        } else out.accepted.push(ok);
      } catch (err) {
        if (!HsmError.is(err, 'HSM_ERR_APPROVAL_REFUSED')) throw err;
        const custodian = (input.value as { custodian?: unknown } | null)?.custodian;
        out.refused.push({
          source: input.source,
          reason: err.details?.reason as RefusalReason,
          ...(typeof custodian === 'string' ? { custodian: custodian.slice(0, 64) } : {}),
        });
      }
    }
    return out;
  }
}
