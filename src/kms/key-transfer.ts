/**
 * The port backup and HSM-to-HSM transfer work through: what a member's key manager must offer
 * so that src/backup never imports an adapter. `Pkcs11KeyManager` implements it; the composition
 * root (the CLI) opens the adapter and passes it in.
 */
import type { KeyDeleter, KeyLister, KeyManager, KeyReplicator, RandomSource } from './key-manager.js';
import type { KeyFamily } from './key-spec.js';
import type { KeyRef } from './requests.js';

/** How a key may leave its token, as read from the token (never from our own request). */
export interface KeyWrapTraits {
  /** CKA_EXTRACTABLE. */
  extractable: boolean;
  /** CKA_WRAP_WITH_TRUSTED: only a CKA_TRUSTED key may wrap it. */
  wrapWithTrusted: boolean;
  /** CKA_SENSITIVE. */
  sensitive: boolean;
}

/** What a token says about moving keys in and out of it (vendor profile + connect-time probe). */
export interface KeyTransferSupport {
  /** Vendor profile id, e.g. `softhsm2`, `nss`. */
  vendor: string;
  vendorName: string;
  /** CKM value of RFC 5649 AES key wrap with padding on this token (SoftHSM 0x210A, NSS 0x210B). */
  wrapMechanism?: number;
  /** The connect-time RFC 5649 wrap/unwrap round trip. */
  wrap: { status: 'works' | 'fails' | 'not-offered'; detail: string };
  /** Key families whose private keys this token cannot unwrap, with the reason. */
  unwrapRefusals: Partial<Record<KeyFamily, string>>;
  /** How this token's side of the transport-key ceremony logs in (only an SO may create trusted keys). */
  ceremonyLogin: 'so' | 'user';
}

/** Reads and tightens the transfer-relevant attributes of keys (capability interface). */
export interface KeyTransferInspector {
  /** CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED and CKA_SENSITIVE of the key's private object. */
  wrapTraits(ref: KeyRef): Promise<KeyWrapTraits>;
  /** The token's wrap mechanism and what it cannot unwrap. */
  transferSupport(): KeyTransferSupport;
  /** Sets CKA_EXTRACTABLE to false for good (it can only go from true to false). */
  sealExtractable(ref: KeyRef): Promise<void>;
}

/** Which member and token a key manager drives (for reports and audit records). */
export interface MemberBound {
  readonly member: { readonly name: string };
  readonly tokenLabel: string;
}

/**
 * Everything backup, restore, drills and HSM-to-HSM transfer need from one member: the core
 * KeyManager plus listing, deleting, replication-style wrap/unwrap, the HSM's RNG and the
 * transfer inspector.
 */
export type BackupKeyManager = KeyManager &
  KeyLister &
  KeyDeleter &
  KeyReplicator &
  RandomSource &
  KeyTransferInspector &
  MemberBound;

/** True when `km` offers the transfer inspector. */
export const isKeyTransferInspector = (km: unknown): km is KeyTransferInspector =>
  typeof km === 'object' &&
  km !== null &&
  typeof (km as Record<string, unknown>).wrapTraits === 'function' &&
  typeof (km as Record<string, unknown>).sealExtractable === 'function';

/** Reads how keys may leave their token (the one method of the inspector some key managers offer alone). */
export interface KeyWrapTraitsReader {
  wrapTraits(ref: KeyRef): Promise<KeyWrapTraits>;
}

export const isKeyWrapTraitsReader = (km: unknown): km is KeyWrapTraitsReader =>
  typeof (km as Partial<KeyWrapTraitsReader> | null)?.wrapTraits === 'function';
