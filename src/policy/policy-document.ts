import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { checkYamlSize, MAX_YAML_ALIASES } from '../config/yaml-limits.js';
import { HsmError } from '../errors/index.js';
import { KEY_TYPES } from '../kms/key-spec.js';
import { AUDIT_FIELDS, CURVES, HASHES, OPERATIONS, PURPOSES, ROLES, USAGES } from './vocabulary.js';

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of: ${values.join(', ')}` });
const days = () => z.int({ error: 'expected a whole number of days' }).min(1).max(36_500);

/** A key selector: `*`, `label:GLOB`, `purpose:NAME` or `type:GLOB` (`*` matches any run). */
const selector = z.string().regex(/^(\*|label:.+|purpose:.+|type:.+)$/, {
  error: 'expected *, label:GLOB, purpose:NAME or type:GLOB',
});

/** The seed's `security_policy` block, accepted exactly as hsmkit.yaml accepts it. */
const securityPolicySchema = z.strictObject({
  /** Smallest RSA modulus and weakest EC curve; no minimum when absent. */
  minimum_key_size: z
    .strictObject({
      rsa: z.int().min(1024).max(16384).optional(),
      ecdsa: oneOf(['P-256', 'P-384', 'P-521']).optional(),
    })
    .prefault({}),
  /** What generated private keys must be (defaults: not extractable, persistent, sensitive). */
  key_attributes: z
    .strictObject({
      extractable: z.boolean().default(false),
      persistent: z.boolean().default(true),
      sensitive: z.boolean().default(true),
    })
    .prefault({}),
  /** CKM_* names hsmkit may use for key generation and signing; all when absent. */
  allowed_mechanisms: z
    .array(
      z.string().regex(/^CKM_[A-Z0-9_]+$/, { error: 'expected a mechanism name such as CKM_ECDSA_SHA384' }),
    )
    .min(1)
    .optional(),
});

/** What one key purpose allows. */
const purposeSchema = z.strictObject({
  /** Key types (`rsa-4096`, `ec-p384`, …) a key of this purpose may have; any when absent. */
  key_types: z.array(oneOf(KEY_TYPES)).min(1).optional(),
  /** Usages a key of this purpose may have; default `[sign, verify]`. */
  usages: z.array(oneOf(USAGES)).min(1).default(['sign', 'verify']),
  /** Days after creation when the key must no longer be used; unlimited when absent. */
  max_age_days: days().optional(),
  /** Days after creation when the key is due for rotation (reported by compliance). */
  rotation_days: days().optional(),
});

/** One permission: which operations on which keys. */
const grantSchema = z.strictObject({
  /** Operations allowed, or `*` for all. */
  operations: z.array(z.union([z.literal('*'), oneOf(OPERATIONS)])).min(1),
  /** Keys the grant covers; default every key. */
  keys: z.array(selector).min(1).default(['*']),
});

/** A test case of `policy test`: an example operation and the expected decision. */
const testCaseSchema = z.strictObject({
  name: z.string().min(1),
  role: oneOf(ROLES),
  actor: z.string().min(1).default('test'),
  operation: oneOf(OPERATIONS),
  key: z
    .strictObject({
      label: z.string().default('example'),
      type: oneOf(KEY_TYPES).default('ec-p384'),
      purpose: z.string().optional(),
      extractable: z.boolean().default(false),
      sensitive: z.boolean().default(true),
      persistent: z.boolean().default(true),
      usages: z.array(oneOf(USAGES)).default(['sign', 'verify']),
      age_days: z.number().min(0).default(0),
      expired: z.boolean().default(false),
    })
    .optional(),
  algorithm: z.string().optional(),
  export: z
    .strictObject({ wrapping_key: z.string().optional(), approvals: z.int().min(0).default(0) })
    .optional(),
  expect: oneOf(['allow', 'deny']),
  /** The rule expected to refuse (for `deny`); checked when given. */
  rule: z.string().optional(),
});

/** Schema of a policy document (YAML). Unknown keys are errors at every level. */
export const policyDocumentSchema = z.strictObject({
  /** Format version of the document; only 1 exists. */
  version: z.literal(1, { error: 'expected version: 1' }).default(1),
  /** A name for people. */
  name: z.string().min(1).default('unnamed'),
  security_policy: securityPolicySchema.prefault({}),
  keys: z
    .strictObject({
      /** Whether every key must name one of the purposes below in its metadata; default false. */
      require_purpose: z.boolean().default(false),
      purposes: z.partialRecord(oneOf(PURPOSES), purposeSchema).default({}),
    })
    .prefault({}),
  access: z
    .strictObject({
      /** Role of a local OS user not listed in `local_users`; none (everything refused) when absent. */
      default_role: oneOf(ROLES).optional(),
      /** Roles each local OS user may take (HSMKIT_ROLE chooses one; the first is the default). */
      local_users: z.record(z.string().min(1), z.array(oneOf(ROLES)).min(1)).default({}),
      /** Grants per role; a role without an entry may do nothing. */
      roles: z.partialRecord(oneOf(ROLES), z.array(grantSchema)).default({}),
    })
    .prefault({}),
  algorithms: z
    .strictObject({
      /** Hashes signatures may use; all when absent. */
      hashes: z.array(oneOf(HASHES)).min(1).optional(),
      /** Curves EC/EdDSA keys may use; all when absent. */
      curves: z.array(oneOf(CURVES)).min(1).optional(),
      /** Post-quantum keys: `allowed` (default), `forbidden`, or `required` for new keys. */
      pqc: oneOf(['allowed', 'forbidden', 'required']).default('allowed'),
    })
    .prefault({}),
  export: z
    .strictObject({
      /** `never` (default), `wrap_trusted` (only under the trusted cluster keys) or `wrap_backup` (M-of-N). */
      mode: oneOf(['never', 'wrap_trusted', 'wrap_backup']).default('never'),
      /** Labels of the wrapping keys `wrap_trusted` accepts. */
      trusted_wrapping_keys: z.array(z.string().min(1)).default([]),
      /** Approvals `wrap_backup` needs (M of N custodians). */
      quorum: z.strictObject({ m: z.int().min(1), n: z.int().min(1) }).optional(),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /** Operations whose successes are recorded, or `*` (default). Denials and failures always are. */
      events: z
        .array(z.union([z.literal('*'), oneOf(OPERATIONS)]))
        .min(1)
        .default(['*']),
      /** Days records are kept before they may be archived; default 2555 (7 years). */
      retention_days: days().default(2555),
      /** Fields that must be non-empty in every record; a record lacking one is not written (fail closed). */
      required_fields: z.array(oneOf(AUDIT_FIELDS)).default([]),
      /** Records between signed checkpoints; default 1000 (and always at shutdown). */
      checkpoint_every: z.int().min(1).max(1_000_000).default(1000),
    })
    .prefault({}),
  governance: z
    .strictObject({
      /** Whether applying a new policy needs a second role's approval; default false. */
      dual_control: z.boolean().default(false),
    })
    .prefault({}),
  /** Example operations with their expected decision, run by `policy test` and `policy apply`. */
  tests: z.array(testCaseSchema).default([]),
});

/** A validated policy document with defaults applied. */
export type PolicyDocument = z.output<typeof policyDocumentSchema>;

/** One test case of a policy document. */
export type PolicyTestCase = PolicyDocument['tests'][number];

/** Parses and validates a policy document; HSM_ERR_INVALID_INPUT naming each bad YAML path. */
export function parsePolicyDocument(text: string, source = 'policy'): PolicyDocument {
  checkYamlSize(text, source);
  let raw: unknown;
  try {
    // logLevel error: the yaml library's warnings can quote the document; none reach stderr.
    raw = parseYaml(text, { logLevel: 'error', maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${source}: not valid YAML: ${(err as Error).message}`);
  }
  return validatePolicyDocument(raw ?? {}, source);
}

