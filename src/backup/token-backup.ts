/**
 * Offline backup to a token (a smart card or USB token; a separate SoftHSM token in the tests):
 * keys travel HSM to HSM, wrapped under the KEK both tokens hold, and are restored the same way.
 * The backup token can then be carried away. Each copy is proven by a signature verified against
 * the source's public key.
 */
import type { Pkcs11KeyManager } from '../adapters/pkcs11/pkcs11-key-manager.js';
import { HsmError } from '../errors/index.js';
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

/**
 * Copies the selected keys from `from` to `to` under the KEK (present on both). Keys already on
 * `to` (same CKA_ID) are left as they are; a label taken by another key is HSM_ERR_KEY_EXISTS.
 */
export async function copyKeysBetweenTokens(opts: {
  from: Pkcs11KeyManager;
  to: Pkcs11KeyManager;
  selector: string;
  kekLabel?: string;
}): Promise<TokenCopyResult> {
  const kek = opts.kekLabel ?? BACKUP_KEK_LABEL;
  const selected = selectKeys(await opts.from.listKeys(), opts.selector);
  const copied: TokenCopyResult['copied'] = [];
  const notCopied: NotBackedUp[] = [];
  const fromMech = opts.from.transferSupport().wrapMechanism;
  const toMech = opts.to.transferSupport().wrapMechanism;
  for (const k of selected) {
    const t = await opts.from.wrapTraits(k.uri);
    if (!t.extractable || !t.wrapWithTrusted) {
      notCopied.push({
        label: k.label,
        id: k.id,
        type: k.type,
        reason: 'not backed up: not wrappable (needs CKA_EXTRACTABLE with CKA_WRAP_WITH_TRUSTED)',
      });
      continue;
    }
    let wrapped: Awaited<ReturnType<Pkcs11KeyManager['exportWrapped']>>;
    try {
      wrapped = await opts.from.exportWrapped(k.uri, kek, fromMech);
    } catch (err) {
      if (HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) throw err;
      notCopied.push({
        label: k.label,
        id: k.id,
        type: k.type,
        reason: `not backed up: not wrappable: ${(err as Error).message.slice(0, 160)}`,
      });
      continue;
    }
    const r = await opts.to.importWrapped(wrapped, kek, toMech);
    const spki = Buffer.from(await opts.from.getPublicKey(k.uri)).toString('base64');
    await proveKey(opts.to, { label: k.label, spki, type: k.type });
    copied.push({ label: k.label, id: k.id, type: k.type, created: r.created });
  }
  return { from: opts.from.member.name, to: opts.to.member.name, copied, notCopied };
}
