import { KEY_TYPES, type KeyFamily, keySpec } from '../kms/key-spec.js';

/** Family, size and curve of a key type name, including sizes hsmkit does not generate. */
export interface KeyTypeFacts {
  family: KeyFamily | 'unknown';
  bits: number;
  curve?: string;
}

/** Reads a key type name such as `rsa-4096`, `ec-p384`, `ed25519` or `rsa-1024`. */
export function keyTypeFacts(type: string): KeyTypeFacts {
  if ((KEY_TYPES as readonly string[]).includes(type)) {
    const spec = keySpec(type as (typeof KEY_TYPES)[number]);
    return spec.curve === undefined
      ? { family: spec.family, bits: spec.bits }
      : { family: spec.family, bits: spec.bits, curve: spec.curve };
  }
  // Keys made outside hsmkit can have sizes it never generates; the policy must still judge them.
  const rsa = /^rsa-(\d+)$/.exec(type);
  if (rsa) return { family: 'rsa', bits: Number(rsa[1]) };
  const ec = /^ec-p(\d+)$/.exec(type);
  if (ec) return { family: 'ec', bits: Number(ec[1]), curve: `P-${ec[1]}` };
  return { family: 'unknown', bits: 0 };
}

/** The CKM_* name of the key-pair generation mechanism for a family. */
export function keygenMechanism(family: KeyTypeFacts['family']): string | undefined {
  return {
    rsa: 'CKM_RSA_PKCS_KEY_PAIR_GEN',
    ec: 'CKM_EC_KEY_PAIR_GEN',
    eddsa: 'CKM_EC_EDWARDS_KEY_PAIR_GEN',
    'ml-dsa': 'CKM_ML_DSA_KEY_PAIR_GEN',
    'ml-kem': 'CKM_ML_KEM_KEY_PAIR_GEN',
    unknown: undefined,
  }[family];
}

/** Normalises a metadata purpose (`root-ca` → `root_ca`). */
export function normalisePurpose(purpose: string | undefined): string | undefined {
  return purpose
    ?.trim()
    .toLowerCase()
    .replace(/[-\s]+/g, '_');
}
