import { createPublicKey } from 'node:crypto';
import { canonicalJson } from '../audit/canonical-json.js';
import { HsmError } from '../errors/index.js';
import type { KeyManager } from '../kms/key-manager.js';
import type { GeneratedKeyFacts, OutputFact } from './actions/step-context.js';
import type { Approval } from './approval.js';
import type { Challenge } from './challenge.js';

/** Label of the HSM key that signs ceremony transcripts. */
export const ATTESTATION_KEY_LABEL = 'hsmkit-attestation';

/** JWS `typ` of a transcript. */
export const TRANSCRIPT_TYP = 'hsmkit-ceremony-transcript+jws';

/** One step as the transcript records it. */
export interface TranscriptStep {
  step: number;
  action: string;
  paramsSha256: string;
  /** Approvals the step needed. */
  quorum: number;
  challenge: Challenge;
  /** The approvals that counted, with their signatures (verifiable against `custodians`). */
  approvals: Array<Approval & { biometricVerifier?: string }>;
  details: Record<string, unknown>;
  outputs: OutputFact[];
}

/** The ceremony completion certificate's content. */
export interface Transcript {
  type: 'hsmkit.ceremony.transcript';
  v: 1;
  ceremony: {
    id: string;
    type: string;
    description?: string;
    scriptSha256: string;
    window: { notBefore: string; notAfter: string };
    sites: string[];
    quorum: { m: number; n: number };
    emergencyReason?: string;
  };
  startedAt: string;
  completedAt: string;
  participants: Array<{ name: string; role: string }>;
  /** The registered keys of the custodians, so approvals verify offline. */
  custodians: Array<{ name: string; fingerprint: string; publicKeyPem: string }>;
  steps: TranscriptStep[];
  outputs: OutputFact[];
  /** Keys the ceremony generated or used, with their attributes read from the HSM. */
  keys: GeneratedKeyFacts[];
  video?: OutputFact;
  attestation: { keyUri: string; publicKeyPem: string };
}

const b64u = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');

/** Finds the attestation key, creating it (ec-p384, in the HSM) on first use. */
export async function ensureAttestationKey(km: KeyManager): Promise<{ uri: string; publicKeyPem: string }> {
  try {
    const k = await km.getKey(ATTESTATION_KEY_LABEL);
    return { uri: k.uri, publicKeyPem: k.publicKeyPem };
  } catch (err) {
    if (!HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) throw err;
    const k = await km.createKey({
      label: ATTESTATION_KEY_LABEL,
      type: 'ec-p384',
      metadata: { purpose: 'ceremony-attestation' },
    });
    return { uri: k.uri, publicKeyPem: k.publicKeyPem };
  }
}

/**
 * Signs a transcript in the HSM as a compact JWS (RFC 7515): ES384 with the attestation key,
 * whose public key travels in the `jwk` header; the payload is the transcript's canonical JSON.
 * Any JOSE library (e.g. `jose`'s compactVerify with the embedded key) can check it.
 */
export async function signTranscript(km: KeyManager, t: Transcript): Promise<string> {
  const jwk = createPublicKey(t.attestation.publicKeyPem).export({ format: 'jwk' });
  const header = {
    alg: 'ES384',
    typ: TRANSCRIPT_TYP,
    jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
  };
  const input = `${b64u(JSON.stringify(header))}.${b64u(canonicalJson(t))}`;
  const sig = await km.sign({
    key: t.attestation.keyUri,
    data: Buffer.from(input),
    algorithm: { scheme: 'ecdsa', hash: 'sha384' },
    format: 'raw',
  });
  return `${input}.${b64u(sig)}`;
}
