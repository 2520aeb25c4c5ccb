import type { KeyMetadataRepository } from '../store/key-metadata.js';
import { PkiRepository } from '../store/pki-records.js';
import { hsmTbsSigner, type TbsSigner } from './hsm-crypto.js';
import type { PkiKeyManager } from './pki-key-manager.js';
import type { PkiPolicy } from './policy.js';

/** What the PKI services work with; the composition root (CLI, server) builds it. */
export interface PkiDeps {
  /** The HSM side: every private-key operation and every serial goes through it. */
  km: PkiKeyManager;
  /** CAs, certificates, revocations and CRL numbers. */
  repo: PkiRepository;
  /** Key metadata, to archive a key that re-keying retires. */
  keys: KeyMetadataRepository;
  policy: PkiPolicy;
  /** Signs TBS blobs with HSM keys. */
  signer: TbsSigner;
  /** The clock (tests may fix it). */
  now: () => Date;
}

/** Builds the PKI dependencies from a key manager and a store (for composition roots). */
export function createPkiDeps(
  km: PkiKeyManager,
  store: { db: ConstructorParameters<typeof PkiRepository>[0]; keys: KeyMetadataRepository },
  policy: PkiPolicy,
): PkiDeps {
  return {
    km,
    repo: new PkiRepository(store.db),
    keys: store.keys,
    policy,
    signer: hsmTbsSigner(km),
    now: () => new Date(),
  };
}
