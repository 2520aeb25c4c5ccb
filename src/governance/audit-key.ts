import type { CheckpointSigner } from '../audit/checkpoint.js';
import { HsmError } from '../errors/index.js';
import type { KeyInfo } from '../kms/key-info.js';
import type { KeyManager } from '../kms/key-manager.js';
import { isKeyWrapTraitsReader } from '../kms/key-transfer.js';

/** Label of the dedicated key that signs audit checkpoints. */
export const AUDIT_KEY_LABEL = 'hsmkit-audit';

/** The audit key in the HSM: signs checkpoints (ECDSA P-384, SHA-384, DER). */
export class AuditKey implements CheckpointSigner {
  private constructor(
    private readonly km: KeyManager,
    readonly info: KeyInfo,
    /** Whether this call created the key. */
    readonly created: boolean,
  ) {}

  /** URI of the audit key. */
  get keyUri(): string {
    return this.info.uri;
  }

  /** Its public key (SubjectPublicKeyInfo PEM): all an offline verifier needs. */
  get publicKeyPem(): string {
    return this.info.publicKeyPem;
  }

  /** Finds the audit key, creating it on first use. Talks to the inner (ungoverned) key manager. */
  static async ensure(km: KeyManager, create = true): Promise<AuditKey> {
    // Several processes may reach first use together; the token refuses the second label, so
    // look again, with a short random pause in case both generations were undone.
    for (let attempt = 0; ; attempt++) {
      try {
        return new AuditKey(km, await check(km, await km.getKey(AUDIT_KEY_LABEL)), false);
      } catch (err) {
        if (!HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND') || !create) throw err;
      }
      try {
        const info = await km.createKey({
          label: AUDIT_KEY_LABEL,
          type: 'ec-p384',
          metadata: { purpose: 'audit', owner: 'hsmkit' },
        });
        return new AuditKey(km, await check(km, info), true);
      } catch (err) {
        if (!HsmError.is(err, 'HSM_ERR_KEY_EXISTS') || attempt >= 4) throw err;
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 200));
      }
    }
  }

  async sign(payload: Uint8Array): Promise<Uint8Array> {
    return this.km.sign({ key: this.keyUri, data: payload, algorithm: { scheme: 'ecdsa', hash: 'sha384' } });
  }
}

/**
 * Refuses an audit key anyone could have swapped or copied: it must be ec-p384, sensitive and
 * non-extractable — or, on a replicating cluster whose keys travel between its HSMs, extractable
 * only under a trusted wrapping key (CKA_WRAP_WITH_TRUSTED on every copy, read from the tokens).
 */
async function check(km: KeyManager, info: KeyInfo): Promise<KeyInfo> {
  const a = info.attributes;
  let sealed = !a.extractable;
  if (!sealed && isKeyWrapTraitsReader(km)) {
    const traits = await km.wrapTraits(info.uri);
    sealed = traits.wrapWithTrusted && traits.sensitive;
  }
  if (info.type !== 'ec-p384' || !sealed || !a.sensitive || !a.private) {
    throw new HsmError(
      'HSM_ERR_AUDIT',
      `the audit key "${AUDIT_KEY_LABEL}" must be an ec-p384, sensitive private key, non-extractable or extractable only under a trusted wrapping key`,
    );
  }
  return info;
}
