/**
 * The migration plan: for every key on the source, what happens to it on the target and why.
 *
 * - `transfer`: the key moves HSM to HSM, wrapped under a transport key that exists only inside
 *   the two HSMs. Only for a key that is extractable solely under a trusted wrapping key
 *   (CKA_EXTRACTABLE + CKA_WRAP_WITH_TRUSTED), when both tokens offer a working RFC 5649 wrap, the
 *   target can unwrap that key family, and both policies permit it (export under the transport key
 *   on the source, import on the target).
 * - `rekey`: a new key of the same type and label is generated on the target; certificates the PKI
 *   store holds for the old key are re-issued for the new one (or, for a CA's key, need a
 *   cross-certificate).
 * - `present`: the target already holds the key (same public key, or re-keyed by an earlier run).
 * - `skip`: hsmkit's own per-member keys (health, audit), and keys that cannot sign (a migration is
 *   verified by signatures).
 * - `blocked` / `conflict`: nothing can be done without a decision (the target refuses the key, or
 *   another key has its label there).
 *
 * Planning changes nothing on either token.
 */
import { createHash } from 'node:crypto';
import { spkiToPem } from '../crypto/public-key.js';
import { toHsmError } from '../errors/index.js';
import { factsOfKey, factsOfRequest } from '../governance/key-facts.js';
import type { KeyInfo } from '../kms/key-info.js';
import { KEY_TYPES, type KeyType, keySpec } from '../kms/key-spec.js';
import type { CreateKeyRequest, KeyProtection } from '../kms/requests.js';
import type {
  CaRef,
  CertificateDirectory,
  CertificateRef,
  MigrationSide,
  TransferSupport,
  WrapTraits,
} from './ports.js';

/** Default label of the transport key: the replication key label the bootstrap policy trusts. */
export const TRANSPORT_KEY_LABEL = 'hsmkit-replication';

/** Key label prefix of hsmkit's own per-member keys (health check, audit checkpoints, probes). */
const OWN_KEY_PREFIX = 'hsmkit-';

/** What happens to one key. */
export type KeyAction = 'transfer' | 'rekey' | 'present' | 'skip' | 'blocked' | 'conflict';

/** What happens to one certificate of a re-keyed key. */
export interface CertificatePlan extends Partial<CertificateRef> {
  /** `reissue` (an end-entity certificate), `cross-certify` (the key is a CA's), `keep` (key transferred). */
  action: 'reissue' | 'cross-certify' | 'keep';
  /** Whether hsmkit does it during `migrate run`. */
  automatic: boolean;
  reason: string;
  /** For cross-certify: the CA. */
  caName?: string;
}

/** One key of the plan. */
export interface KeyPlan {
  label: string;
  /** CKA_ID on the source (lowercase hex); a transfer keeps it. */
  id: string;
  type: string;
  family: string;
  sourceUri: string;
  action: KeyAction;
  /** Why this action, in one sentence. */
  reason: string;
  /** Why not a transfer, when it is not (every reason found, not only the first). */
  notTransferable?: string[];
  /** For blocked: the hsmkit code the target would answer. */
  code?: string;
  /** Wrap attributes on the source. */
  traits: WrapTraits;
  /** The source key's public key: SHA-256 of the SubjectPublicKeyInfo (hex) and PEM. */
  oldPublicKey: { sha256: string; pem: string };
  /** For rekey: the protection the new key gets (mirrors the source's). */
  protection?: KeyProtection;
  /** For present: the target's key. */
  targetUri?: string;
  certificates: CertificatePlan[];
}

/** The plan. */
export interface MigrationPlan {
  from: { member: string; token: string; vendor: string; wrapMechanism?: string; wrap: string };
  to: { member: string; token: string; vendor: string; wrapMechanism?: string; wrap: string };
  transportKeyLabel: string;
  keys: KeyPlan[];
  summary: Record<KeyAction, number>;
}

/** Options of {@link planMigration}. */
export interface PlanOptions {
  /** Label of the transport key (default {@link TRANSPORT_KEY_LABEL}). */
  transportKeyLabel?: string;
  /** The PKI store of the source, for certificates to re-issue; none: no certificates are listed. */
  certificates?: CertificateDirectory;
}

