/**
 * Encrypted backup: create, restore, drill. Private keys leave the HSM only wrapped under the
 * backup KEK (RFC 5649 inside the HSM), the manifest is signed in the HSM, and a restore imports
 * nothing unless the whole file verifies.
 */
import { createPublicKey, verify as cryptoVerify, randomBytes } from 'node:crypto';
import { HsmError, toHsmError } from '../errors/index.js';
import type { KeyInfo } from '../kms/key-info.js';
import { type KeyFamily, parseKeyType } from '../kms/key-spec.js';
import type { BackupKeyManager } from '../kms/key-transfer.js';
import {
  assertVerified,
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupEntry,
  type BackupFile,
  type BackupManifest,
  entryDigest,
  manifestBytes,
  type NotBackedUp,
  sha256hex,
  verifyBackup,
} from './format.js';
import { BACKUP_KEK_LABEL } from './kek.js';

/** Label of the key that signs backup manifests (EC P-256, on the source token, never backed up). */
export const BACKUP_SIGNING_LABEL = 'hsmkit-backup-signing';

/**
 * Which keys a selector names: `all` or `*` (every key but hsmkit's own `hsmkit-*` keys), `prefix*`,
 * or a comma-separated list of labels (a listed label that does not exist is HSM_ERR_KEY_NOT_FOUND).
 */
export function selectKeys(keys: KeyInfo[], selector: string): KeyInfo[] {
  const parts = selector
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) throw new HsmError('HSM_ERR_INVALID_INPUT', '--keys names no key');
  const out = new Map<string, KeyInfo>();
  for (const p of parts) {
    if (p === 'all' || p.endsWith('*')) {
      const prefix = p === 'all' ? '' : p.slice(0, -1);
      for (const k of keys) {
        if (k.label.startsWith(prefix) && (prefix.startsWith('hsmkit-') || !k.label.startsWith('hsmkit-')))
          out.set(k.id, k);
      }
    } else {
      const k = keys.filter((x) => x.label === p);
      if (k.length === 0) throw new HsmError('HSM_ERR_KEY_NOT_FOUND', `no key labelled "${p.slice(0, 64)}"`);
      for (const x of k) out.set(x.id, x);
    }
  }
  return [...out.values()].sort((a, b) => a.label.localeCompare(b.label));
}

/** Result of {@link createBackup}. */
export interface CreateBackupResult {
  file: BackupFile;
  backedUp: Array<{ label: string; id: string; type: string }>;
  notBackedUp: NotBackedUp[];
}

/**
 * Wraps every selected key under the KEK (which must be on `source`) and signs the manifest with
 * the source's `hsmkit-backup-signing` key (created on first use). A key that cannot be wrapped is
 * listed in `notBackedUp` with the reason — never skipped silently.
 */
