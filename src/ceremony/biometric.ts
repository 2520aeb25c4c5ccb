import { execFile } from 'node:child_process';

/** What the biometric verifier is asked: did this custodian, in person, produce this evidence for this challenge? */
export interface BiometricRequest {
  /** Registered custodian name. */
  custodian: string;
  /** SHA-256 hex of the challenge's canonical JSON; evidence must be bound to it (no reuse). */
  challengeSha256: string;
  /** Opaque evidence from the sensor (the approval's `biometric` field, covered by its signature). */
  evidence: string;
}

/** The verifier's answer. `ok` false refuses the approval. */
export interface BiometricResult {
  ok: boolean;
  /** Who decided (verifier name/version), recorded in the audit log. */
  verifier: string;
  /** Why not, for refusals; never biometric data. */
  reason?: string;
}

/**
 * The external biometric verifier contract (there is no sensor here). An implementation must:
 * answer within 30 s; return ok only when the evidence matches the enrolled custodian AND is
 * bound to `challengeSha256`; never return or log biometric templates. Errors refuse the approval.
 */
export interface BiometricVerifier {
  verify(req: BiometricRequest): Promise<BiometricResult>;
}

/**
 * Runs an external program per approval: the request as JSON on stdin, the result as JSON on
 * stdout, exit status 0. Anything else (timeout, bad JSON, non-zero exit) is a refusal.
 */
export function commandBiometricVerifier(program: string, timeoutMs = 30_000): BiometricVerifier {
  return {
    verify: (req) =>
      new Promise((resolve) => {
        const child = execFile(program, [], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout) => {
          if (err)
            return resolve({
              ok: false,
              verifier: program,
              reason: `verifier failed (${err.code ?? 'error'})`,
            });
          try {
            const r = JSON.parse(stdout) as Partial<BiometricResult>;
            resolve({
              ok: r.ok === true,
              verifier: String(r.verifier ?? program),
              ...(r.reason ? { reason: String(r.reason) } : {}),
            });
          } catch {
            resolve({ ok: false, verifier: program, reason: 'verifier answered no JSON' });
          }
        });
        child.stdin?.end(JSON.stringify(req));
      }),
  };
}
