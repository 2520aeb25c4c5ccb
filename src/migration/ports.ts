/**
 * What a vendor migration works with. Everything here is an interface: the composition root
 * (`hsmkit migrate`) chooses the adapters and hands them in, so this module imports none.
 */

import type {
  KeyDeleter,
  KeyLister,
  KeyManager,
  KeyReplicator,
  SignatureVerifier,
} from '../kms/key-manager.js';
import type { KeyType } from '../kms/key-spec.js';
import type { KeyTransferSupport, KeyWrapTraits } from '../kms/key-transfer.js';
import type { ReplicationCeremonyMember } from '../kms/replication.js';
import type { KeyProtection, KeyRef } from '../kms/requests.js';
import type { Decision, PolicyRequest } from '../policy/policy-request.js';

/** The key manager of one side: governed (every call decided by that side's policy and audited). */
export type MigrationKeyManager = KeyManager &
  KeyLister &
  KeyDeleter &
  KeyReplicator &
  Partial<SignatureVerifier>;

/** How a key may leave its token, as read from the token (the kms port's type). */
export type WrapTraits = KeyWrapTraits;

/** What a side's backend says about moving keys in and out of it (the kms port's type). */
export type TransferSupport = KeyTransferSupport;

/** Read-only, backend-specific questions the plan asks (the PKCS#11 key manager answers them). */
export interface TransferInspector {
  wrapTraits(ref: KeyRef): Promise<WrapTraits>;
  transferSupport(): TransferSupport;
  /** Why generating this key here would be refused, without generating it; undefined if it would not. */
  generationRefusal(type: KeyType, protection?: KeyProtection): { code: string; reason: string } | undefined;
}

/** One side of a migration. */
export interface MigrationSide {
  /** Member name (for the plan and the audit records). */
  name: string;
  /** Token label. */
  token: string;
  km: MigrationKeyManager;
  inspector: TransferInspector;
  /** Asks this side's policy, for this side's actor, without performing anything (plan time). */
  decide(req: Omit<PolicyRequest, 'actor'>): Decision;
}

/** A certificate the PKI store holds for a key. */
export interface CertificateRef {
  serial: string;
  subject: string;
  /** Issuing CA name in the store. */
  ca: string;
  profile: string;
  notAfter: string;
  status: 'good' | 'revoked';
}

/** A CA whose key is the key being migrated. */
export interface CaRef {
  name: string;
  serial: string;
  subject: string;
  parent?: string;
}

/** The PKI store seen by a migration: which certificates name a key, and re-issue under the same CA. */
export interface CertificateDirectory {
  /** Certificates whose subject public key is `spki`. */
  certificatesFor(spki: Uint8Array): Promise<CertificateRef[]>;
  /** CAs whose key is `spki`. */
  casFor(spki: Uint8Array): Promise<CaRef[]>;
  /** Whether the CA can sign now (its key is reachable and its certificate valid), and why not. */
  caReachable(ca: string): Promise<{ ok: true } | { ok: false; code: string; reason: string }>;
  /** Issues a new certificate like `serial` (CA, profile, subject, names, validity length) for `spki`. */
  reissue(serial: string, spki: Uint8Array): Promise<{ serial: string; ca: string; pem: string }>;
}

/** Where migration steps are recorded (the audit log of each side). */
export interface MigrationAudit {
  record(step: MigrationStep): Promise<void>;
}

/** One recorded migration step. Never secrets or key material: public-key fingerprints at most. */
export interface MigrationStep {
  /** `migration.plan`, `migration.transport_key`, `migration.transfer`, `migration.rekey`, `migration.verify`, `migration.reissue`. */
  operation: string;
  params: Record<string, unknown>;
  result: 'ok' | 'error';
  errorCode?: string;
  keyUri?: string;
  member?: string;
  latencyMs: number;
}

/** Opens both sides of the transport-key ceremony (SO sessions, or the user where a token has no SO role). */
export interface CeremonyOpener {
  open(): Promise<{
    source: ReplicationCeremonyMember;
    target: ReplicationCeremonyMember;
    close(): Promise<void>;
  }>;
}
