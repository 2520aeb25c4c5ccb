import { createPublicKey, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { canonicalJson } from '../audit/canonical-json.js';
import { HsmError } from '../errors/index.js';
import { sha256Hex } from './actions/step-context.js';
import {
  type Approval,
  approvalSignatureValid,
  keyFingerprint,
  pemFingerprint,
  publicKeyOf,
} from './approval.js';
import { TRANSCRIPT_TYP, type Transcript } from './transcript.js';

/** What to check beyond the signature. */
export interface TranscriptCheckOptions {
  /** The attestation public key (PEM) the verifier trusts; without it the embedded key is reported. */
  attestationKeyPem?: string;
  /** The script bytes; their hash must be the transcript's. */
  script?: Uint8Array;
  /** Check output files that exist at their recorded path (default true). */
  checkFiles?: boolean;
}

/** What a verified transcript says. */
export interface TranscriptVerification {
  ceremonyId: string;
  type: string;
  /** SHA-256 hex of the attestation key's SPKI. */
  attestationFingerprint: string;
  steps: number;
  approvals: number;
  keys: string[];
  outputsChecked: number;
  outputsAbsent: number;
  transcript: Transcript;
}

const invalid = (message: string) => new HsmError('HSM_ERR_TRANSCRIPT_INVALID', message);

/**
 * Verifies a ceremony transcript offline: the JWS signature with the attestation key, every
 * approval signature against the custodian keys the transcript carries, each approval's challenge
 * against its step, the quorum per step, the HSM key attributes, and the hashes of the outputs
 * and video that are present. Any failure is HSM_ERR_TRANSCRIPT_INVALID.
 */
export function verifyTranscript(jws: string, o: TranscriptCheckOptions = {}): TranscriptVerification {
  const parts = jws.trim().split('.');
  if (parts.length !== 3) throw invalid('not a compact JWS');
  let header: { alg?: unknown; typ?: unknown; jwk?: Record<string, unknown> };
  let t: Transcript;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
    t = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    throw invalid('the JWS header or payload is not JSON');
  }
  if (header.alg !== 'ES384' || header.typ !== TRANSCRIPT_TYP || typeof header.jwk !== 'object') {
    throw invalid('not an hsmkit ceremony transcript (alg ES384, typ and jwk expected)');
  }
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: header.jwk as never, format: 'jwk' });
  } catch {
    throw invalid('the JWS jwk is not a public key');
  }
  const spki = key.export({ type: 'spki', format: 'der' });
  const ok = verify(
    'sha384',
    Buffer.from(`${parts[0]}.${parts[1]}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(parts[2]!, 'base64url'),
  );
  if (!ok) throw invalid('the transcript signature does not verify');
  const fingerprint = keyFingerprint(spki);
  if (o.attestationKeyPem !== undefined && pemFingerprint(o.attestationKeyPem) !== fingerprint) {
    throw invalid('the transcript is signed by another attestation key than the trusted one');
  }
  if (t?.type !== 'hsmkit.ceremony.transcript' || t.v !== 1) throw invalid('unknown transcript version');
  if (pemFingerprint(t.attestation.publicKeyPem) !== fingerprint) {
    throw invalid('the transcript names another attestation key than the one that signed it');
  }
  if (o.script !== undefined && sha256Hex(o.script) !== t.ceremony.scriptSha256) {
    throw invalid('the script is not the one the ceremony ran');
  }
  let approvals = 0;
  for (const s of t.steps) approvals += checkStep(t, s);
  for (const k of t.keys) {
    const a = k.attributes;
    if (!a.local || !a.neverExtractable || !a.alwaysSensitive || a.extractable) {
      throw invalid(`key ${k.label}: the HSM does not attest it was generated inside and never left`);
    }
  }
  let checked = 0;
  let absent = 0;
  for (const f of [...t.outputs, ...(t.video ? [t.video] : [])]) {
    if (o.checkFiles === false || !existsSync(f.path)) {
      absent++;
      continue;
    }
    if (sha256Hex(readFileSync(f.path)) !== f.sha256)
      throw invalid(`${f.path} does not match its recorded hash`);
    checked++;
  }
  return {
    ceremonyId: t.ceremony.id,
    type: t.ceremony.type,
    attestationFingerprint: fingerprint,
    steps: t.steps.length,
    approvals,
    keys: t.keys.map((k) => k.uri),
    outputsChecked: checked,
    outputsAbsent: absent,
    transcript: t,
  };
}

/** Checks one step's approvals; returns how many counted. */
function checkStep(t: Transcript, s: Transcript['steps'][number]): number {
  const c = s.challenge;
  if (
    c.ceremonyId !== t.ceremony.id ||
    c.step !== s.step ||
    c.paramsSha256 !== s.paramsSha256 ||
    c.scriptSha256 !== t.ceremony.scriptSha256
  ) {
    throw invalid(`step ${s.step}: the challenge does not name this step`);
  }
  const seen = new Set<string>();
  for (const a of s.approvals as Approval[]) {
    const custodian = t.custodians.find((x) => x.fingerprint === a.keyFingerprint);
    if (!custodian || custodian.name !== a.custodian)
      throw invalid(`step ${s.step}: approval by an unlisted key`);
    if (pemFingerprint(custodian.publicKeyPem) !== custodian.fingerprint) {
      throw invalid(`custodian ${custodian.name}: key and fingerprint differ`);
    }
    if (canonicalJson(a.challenge) !== canonicalJson(c))
      throw invalid(`step ${s.step}: approval for another challenge`);
    if (!approvalSignatureValid(a, publicKeyOf(custodian.publicKeyPem))) {
      throw invalid(`step ${s.step}: the approval of ${custodian.name} does not verify`);
    }
    if (t.ceremony.sites.length > 0 && !t.ceremony.sites.includes(a.site)) {
      throw invalid(`step ${s.step}: approval from a site that is not allowed`);
    }
    seen.add(custodian.name);
  }
  if (seen.size < s.quorum) throw invalid(`step ${s.step}: ${seen.size} approvals, ${s.quorum} needed`);
  return seen.size;
}
