/**
 * Offline backup to a token (a smart card or USB token; a separate SoftHSM token in the tests):
 * keys travel HSM to HSM, wrapped under the KEK both tokens hold, and are restored the same way.
 * The backup token can then be carried away. Each copy is proven by a signature verified against
 * the source's public key.
 */
import { HsmError } from '../errors/index.js';
import type { KeyInfo } from '../kms/key-info.js';
import type { BackupKeyManager } from '../kms/key-transfer.js';
import { proveKey, selectKeys } from './backup.js';
import type { NotBackedUp } from './format.js';
import { BACKUP_KEK_LABEL } from './kek.js';

/** Result of a token-to-token copy. */
export interface TokenCopyResult {
  from: string;
  to: string;
  copied: Array<{ label: string; id: string; type: string; created: boolean }>;
  notCopied: NotBackedUp[];
}

/** One key copied, or why not. */
export type KeyCopyOutcome =
  | { copied: true; label: string; id: string; type: string; created: boolean }
  | { copied: false; skipped: NotBackedUp };

/**
 * Copies one key from `from` to `to` under the wrapping key `wrappingLabel` (present on both) and
 * proves the copy by a target signature verified with the source's public key. A key that is not
 * extractable under trusted wrapping, or that the source token refuses to wrap, is reported, not
 * copied; a missing wrapping key (HSM_ERR_KEY_NOT_FOUND) stops the caller.
 */
export async function copyKey(
  from: BackupKeyManager,
  to: BackupKeyManager,
  k: KeyInfo,
  wrappingLabel: string,
): Promise<KeyCopyOutcome> {
  const skip = (reason: string): KeyCopyOutcome => ({
    copied: false,
    skipped: { label: k.label, id: k.id, type: k.type, reason },
  });
  const t = await from.wrapTraits(k.uri);
  if (!t.extractable || !t.wrapWithTrusted)
    return skip('not backed up: not wrappable (needs CKA_EXTRACTABLE with CKA_WRAP_WITH_TRUSTED)');
  let wrapped: Awaited<ReturnType<BackupKeyManager['exportWrapped']>>;
  try {
    wrapped = await from.exportWrapped(k.uri, wrappingLabel, from.transferSupport().wrapMechanism);
  } catch (err) {
    if (HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) throw err;
    return skip(`not backed up: not wrappable: ${(err as Error).message.slice(0, 160)}`);
  }
  const r = await to.importWrapped(wrapped, wrappingLabel, to.transferSupport().wrapMechanism);
  const spki = Buffer.from(await from.getPublicKey(k.uri)).toString('base64');
  await proveKey(to, { label: k.label, spki, type: k.type });
  return { copied: true, label: k.label, id: k.id, type: k.type, created: r.created };
}

/**
 * Copies the selected keys from `from` to `to` under the KEK (present on both). Keys already on
 * `to` (same CKA_ID) are left as they are; a label taken by another key is HSM_ERR_KEY_EXISTS.
 */
export async function copyKeysBetweenTokens(opts: {
  from: BackupKeyManager;
  to: BackupKeyManager;
  selector: string;
  kekLabel?: string;
}): Promise<TokenCopyResult> {
  const kek = opts.kekLabel ?? BACKUP_KEK_LABEL;
  const selected = selectKeys(await opts.from.listKeys(), opts.selector);
  const copied: TokenCopyResult['copied'] = [];
  const notCopied: NotBackedUp[] = [];
  for (const k of selected) {
    const r = await copyKey(opts.from, opts.to, k, kek);
    if (r.copied) copied.push({ label: r.label, id: r.id, type: r.type, created: r.created });
    else notCopied.push(r.skipped);
  }
  return { from: opts.from.member.name, to: opts.to.member.name, copied, notCopied };
}
