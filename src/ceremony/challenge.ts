import { createHash, randomBytes } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json.js';
import type { CeremonyStep } from './script-loader.js';

/** What custodians sign to authorise one step: it names the ceremony, the step and its parameters. */
export interface Challenge {
  type: 'hsmkit.ceremony.challenge';
  v: 1;
  ceremonyId: string;
  /** SHA-256 hex of the script the ceremony runs. */
  scriptSha256: string;
  /** 1-based step number. */
  step: number;
  action: string;
  /** SHA-256 hex of the canonical JSON of the step's action and parameters. */
  paramsSha256: string;
  /** 32 random hex bytes, issued once and consumed once. */
  nonce: string;
  /** ISO-8601 UTC. */
  issuedAt: string;
}

/** SHA-256 hex of a step's canonical parameters (action, number and params). */
export function stepParamsSha256(step: CeremonyStep): string {
  const body = { action: step.action, step: step.number, params: step.params };
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** A fresh challenge for a step. */
export function newChallenge(ceremonyId: string, scriptSha256: string, step: CeremonyStep): Challenge {
  return {
    type: 'hsmkit.ceremony.challenge',
    v: 1,
    ceremonyId,
    scriptSha256,
    step: step.number,
    action: step.action,
    paramsSha256: stepParamsSha256(step),
    nonce: randomBytes(32).toString('hex'),
    issuedAt: new Date().toISOString(),
  };
}

/** SHA-256 hex of a challenge's canonical JSON (what biometric evidence is bound to). */
export function challengeSha256(c: Challenge): string {
  return createHash('sha256').update(canonicalJson(c)).digest('hex');
}