export async function createBackup(opts: {
  source: BackupKeyManager;
  selector: string;
  kekLabel?: string;
}): Promise<CreateBackupResult> {
  const km = opts.source;
  const kekLabel = opts.kekLabel ?? BACKUP_KEK_LABEL;
  const mechanism = km.transferSupport().wrapMechanism;
  const selected = selectKeys(await km.listKeys(), opts.selector);
  const entries: BackupEntry[] = [];
  const notBackedUp: NotBackedUp[] = [];
  for (const k of selected) {
    const traits = await km.wrapTraits(k.uri);
    const skip = (reason: string) => notBackedUp.push({ label: k.label, id: k.id, type: k.type, reason });
    if (!traits.extractable) {
      skip(
        'not backed up: not wrappable (CKA_EXTRACTABLE is false; generate backed-up keys extractable only under CKA_WRAP_WITH_TRUSTED)',
      );
      continue;
    }
    if (!traits.wrapWithTrusted) {
      skip(
        'not backed up: extractable without CKA_WRAP_WITH_TRUSTED (hsmkit backs up only keys bound to trusted wrapping)',
      );
      continue;
    }
    try {
      const wrapped = await km.exportWrapped(k.uri, kekLabel);
      const spki = Buffer.from(await km.getPublicKey(k.uri)).toString('base64');
      entries.push({
        index: entries.length + 1,
        label: k.label,
        id: k.id,
        type: k.type,
        spki,
        attributes: { ...traits, sign: wrapped.sign },
        wrapped,
      });
    } catch (err) {
      const e = toHsmError(err);
      // The KEK missing is the operator's problem, not the key's: stop.
      if (e.code === 'HSM_ERR_KEY_NOT_FOUND' && /backup key|replication key/.test(e.message)) {
        throw new HsmError('HSM_ERR_KEY_NOT_FOUND', `no backup KEK "${kekLabel}" on ${km.member.name}`, {
          member: km.member.name,
        });
      }
      const family = safeFamily(k.type);
      const why =
        family === 'eddsa' && km.transferSupport().vendor === 'softhsm2'
          ? `SoftHSM cannot wrap ${k.type} private keys (${e.code})`
          : `the token refused to wrap it (${e.code}: ${e.message.slice(0, 160)})`;
      skip(`not backed up: not wrappable: ${why}`);
    }
  }
  const signer = await ensureSigningKey(km);
  const manifest: BackupManifest = {
    createdAt: new Date().toISOString(),
    source: { member: km.member.name, token: km.tokenLabel },
    kek: mechanism === undefined ? { label: kekLabel } : { label: kekLabel, mechanism },
    signer: {
      label: BACKUP_SIGNING_LABEL,
      alg: 'ecdsa-p256-sha256',
      spki: signer.toString('base64'),
      fingerprint: sha256hex(signer),
    },
    entries: entries.map((e) => ({
      index: e.index,
      label: e.label,
      id: e.id,
      type: e.type,
      digest: entryDigest(e),
    })),
    notBackedUp,
  };
  const signature = await km.sign({ key: BACKUP_SIGNING_LABEL, data: manifestBytes(manifest) });
  const file: BackupFile = {
    format: BACKUP_FORMAT,
    v: BACKUP_VERSION,
    manifest,
    signature: Buffer.from(signature).toString('base64'),
    entries,
  };
  return {
    file,
    backedUp: entries.map((e) => ({ label: e.label, id: e.id, type: e.type })),
    notBackedUp,
  };
}

async function ensureSigningKey(km: BackupKeyManager): Promise<Buffer> {
  try {
    return Buffer.from(await km.getPublicKey(BACKUP_SIGNING_LABEL));
  } catch (err) {
    if (!HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) throw err;
    await km.createKey({ label: BACKUP_SIGNING_LABEL, type: 'ec-p256' });
    return Buffer.from(await km.getPublicKey(BACKUP_SIGNING_LABEL));
  }
}

function safeFamily(type: string): KeyFamily | undefined {
  try {
    return parseKeyType(type).family;
  } catch {
    return undefined;
  }
}

/** One restored key and its proof. */
export interface RestoredKey {
  label: string;
  id: string;
  type: string;
  /** A signature made by the target HSM verified against the public key recorded in the backup. */
  verified: boolean;
}

/** Result of {@link restoreBackup}. */
export interface RestoreResult {
  target: string;
  restored: RestoredKey[];
  notBackedUp: NotBackedUp[];
  sealed: boolean;
}

/**
 * Restores a backup into `target`, which must hold the KEK. Nothing is imported unless the whole
 * file verifies (HSM_ERR_BACKUP_INVALID naming the entries) and no label or CKA_ID is taken on the
 * target; a failure while importing or proving a key removes every key this restore created.
 * Each key is proven by a target signature verified against the recorded public key.
 * Restored keys are sensitive and extractable only under trusted wrapping; `seal` makes them
 * non-extractable for good.
 */