/** Validates an already parsed document. */
export function validatePolicyDocument(raw: unknown, source = 'policy'): PolicyDocument {
  // zod's record parser silently drops `__proto__` keys; a policy must not lose a rule that way.
  const polluted = findProtoKey(raw, []);
  if (polluted) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `${source}: ${polluted}: a key named __proto__ is not allowed`,
      {
        details: { issues: [{ path: polluted, message: 'a key named __proto__ is not allowed' }] },
      },
    );
  }
  const parsed = policyDocumentSchema.safeParse(raw);
  if (parsed.success) return crossCheck(parsed.data, source);
  const issues = parsed.error.issues.map((i) => ({
    path: i.path.map(String).join('.') || '(root)',
    message: i.message,
  }));
  throw new HsmError(
    'HSM_ERR_INVALID_INPUT',
    `${source}: invalid policy:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`,
    { details: { issues } },
  );
}

/** Rules the schema cannot express field by field. */
function crossCheck(doc: PolicyDocument, source: string): PolicyDocument {
  const bad = (path: string, message: string) =>
    new HsmError('HSM_ERR_INVALID_INPUT', `${source}: invalid policy:\n${path}: ${message}`, {
      details: { issues: [{ path, message }] },
    });
  const q = doc.export.quorum;
  if (q && q.m > q.n) throw bad('export.quorum', `m (${q.m}) cannot exceed n (${q.n})`);
  if (doc.export.mode === 'wrap_backup' && !q) throw bad('export.quorum', 'wrap_backup needs a quorum');
  if (doc.export.mode === 'wrap_trusted' && doc.export.trusted_wrapping_keys.length === 0) {
    throw bad('export.trusted_wrapping_keys', 'wrap_trusted needs at least one trusted wrapping key');
  }
  for (const [purpose, p] of Object.entries(doc.keys.purposes)) {
    if (p?.max_age_days !== undefined && p.rotation_days !== undefined && p.rotation_days > p.max_age_days) {
      throw bad(
        `keys.purposes.${purpose}.rotation_days`,
        'rotation is due after the key may no longer be used',
      );
    }
  }
  return doc;
}

/** The path of the first own `__proto__` key in a parsed document, if any (bounded depth). */
function findProtoKey(value: unknown, path: string[], depth = 0): string | undefined {
  if (depth > 64 || typeof value !== 'object' || value === null) return undefined;
  if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return [...path, '__proto__'].join('.');
  for (const [k, v] of Object.entries(value)) {
    const found = findProtoKey(v, [...path, k], depth + 1);
    if (found) return found;
  }
  return undefined;
}
