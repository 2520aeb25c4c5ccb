import { keygenMechanism, keyTypeFacts, normalisePurpose } from '../key-type-facts.js';
import type { PolicyDocument } from '../policy-document.js';
import { type KeyFacts, type Refusal, refuse } from '../policy-request.js';
import { PURPOSES, type Purpose } from '../vocabulary.js';

const EC_STRENGTH: Record<string, number> = { 'P-256': 256, 'P-384': 384, 'P-521': 521 };
const DAY_MS = 86_400_000;

/** Size and attribute rules: for a key being created, and for a key being used. */
export function checkKeyStrength(doc: PolicyDocument, key: KeyFacts): Refusal | undefined {
  const min = doc.security_policy.minimum_key_size;
  const t = keyTypeFacts(key.type);
  if (t.family === 'unknown')
    return refuse('security_policy', `key type ${key.type} is not known to the policy`);
  if (t.family === 'rsa' && min.rsa !== undefined && t.bits < min.rsa) {
    return refuse(
      'security_policy.minimum_key_size.rsa',
      `RSA keys need ${min.rsa} bits; ${key.type} has ${t.bits}`,
    );
  }
  if (t.family === 'ec' && min.ecdsa !== undefined && t.bits < (EC_STRENGTH[min.ecdsa] ?? 0)) {
    return refuse(
      'security_policy.minimum_key_size.ecdsa',
      `EC keys need ${min.ecdsa} or stronger; ${key.type} is weaker`,
    );
  }
  const curves = doc.algorithms.curves;
  if (t.curve !== undefined && curves !== undefined && !(curves as readonly string[]).includes(t.curve)) {
    return refuse('algorithms.curves', `curve ${t.curve} is not allowed`);
  }
  return undefined;
}

/** Attribute rules for a key pair about to be generated. */
export function checkNewKey(doc: PolicyDocument, key: KeyFacts): Refusal | undefined {
  const attrs = doc.security_policy.key_attributes;
  if (key.extractable && !attrs.extractable) {
    return refuse('security_policy.key_attributes.extractable', 'extractable private keys are forbidden');
  }
  if (!key.sensitive && attrs.sensitive) {
    return refuse('security_policy.key_attributes.sensitive', 'non-sensitive private keys are forbidden');
  }
  if (!key.persistent && attrs.persistent) {
    return refuse('security_policy.key_attributes.persistent', 'session (non-token) keys are forbidden');
  }
  if (!key.private)
    return refuse('security_policy.key_attributes.private', 'a key usable without login is refused');
  const t = keyTypeFacts(key.type);
  const pqc = t.family === 'ml-dsa' || t.family === 'ml-kem';
  if (doc.algorithms.pqc === 'forbidden' && pqc)
    return refuse('algorithms.pqc', 'post-quantum keys are forbidden');
  if (doc.algorithms.pqc === 'required' && !pqc) {
    return refuse('algorithms.pqc', `new keys must be post-quantum; ${key.type} is not`);
  }
  const mechanisms = doc.security_policy.allowed_mechanisms;
  const mech = keygenMechanism(t.family);
  if (mechanisms !== undefined && (mech === undefined || !mechanisms.includes(mech))) {
    return refuse('security_policy.allowed_mechanisms', `${mech ?? key.type} is not an allowed mechanism`);
  }
  return checkPurpose(doc, key);
}

/** Purpose rules: the purpose exists when required, and the key fits what it allows. */
export function checkPurpose(doc: PolicyDocument, key: KeyFacts): Refusal | undefined {
  const purpose = normalisePurpose(key.purpose);
  const known = purpose !== undefined && (PURPOSES as readonly string[]).includes(purpose);
  if (doc.keys.require_purpose && !known) {
    return refuse('keys.require_purpose', `the key needs a purpose (${PURPOSES.join(', ')})`);
  }
  if (!known) return undefined;
  const rules = doc.keys.purposes[purpose as Purpose];
  if (rules === undefined) return undefined;
  if (rules.key_types !== undefined && !(rules.key_types as readonly string[]).includes(key.type)) {
    return refuse(`keys.purposes.${purpose}.key_types`, `${key.type} is not allowed for ${purpose} keys`);
  }
  const extra = key.usages.filter((u) => !rules.usages.includes(u));
  if (extra.length > 0) {
    return refuse(
      `keys.purposes.${purpose}.usages`,
      `${purpose} keys may not have usage ${extra.join(', ')}`,
    );
  }
  return undefined;
}

/**
 * An archived key (replaced by a re-key, kept in the HSM so old signatures can still be checked)
 * never signs again, whatever the caller: not only through the PKI layer but through every path.
 */
export function checkKeyStatus(key: KeyFacts): Refusal | undefined {
  if (key.status === 'archived') {
    return refuse('keys.archived', `key "${key.label}" is archived; it can verify but no longer signs`);
  }
  return undefined;
}

/** Lifetime rules for using a key: not past its expiry, not older than its purpose allows. */
export function checkKeyLifetime(doc: PolicyDocument, key: KeyFacts, now: Date): Refusal | undefined {
  if (key.expiresAt !== undefined && Date.parse(key.expiresAt) <= now.getTime()) {
    return refuse('keys.expiry', `the key expired at ${key.expiresAt}`);
  }
  const purpose = normalisePurpose(key.purpose);
  const rules = purpose === undefined ? undefined : doc.keys.purposes[purpose as Purpose];
  if (rules?.max_age_days !== undefined && key.createdAt !== undefined) {
    const ageDays = (now.getTime() - Date.parse(key.createdAt)) / DAY_MS;
    if (ageDays > rules.max_age_days) {
      return refuse(`keys.purposes.${purpose}.max_age_days`, `the key is ${Math.floor(ageDays)} days old`);
    }
  }
  return undefined;
}

/** Whether a key is past its purpose's rotation period (compliance reports it; use is not refused). */
export function rotationDue(doc: PolicyDocument, key: KeyFacts, now: Date): boolean {
  const purpose = normalisePurpose(key.purpose);
  const rules = purpose === undefined ? undefined : doc.keys.purposes[purpose as Purpose];
  if (rules?.rotation_days === undefined || key.createdAt === undefined) return false;
  return now.getTime() - Date.parse(key.createdAt) > rules.rotation_days * DAY_MS;
}