export async function restoreBackup(opts: {
  file: BackupFile;
  target: BackupKeyManager;
  expectedSigner?: string;
  seal?: boolean;
}): Promise<RestoreResult> {
  const { file, target } = opts;
  assertVerified(
    verifyBackup(file, opts.expectedSigner === undefined ? {} : { expectedSigner: opts.expectedSigner }),
  );
  const present = await target.listKeys();
  const clash = file.entries.filter((e) => present.some((k) => k.label === e.label || k.id === e.id));
  if (clash.length > 0) {
    throw new HsmError(
      'HSM_ERR_KEY_EXISTS',
      `the target already holds ${clash.map((e) => `"${e.label}"`).join(', ')}; nothing was imported`,
      { member: target.member.name },
    );
  }
  const created: string[] = [];
  const restored: RestoredKey[] = [];
  const mechanism = target.transferSupport().wrapMechanism;
  try {
    for (const e of file.entries) {
      const r = await target.importWrapped(e.wrapped, file.manifest.kek.label, mechanism);
      if (r.created) created.push(e.label);
    }
    for (const e of file.entries) {
      await proveKey(target, e);
      if (opts.seal) await target.sealExtractable(e.label);
      restored.push({ label: e.label, id: e.id, type: e.type, verified: true });
    }
  } catch (err) {
    for (const label of created) await target.deleteKey(label).catch(() => undefined);
    throw err;
  }
  return {
    target: target.member.name,
    restored,
    notBackedUp: file.manifest.notBackedUp,
    sealed: opts.seal === true,
  };
}

/** Signs a fresh challenge with the restored key and verifies it against the backup's public key. */
export async function proveKey(
  km: BackupKeyManager,
  e: Pick<BackupEntry, 'label' | 'spki' | 'type'>,
): Promise<void> {
  const data = randomBytes(32);
  const sig = await km.sign({ key: e.label, data });
  const key = createPublicKey({ key: Buffer.from(e.spki, 'base64'), format: 'der', type: 'spki' });
  const family = safeFamily(e.type);
  const ok =
    family === 'eddsa'
      ? cryptoVerify(null, data, key, sig)
      : family === 'ec'
        ? cryptoVerify('sha256', data, { key, dsaEncoding: 'der' }, sig)
        : cryptoVerify('sha256', data, key, sig);
  if (!ok) {
    throw new HsmError(
      'HSM_ERR_BACKUP_INVALID',
      `restored key "${e.label}" does not sign for the public key recorded in the backup`,
      { details: { label: e.label } },
    );
  }
}

/** Result of {@link runDrill}. */
export interface DrillResult {
  ok: boolean;
  rtoMs: number;
  measuredMs: number;
  withinRto: boolean;
  restored: number;
  verified: number;
  notBackedUp: number;
  scratch: string;
  error?: { code: string; message: string };
}

/**
 * A recovery drill: `prepare` makes a scratch token holding the KEK (and returns a key manager on
 * it), the backup is restored into it, every key signs and is verified against the recorded public
 * key, the time is measured against the RTO, and `destroy` removes the scratch token — always.
 */
export async function runDrill(opts: {
  file: BackupFile;
  rtoMs: number;
  /**
   * Opens the drill's target. `cleanup`, when given, runs before the target is closed with the
   * keys this drill restored (a persistent drill member deletes them; a scratch token has none).
   */
  prepare: () => Promise<{
    km: BackupKeyManager;
    name: string;
    cleanup?: (restored: RestoredKey[]) => Promise<void>;
  }>;
  destroy: () => Promise<void>;
  expectedSigner?: string;
}): Promise<DrillResult> {
  const started = performance.now();
  let scratch = '';
  let restored = 0;
  let error: DrillResult['error'];
  try {
    const { km, name, cleanup } = await opts.prepare();
    scratch = name;
    try {
      const r = await restoreBackup({
        file: opts.file,
        target: km,
        ...(opts.expectedSigner === undefined ? {} : { expectedSigner: opts.expectedSigner }),
      });
      restored = r.restored.filter((k) => k.verified).length;
      await cleanup?.(r.restored);
    } finally {
      await km.close();
    }
  } catch (err) {
    const e = toHsmError(err);
    error = { code: e.code, message: e.message };
  } finally {
    await opts.destroy();
  }
  const measuredMs = performance.now() - started;
  const withinRto = measuredMs <= opts.rtoMs;
  const out: DrillResult = {
    ok: error === undefined && withinRto && restored === opts.file.entries.length,
    rtoMs: opts.rtoMs,
    measuredMs: Math.round(measuredMs * 100) / 100,
    withinRto,
    restored: opts.file.entries.length,
    verified: restored,
    notBackedUp: opts.file.manifest.notBackedUp.length,
    scratch,
  };
  if (error) out.error = error;
  return out;
}