/** Builds the plan for moving every key on `source` to `target`. Reads only. */
export async function planMigration(
  source: MigrationSide,
  target: MigrationSide,
  opts: PlanOptions = {},
): Promise<MigrationPlan> {
  const label = opts.transportKeyLabel ?? TRANSPORT_KEY_LABEL;
  const from = source.inspector.transferSupport();
  const to = target.inspector.transferSupport();
  const keys = await source.km.listKeys();
  const onTarget = new Map((await target.km.listKeys()).map((k) => [k.label, k]));
  const plans: KeyPlan[] = [];
  for (const key of keys) {
    plans.push(await planKey(key, { source, target, from, to, label, onTarget, certs: opts.certificates }));
  }
  const summary = { transfer: 0, rekey: 0, present: 0, skip: 0, blocked: 0, conflict: 0 };
  for (const p of plans) summary[p.action]++;
  return {
    from: sideSummary(source, from),
    to: sideSummary(target, to),
    transportKeyLabel: label,
    keys: plans,
    summary,
  };
}

interface KeyContext {
  source: MigrationSide;
  target: MigrationSide;
  from: TransferSupport;
  to: TransferSupport;
  label: string;
  onTarget: Map<string, KeyInfo>;
  certs: CertificateDirectory | undefined;
}

async function planKey(key: KeyInfo, c: KeyContext): Promise<KeyPlan> {
  const spki = pemToDer(key.publicKeyPem);
  const traits = await c.source.inspector.wrapTraits(key.uri);
  const base = {
    label: key.label,
    id: key.id,
    type: String(key.type),
    family: key.family,
    sourceUri: key.uri,
    traits,
    oldPublicKey: { sha256: sha256Hex(spki), pem: key.publicKeyPem },
    certificates: [] as CertificatePlan[],
  };
  if (key.label.startsWith(OWN_KEY_PREFIX)) {
    return {
      ...base,
      action: 'skip',
      reason: `"${key.label}" is hsmkit's own key of the source member (health check, audit checkpoints); the target makes its own`,
    };
  }
  if (!(KEY_TYPES as readonly string[]).includes(String(key.type)) || !keySpec(key.type as KeyType).canSign) {
    return {
      ...base,
      action: 'skip',
      reason: `${String(key.type)} keys are not migrated: a migration is verified by a signature, and hsmkit cannot generate or sign with this type`,
    };
  }
  const type = key.type as KeyType;
  const existing = c.onTarget.get(key.label);
  if (existing) {
    const same = existing.publicKeyPem === key.publicKeyPem;
    const rekeyed = existing.metadata?.tags?.migrated_from === key.uri;
    if (same || rekeyed) {
      return {
        ...base,
        action: 'present',
        targetUri: existing.uri,
        reason: same
          ? 'the target already holds this key (same public key): an earlier run transferred it'
          : 'the target holds the key an earlier run generated to replace this one (tag migrated_from)',
      };
    }
    return {
      ...base,
      action: 'conflict',
      targetUri: existing.uri,
      code: 'HSM_ERR_KEY_EXISTS',
      reason: `another key is labelled "${key.label}" on the target (${existing.uri}); rename or delete one of them first`,
    };
  }

  const why = transferObstacles(key, type, traits, c);
  if (why.length === 0) {
    const certificates = c.certs
      ? (await c.certs.certificatesFor(spki)).map(
          (cert): CertificatePlan => ({
            ...cert,
            action: 'keep',
            automatic: false,
            reason: 'the key itself moves, so its certificates stay valid',
          }),
        )
      : [];
    return {
      ...base,
      action: 'transfer',
      reason: `extractable only under a trusted wrapping key; both tokens wrap RFC 5649 (source ${hex(c.from.wrapMechanism)}, target ${hex(c.to.wrapMechanism)}), the target unwraps ${key.family} keys, and both policies permit it`,
      certificates,
    };
  }

  // Re-key: a new key of the same type and label, protected like the source key (replicable only
  // under a trusted key), or non-extractable (never weaker) when the target refuses that.
  const candidates: KeyProtection[] =
    traits.extractable && traits.wrapWithTrusted ? [{ extractable: true, wrapWithTrusted: true }, {}] : [{}];
  const refusals: Array<{ code: string; reason: string }> = [];
  let protection: KeyProtection | undefined;
  for (const p of candidates) {
    const refusal = c.target.inspector.generationRefusal(type, p);
    if (refusal) {
      refusals.push({
        code: refusal.code,
        reason: `${describeProtection(p)}: the target refuses it: ${refusal.reason}`,
      });
      continue;
    }
    const req: CreateKeyRequest = { label: key.label, type, protection: p };
    if (key.metadata?.purpose !== undefined) req.metadata = { purpose: key.metadata.purpose };
    const create = c.target.decide({ operation: 'key.create', key: factsOfRequest(req) });
    if (!create.allowed) {
      refusals.push({
        code: 'HSM_ERR_POLICY_VIOLATION',
        reason: `${describeProtection(p)}: the target's policy refuses it (rule ${create.rule}: ${create.reason})`,
      });
      continue;
    }
    protection = p;
    break;
  }
  if (protection === undefined) {
    return {
      ...base,
      action: 'blocked',
      notTransferable: why,
      code: refusals[refusals.length - 1]!.code,
      reason: `not transferable (${why.join('; ')}), and no new key can be generated on the target: ${refusals.map((r) => r.reason).join('; ')}`,
    };
  }
  return {
    ...base,
    action: 'rekey',
    notTransferable: why,
    protection,
    reason: `re-key on the target: ${why.join('; ')}`,
    certificates: c.certs ? await certificatePlans(c.certs, spki) : [],
  };
}

