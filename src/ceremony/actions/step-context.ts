import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { HsmError } from '../../errors/index.js';
import type { KeyDeleter, KeyLister } from '../../kms/key-manager.js';
import type { PkiDeps } from '../../pki/pki-deps.js';
import type { PkiKeyManager } from '../../pki/pki-key-manager.js';
import type { CeremonyRepository } from '../../store/ceremony-records.js';
import type { CeremonyScript } from '../script-loader.js';
import type { ShareDecrypter } from '../share-envelope.js';

/** A key a ceremony generated, as the transcript shows it (attributes read from the token). */
export interface GeneratedKeyFacts {
  label: string;
  uri: string;
  type: string;
  publicKeyPem: string;
  /** CKA_LOCAL, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE and kin, as the HSM reports them. */
  attributes: {
    local: boolean;
    neverExtractable: boolean;
    alwaysSensitive: boolean;
    sensitive: boolean;
    extractable: boolean;
  };
}

/** A file a step wrote. */
export interface OutputFact {
  path: string;
  sha256: string;
}

/** What a step reports when done; it goes into the state, the audit log and the transcript. */
export interface StepResult {
  outputs: OutputFact[];
  keys: GeneratedKeyFacts[];
  details: Record<string, unknown>;
}

/** What an action works with. */
export interface StepContext {
  ceremonyId: string;
  script: CeremonyScript;
  /** The governed key manager: every HSM call is policy-checked and audited. */
  km: PkiKeyManager & Partial<KeyDeleter & KeyLister>;
  pki: PkiDeps;
  ceremonies: CeremonyRepository;
  /** What this step did before an interruption (empty on a first attempt). */
  progress: Record<string, unknown>;
  /** Persists progress before the step goes on: the resume point after a crash. */
  saveProgress(p: Record<string, unknown>): Promise<void>;
  /** Custodian-side share decrypters, for reconstruct-secret. */
  decrypters?: ShareDecrypter[];
}

/** SHA-256 hex. */
export const sha256Hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/**
 * Writes an output once (O_EXCL). A file that exists with exactly these bytes is accepted, so a
 * resumed step that writes the same result again is idempotent; any other existing file is refused.
 */
export function writeOutputOnce(path: string, data: string | Uint8Array): OutputFact {
  const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  const sha256 = sha256Hex(bytes);
  if (existsSync(path)) {
    if (sha256Hex(readFileSync(path)) === sha256) return { path, sha256 };
    throw new HsmError(
      'HSM_ERR_CEREMONY_STATE',
      `${path} exists and is not this ceremony's output; outputs are never overwritten`,
    );
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes, { flag: 'wx', mode: 0o644 });
  return { path, sha256 };
}

/** Reads a key's facts from the HSM (attributes come from the token, never from our request). */
export async function keyFacts(km: PkiKeyManager, ref: string): Promise<GeneratedKeyFacts> {
  const k = await km.getKey(ref);
  return {
    label: k.label,
    uri: k.uri,
    type: String(k.type),
    publicKeyPem: k.publicKeyPem,
    attributes: {
      local: k.attributes.local,
      neverExtractable: k.attributes.neverExtractable,
      alwaysSensitive: k.attributes.alwaysSensitive,
      sensitive: k.attributes.sensitive,
      extractable: k.attributes.extractable,
    },
  };
}
