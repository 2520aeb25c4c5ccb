import type { KeyInfo } from '../kms/key-info.js';
import type { KeyLister, KeyManager } from '../kms/key-manager.js';
import type { ActivePolicy } from '../policy/policy-engine.js';
import { checkKeyLifetime, checkKeyStrength, checkPurpose, rotationDue } from '../policy/rules/key-rules.js';
import type { KeyMetadataRepository } from '../store/key-metadata.js';
import { AUDIT_KEY_LABEL } from './audit-key.js';
import { factsOfKey } from './key-facts.js';

/** One finding of a compliance scan. */
export interface ComplianceViolation {
  /** `extractable`, `not_sensitive`, `not_private`, `weak_key`, `rotation_due`, `expired`, `purpose`, `no_metadata`, `orphaned_metadata`. */
  kind: string;
  /** The policy rule the finding breaks. */
  rule: string;
  keyUri: string;
  label: string;
  member?: string;
  message: string;
}

/** The result of scanning every key of a key manager. */
export interface ComplianceReport {
  generatedAt: string;
  policyVersion: number;
  policyHash: string;
  keysScanned: number;
  metadataRecords: number;
  compliant: boolean;
  violations: ComplianceViolation[];
}

/** Keys hsmkit makes for itself; their purpose is not one of the policy's key purposes. */
const SYSTEM_LABELS = new Set([AUDIT_KEY_LABEL, 'hsmkit-health', 'hsmkit-replication']);

/**
 * Scans every key the key manager lists. Security attributes come from the token itself
 * (`listKeys` reads CKA_* of each private key), never from metadata, so a key made or altered
 * outside hsmkit is judged as it really is. Metadata without a key on the scanned tokens is
 * reported as orphaned.
 */
export async function scanCompliance(
  km: KeyManager & KeyLister,
  metadata: KeyMetadataRepository | undefined,
  policy: ActivePolicy,
  now = new Date(),
): Promise<ComplianceReport> {
  const keys = await km.listKeys();
  const doc = policy.document;
  const violations: ComplianceViolation[] = [];
  const add = (k: KeyInfo, kind: string, rule: string, message: string) =>
    violations.push({ kind, rule, keyUri: k.uri, label: k.label, member: k.member, message });
  for (const k of keys) {
    const a = k.attributes;
    const facts = factsOfKey(k);
    if (a.extractable)
      add(
        k,
        'extractable',
        'security_policy.key_attributes.extractable',
        'the private key is extractable (CKA_EXTRACTABLE is true on the token)',
      );
    if (!a.sensitive)
      add(
        k,
        'not_sensitive',
        'security_policy.key_attributes.sensitive',
        'the private key is not sensitive (CKA_SENSITIVE is false on the token)',
      );
    if (!a.private)
      add(
        k,
        'not_private',
        'security_policy.key_attributes.private',
        'the private key is usable without login (CKA_PRIVATE is false)',
      );
    const weak = checkKeyStrength(doc, facts);
    if (weak) add(k, 'weak_key', weak.rule, weak.reason);
    if (k.metadata === undefined) {
      add(k, 'no_metadata', 'keys.metadata', 'the key has no metadata in the store (made outside hsmkit?)');
      continue;
    }
    const life = checkKeyLifetime(doc, facts, now);
    if (life) add(k, 'expired', life.rule, life.reason);
    if (rotationDue(doc, facts, now))
      add(
        k,
        'rotation_due',
        `keys.purposes.${facts.purpose}.rotation_days`,
        'the key is past its rotation period',
      );
    if (!SYSTEM_LABELS.has(k.label)) {
      const purpose = checkPurpose(doc, facts);
      if (purpose) add(k, 'purpose', purpose.rule, purpose.reason);
    }
  }
  let records = 0;
  if (metadata) {
    const onToken = new Set(keys.map((k) => k.uri));
    const tokens = new Set(keys.map((k) => k.token));
    const all = await metadata.list();
    records = all.length;
    for (const r of all) {
      // Only tokens this scan reached can prove a key is missing.
      if (!onToken.has(r.uri) && (tokens.size === 0 || tokens.has(r.token))) {
        violations.push({
          kind: 'orphaned_metadata',
          rule: 'keys.metadata',
          keyUri: r.uri,
          label: r.label,
          member: r.member,
          message: 'metadata names a key that is not on the token',
        });
      }
    }
  }
  return {
    generatedAt: now.toISOString(),
    policyVersion: policy.version,
    policyHash: policy.hash,
    keysScanned: keys.length,
    metadataRecords: records,
    compliant: violations.length === 0,
    violations,
  };
}