/** Every reason the key cannot be transferred; empty when it can. */
function transferObstacles(key: KeyInfo, type: KeyType, traits: WrapTraits, c: KeyContext): string[] {
  const why: string[] = [];
  if (!traits.extractable) why.push('the key is not extractable: it can never leave the source HSM');
  else if (!traits.wrapWithTrusted)
    why.push(
      'the key is extractable without CKA_WRAP_WITH_TRUSTED: hsmkit moves only keys that can leave solely under a trusted wrapping key',
    );
  if (c.from.wrapMechanism === undefined || c.from.wrap.status !== 'works')
    why.push(`the source offers no working RFC 5649 key wrap (${c.from.wrap.detail})`);
  if (c.to.wrapMechanism === undefined || c.to.wrap.status !== 'works')
    why.push(`the target offers no working RFC 5649 key wrap (${c.to.wrap.detail})`);
  const unwrap = c.to.unwrapRefusals[key.family];
  if (unwrap) why.push(`the target cannot unwrap ${key.family} private keys: ${unwrap}`);
  const gen = c.target.inspector.generationRefusal(type, { extractable: true, wrapWithTrusted: true });
  if (gen) why.push(`the target cannot hold ${type} keys: ${gen.reason}`);
  if (traits.extractable) {
    const exp = c.source.decide({
      operation: 'key.export',
      key: factsOfKey(key),
      export: { wrappingKey: c.label, approvals: 0 },
    });
    if (!exp.allowed)
      why.push(
        `the source's policy does not permit export under "${c.label}" (rule ${exp.rule}: ${exp.reason})`,
      );
  }
  const imp = c.target.decide({ operation: 'key.import' });
  if (!imp.allowed)
    why.push(`the target's policy does not permit key import (rule ${imp.rule}: ${imp.reason})`);
  return why;
}

async function certificatePlans(dir: CertificateDirectory, spki: Uint8Array): Promise<CertificatePlan[]> {
  const out: CertificatePlan[] = [];
  for (const cert of await dir.certificatesFor(spki)) {
    if (cert.status === 'revoked') continue;
    const reach = await dir.caReachable(cert.ca).catch((err) => ({
      ok: false as const,
      code: toHsmError(err).code,
      reason: toHsmError(err).message,
    }));
    out.push({
      ...cert,
      action: 'reissue',
      automatic: reach.ok,
      reason: reach.ok
        ? `certifies the old key; CA "${cert.ca}" is reachable, so run re-issues it for the new key`
        : `certifies the old key; CA "${cert.ca}" is not reachable (${reach.code}: ${reach.reason}): re-issue by hand`,
    });
  }
  for (const ca of await dir.casFor(spki)) out.push(crossCertify(ca));
  return out;
}

function crossCertify(ca: CaRef): CertificatePlan {
  return {
    action: 'cross-certify',
    automatic: false,
    caName: ca.name,
    serial: ca.serial,
    subject: ca.subject,
    reason: `the key is CA "${ca.name}"'s: what it issued chains to the old key. Certify the new key under the old one (and the reverse) in a CA ceremony; hsmkit does not do that unattended`,
  };
}

function describeProtection(p: KeyProtection): string {
  return p.extractable ? 'a key extractable only under a trusted wrapping key' : 'a non-extractable key';
}

function sideSummary(side: MigrationSide, s: TransferSupport): MigrationPlan['from'] {
  const out: MigrationPlan['from'] = {
    member: side.name,
    token: side.token,
    vendor: s.vendor,
    wrap: `${s.wrap.status}: ${s.wrap.detail}`,
  };
  if (s.wrapMechanism !== undefined) out.wrapMechanism = hex(s.wrapMechanism);
  return out;
}

/** DER of a PEM public key. */
export function pemToDer(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

/** SHA-256 (hex). */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A mechanism value as `0x210A`. */
export function hex(m: number | undefined): string {
  return m === undefined ? 'none' : `0x${m.toString(16).toUpperCase()}`;
}

/** PEM of a DER public key (re-exported for the run's output). */
export const publicKeyPem = spkiToPem;
