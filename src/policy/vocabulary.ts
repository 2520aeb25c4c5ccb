/**
 * The fixed words a policy document is written in: roles, operations, key purposes. They are data
 * so the schema, the engine, the docs and the tests share one list.
 */

/** Roles an actor can hold. */
export const ROLES = [
  'admin',
  'security_officer',
  'operator',
  'auditor',
  'custodian',
  'signer',
  'service',
] as const;

/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

/**
 * Every governed operation. `key.*` and `hsm.*` reach the HSM through a KeyManager; the others
 * are governance operations on the store.
 */
export const OPERATIONS = [
  'key.create',
  'key.get',
  'key.public',
  'key.list',
  'key.delete',
  'key.sign',
  'key.verify',
  'key.export',
  'key.import',
  'hsm.random',
  'hsm.capabilities',
  'hsm.health',
  'policy.show',
  'policy.apply',
  'policy.approve',
  'policy.rollback',
  'audit.verify',
  'audit.export',
  'compliance.report',
  'pki.csr',
  'pki.issue',
  'pki.renew',
  'pki.revoke',
  'pki.crl',
  'pki.read',
  'ceremony.read',
  'ceremony.approve',
  'backup.create',
  'backup.verify',
  'backup.list',
  'maintenance.plan',
  'maintenance.end',
] as const;

/** One of {@link OPERATIONS}. */
export type Operation = (typeof OPERATIONS)[number];

/** Key purposes the key policies know. */
export const PURPOSES = ['root_ca', 'issuing_ca', 'ocsp', 'code_signing', 'document_signing'] as const;

/** One of {@link PURPOSES}. */
export type Purpose = (typeof PURPOSES)[number];

/** Usages a purpose may allow (the CKA_* usage flags of a key pair). */
export const USAGES = ['sign', 'verify', 'decrypt', 'wrap', 'unwrap', 'derive'] as const;

/** One of {@link USAGES}. */
export type Usage = (typeof USAGES)[number];

/** Hashes the algorithm policy can allow. */
export const HASHES = ['sha256', 'sha384', 'sha512'] as const;

/** Curves the algorithm policy can allow. */
export const CURVES = ['P-256', 'P-384', 'P-521', 'Ed25519', 'Ed448'] as const;

/** Operations that change nothing; the audit policy may leave their successes out. */
export const READ_ONLY_OPERATIONS: ReadonlySet<Operation> = new Set<Operation>([
  'key.get',
  'key.public',
  'key.list',
  'key.verify',
  'hsm.capabilities',
  'hsm.health',
  'policy.show',
  'pki.read',
  'ceremony.read',
  'backup.list',
  'backup.verify',
]);

/** Fields every audit record has; the audit policy may only add to what it requires. */
export const AUDIT_FIELDS = [
  'actor',
  'role',
  'authMethod',
  'operation',
  'keyUri',
  'paramsDigest',
  'result',
  'errorCode',
  'member',
  'latencyMs',
  'correlationId',
  'timestamp',
] as const;
