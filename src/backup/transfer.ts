/**
 * HSM-to-HSM transfer (`hsmkit backup transfer`): keys move from one member to another wrapped
 * under a transport key both HSMs hold, never in the clear. The transport key is the cluster's
 * AES-256 replication key, or is established for the transfer by the same SO ceremony
 * (`establishReplicationKey`: the target makes an RSA transport pair inside its HSM, the AES key
 * travels RSA-OAEP-wrapped and is unwrapped inside the target, then sealed in the source).
 *
 * On the target every key has the source's CKA_ID and label, is sensitive, and extractable only
 * under trusted wrapping (or, with `seal`, not at all); each copy is proven by a target signature
 * verified against the source's public key, and its attributes are read back from the target.
 */
import { establishReplicationKey, REPLICATION_KEY_LABEL } from '../cluster/replication-ceremony.js';
import { HsmError } from '../errors/index.js';
import type { KeyInfo } from '../kms/key-info.js';
import type { BackupKeyManager, KeyWrapTraits } from '../kms/key-transfer.js';
import type { ReplicationCeremonyMember } from '../kms/replication.js';
import { selectKeys } from './backup.js';
import type { NotBackedUp } from './format.js';
import { copyKey, type KeyCopyOutcome } from './token-backup.js';

/** A copy checked on the target, or why the key was not copied. */
type CheckedCopy =
  | (Extract<KeyCopyOutcome, { copied: true }> & { target: KeyWrapTraits })
  | Extract<KeyCopyOutcome, { copied: false }>;

/** One transferred key as checked on the target. */
export interface TransferredKey {
  label: string;
  id: string;
  type: string;
  /** False when the target already held the key (same CKA_ID): it was proven, not created. */
  created: boolean;
  /** Read back from the target after the copy (and after sealing). */
  target: KeyWrapTraits;
  /** A target signature verified with the source's public key. */
  verified: true;
}

/** Result of {@link transferKeys}. */
export interface TransferResult {
  from: string;
  to: string;
  transportKey: { label: string; established: boolean };
  transferred: TransferredKey[];
  notTransferred: NotBackedUp[];
  sealed: boolean;
}

/** Wraps each key's step (the CLI puts policy and audit around it); default: runs it. */
export type TransferGovern = <T>(key: KeyInfo, step: () => Promise<T>) => Promise<T>;

/**
 * Transfers the keys `selector` names from `from` to `to`. With `ceremony`, the transport key
 * `transportLabel` (default the replication key's label) is established first from the two
 * members' SO sides; without it, both must hold it already. A key the target holds under the same
 * label with another CKA_ID is HSM_ERR_KEY_EXISTS. A copy whose target attributes are not
 * sensitive and trusted-wrap-only (or sealed) is HSM_ERR_POLICY and is removed again.
 */
export async function transferKeys(opts: {
  from: BackupKeyManager;
  to: BackupKeyManager;
  selector: string;
  transportLabel?: string;
  ceremony?: { source: ReplicationCeremonyMember; target: ReplicationCeremonyMember };
  seal?: boolean;
  govern?: TransferGovern;
}): Promise<TransferResult> {
  const label = opts.transportLabel ?? REPLICATION_KEY_LABEL;
  const govern: TransferGovern = opts.govern ?? ((_k, step) => step());
  const selected = selectKeys(await opts.from.listKeys(), opts.selector);
  let established = false;
  if (opts.ceremony) {
    await establishReplicationKey([opts.ceremony.source, opts.ceremony.target], label);
    established = true;
  }
  const transferred: TransferredKey[] = [];
  const notTransferred: NotBackedUp[] = [];
  for (const k of selected) {
    // A key that may not leave its token is reported without an export attempt (nothing to audit).
    const traits = await opts.from.wrapTraits(k.uri);
    if (!traits.extractable || !traits.wrapWithTrusted) {
      notTransferred.push({
        label: k.label,
        id: k.id,
        type: k.type,
        reason: 'not transferred: not wrappable (needs CKA_EXTRACTABLE with CKA_WRAP_WITH_TRUSTED)',
      });
      continue;
    }
    const r = await govern(k, async (): Promise<CheckedCopy> => {
      const out = await copyKey(opts.from, opts.to, k, label);
      if (!out.copied) return out;
      if (opts.seal) await opts.to.sealExtractable(k.label);
      const got = await opts.to.getKey(k.label);
      const target = await opts.to.wrapTraits(got.uri);
      const protectedOk =
        target.sensitive && (opts.seal ? !target.extractable : !target.extractable || target.wrapWithTrusted);
      if (got.id !== k.id || !protectedOk) {
        if (out.created) await opts.to.deleteKey(got.uri).catch(() => undefined);
        throw new HsmError(
          'HSM_ERR_POLICY',
          `the copy of "${k.label}" on ${opts.to.member.name} does not match the source (CKA_ID, sensitive, trusted wrapping only)`,
          { member: opts.to.member.name, details: { label: k.label, target } },
        );
      }
      return { ...out, target };
    });
    if (!r.copied) {
      notTransferred.push(r.skipped);
      continue;
    }
    transferred.push({
      label: r.label,
      id: r.id,
      type: r.type,
      created: r.created,
      target: r.target,
      verified: true,
    });
  }
  return {
    from: opts.from.member.name,
    to: opts.to.member.name,
    transportKey: { label, established },
    transferred,
    notTransferred,
    sealed: opts.seal === true,
  };
}
