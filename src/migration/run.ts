/**
 * Carries out a migration plan, with an audit record for every step, and verifies every key by a
 * signature made on the target:
 * - a transferred key (and one already present) must verify under the OLD public key from the source;
 * - a re-keyed key must verify under the target's new public key, and the result records old → new.
 *
 * A transfer first establishes a transport key shared by the two HSMs with the cluster's
 * replication-key ceremony (establishReplicationKey): generated in the source, carried to the target
 * under an RSA-OAEP key made inside the target, then sealed. Each key is then wrapped on the source
 * and unwrapped on the target with each side's own RFC 5649 mechanism (SoftHSM 0x210A, NSS 0x210B),
 * keeping its label and CKA_ID. The source keeps its keys: retiring the source is a separate decision.
 */
import { createPublicKey, verify as cryptoVerify, randomBytes } from 'node:crypto';
import { establishReplicationKey } from '../cluster/replication-ceremony.js';
import { HsmError, toHsmError } from '../errors/index.js';
import type { KeyFamily } from '../kms/key-spec.js';
import { defaultAlgorithm } from '../kms/sign-algorithm.js';
import {
  type CertificatePlan,
  hex,
  type KeyAction,
  type KeyPlan,
  type MigrationPlan,
  type PlanOptions,
  pemToDer,
  planMigration,
  publicKeyPem,
  sha256Hex,
} from './plan.js';
import type { CeremonyOpener, MigrationAudit, MigrationSide, MigrationStep } from './ports.js';

/** Options of {@link runMigration}. */
export interface RunOptions extends PlanOptions {
  /** Opens the transport-key ceremony; needed when the plan has a transfer. */
  ceremony?: CeremonyOpener;
  /** Where each step is recorded. */
  audit: MigrationAudit;
  /**
   * Carry out the rest when some keys are blocked or in conflict (they are reported, not done).
   * Default false: such a plan is refused before anything changes.
   */
  skipBlocked?: boolean;
}

/** What happened to one key. */
export interface KeyOutcome {
  label: string;
  action: KeyAction;
  status: 'done' | 'skipped' | 'failed';
  reason: string;
  /** The key on the target. */
  targetUri?: string;
  /** Transfer/present: the target's key verified under the source's public key. Rekey: under the new one. */
  verified?: boolean;
  /** Rekey: old → new public key (SHA-256 of the SubjectPublicKeyInfo, and the new PEM). */
  publicKey?: { old: string; new: string; newPem: string };
  certificates?: Array<CertificatePlan & { newSerial?: string; error?: { code: string; message: string } }>;
  error?: { code: string; message: string };
}

/** The run's result. */
export interface MigrationResult {
  plan: MigrationPlan;
  transportKey?: { label: string; established: boolean; members: string[] };
  keys: KeyOutcome[];
  /** Every key that had something to do was done and verified (blocked ones skipped on request aside). */
  complete: boolean;
}

/** Plans, then carries out the plan. Throws before changing anything when the plan cannot be carried out. */
export async function runMigration(
  source: MigrationSide,
  target: MigrationSide,
  opts: RunOptions,
): Promise<MigrationResult> {
  const started = performance.now();
  const plan = await planMigration(source, target, opts);
  await step(opts.audit, {
    operation: 'migration.plan',
    params: { from: plan.from, to: plan.to, summary: plan.summary, keys: plan.keys.map(planDigest) },
    member: source.name,
    started,
  });
  const stuck = plan.keys.filter((k) => k.action === 'blocked' || k.action === 'conflict');
  if (stuck.length > 0 && !opts.skipBlocked) {
    const first = stuck[0]!;
    throw new HsmError(
      first.action === 'conflict' ? 'HSM_ERR_KEY_EXISTS' : codeOf(first.code),
      `the plan cannot be carried out as is: ${stuck.map((k) => `"${k.label}" ${k.action} (${k.reason})`).join('; ')}. Nothing was changed; resolve these, or pass --skip-blocked`,
      { details: { keys: stuck.map((k) => ({ label: k.label, action: k.action, code: k.code })) } },
    );
  }

  const result: MigrationResult = { plan, keys: [], complete: true };
  const transfers = plan.keys.filter((k) => k.action === 'transfer');
  if (transfers.length > 0) {
    if (!opts.ceremony)
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        'the plan transfers keys: the transport-key ceremony is needed',
      );
    result.transportKey = await transportKey(plan, source, target, opts.ceremony, opts.audit);
  }
  const from = source.inspector.transferSupport();
  const to = target.inspector.transferSupport();
  for (const k of plan.keys) {
    let outcome: KeyOutcome;
    switch (k.action) {
      case 'transfer':
        outcome = await transfer(
          k,
          source,
          target,
          plan.transportKeyLabel,
          from.wrapMechanism,
          to.wrapMechanism,
          opts.audit,
        );
        break;
      case 'rekey':
        outcome = await rekey(k, source, target, opts);
        break;
      case 'present':
        outcome = await verifyPresent(k, target, opts.audit);
        break;
      default:
        outcome = { label: k.label, action: k.action, status: 'skipped', reason: k.reason };
    }
    // Blocked and conflicting keys reach this point only with skipBlocked: skipped as asked.
    if (outcome.status === 'failed') result.complete = false;
    result.keys.push(outcome);
  }
  return result;
}

async function transportKey(
  plan: MigrationPlan,
  source: MigrationSide,
  target: MigrationSide,
  opener: CeremonyOpener,
  audit: MigrationAudit,
): Promise<NonNullable<MigrationResult['transportKey']>> {
  const started = performance.now();
  const label = plan.transportKeyLabel;
  const params = { label, source: source.name, target: target.name };
  const ceremony = await opener.open();
  try {
    const r = await establishReplicationKey([ceremony.source, ceremony.target], label);
    await step(audit, {
      operation: 'migration.transport_key',
      params: { ...params, established: true },
      member: source.name,
      started,
    });
    return { label, established: true, members: r.members };
  } catch (err) {
    // An earlier run left the transport key in the source: it is used again if the target has it
    // too (the first unwrap proves it); otherwise the transfers fail with the target's answer.
    if (HsmError.is(err, 'HSM_ERR_KEY_EXISTS')) {
      await step(audit, {
        operation: 'migration.transport_key',
        params: { ...params, established: false, reused: true },
        member: source.name,
        started,
      });
      return { label, established: false, members: [source.name, target.name] };
    }
    await step(audit, {
      operation: 'migration.transport_key',
      params,
      member: source.name,
      started,
      error: err,
    });
    throw err;
  } finally {
    await ceremony.close();
  }
}

async function transfer(
  k: KeyPlan,
  source: MigrationSide,
  target: MigrationSide,
  label: string,
  wrapMechanism: number | undefined,
  unwrapMechanism: number | undefined,
  audit: MigrationAudit,
): Promise<KeyOutcome> {
  const started = performance.now();
  const params = {
    label: k.label,
    id: k.id,
    transportKey: label,
    wrapMechanism: hex(wrapMechanism),
    unwrapMechanism: hex(unwrapMechanism),
    publicKeySha256: k.oldPublicKey.sha256,
  };
  const out: KeyOutcome = { label: k.label, action: 'transfer', status: 'done', reason: k.reason };
  let imported = false;
  try {
    // The source's URI names exactly this key (token, label and CKA_ID).
    const wrapped = await source.km.exportWrapped(k.sourceUri, label, wrapMechanism);
    const { created } = await target.km.importWrapped(wrapped, label, unwrapMechanism);
    imported = created;
    const info = await target.km.getKey(k.label);
    out.targetUri = info.uri;
    if (info.id !== k.id)
      throw new HsmError('HSM_ERR_INTEGRITY', `the target's copy has CKA_ID ${info.id}, not ${k.id}`);
    await step(audit, {
      operation: 'migration.transfer',
      params: { ...params, created },
      keyUri: k.sourceUri,
      member: target.name,
      started,
    });
  } catch (err) {
    await step(audit, {
      operation: 'migration.transfer',
      params,
      keyUri: k.sourceUri,
      member: target.name,
      started,
      error: err,
    });
    return fail(out, err);
  }
  // Verified: the target signs, the OLD public key (from the source) verifies.
  const v = await verifyOnTarget(
    target,
    k.label,
    k.family as KeyFamily,
    pemToDer(k.oldPublicKey.pem),
    audit,
    k.sourceUri,
  );
  out.verified = v.ok;
  if (!v.ok) {
    // A copy that does not sign like the original must not stay.
    if (imported) await target.km.deleteKey(out.targetUri ?? k.label).catch(() => undefined);
    return fail(out, v.error);
  }
  return out;
}

async function rekey(
  k: KeyPlan,
  source: MigrationSide,
  target: MigrationSide,
  opts: RunOptions,
): Promise<KeyOutcome> {
  const started = performance.now();
  const out: KeyOutcome = { label: k.label, action: 'rekey', status: 'done', reason: k.reason };
  const params = {
    label: k.label,
    type: k.type,
    protection: k.protection ?? {},
    oldPublicKeySha256: k.oldPublicKey.sha256,
  };
  let spki: Uint8Array;
  try {
    const old = await source.km.getKey(k.sourceUri);
    const purpose = old.metadata?.purpose;
    const info = await target.km.createKey({
      label: k.label,
      type: k.type as never,
      protection: k.protection ?? {},
      metadata: {
        ...(purpose === undefined ? {} : { purpose }),
        tags: { migrated_from: k.sourceUri, replaces_public_key_sha256: k.oldPublicKey.sha256 },
      },
    });
    out.targetUri = info.uri;
    spki = pemToDer(info.publicKeyPem);
    out.publicKey = { old: k.oldPublicKey.sha256, new: sha256Hex(spki), newPem: publicKeyPem(spki) };
    await step(opts.audit, {
      operation: 'migration.rekey',
      params: { ...params, newPublicKeySha256: out.publicKey.new },
      keyUri: info.uri,
      member: target.name,
      started,
    });
  } catch (err) {
    await step(opts.audit, {
      operation: 'migration.rekey',
      params,
      keyUri: k.sourceUri,
      member: target.name,
      started,
      error: err,
    });
    return fail(out, err);
  }
  // Verified: the target signs, its NEW public key verifies.
  const v = await verifyOnTarget(target, k.label, k.family as KeyFamily, spki, opts.audit, out.targetUri);
  out.verified = v.ok;
  if (!v.ok) return fail(out, v.error);
  out.certificates = [];
  for (const cert of k.certificates) {
    if (cert.action !== 'reissue' || !cert.automatic || !opts.certificates || cert.serial === undefined) {
      out.certificates.push(cert);
      continue;
    }
    const t0 = performance.now();
    try {
      const issued = await opts.certificates.reissue(cert.serial, spki);
      out.certificates.push({ ...cert, newSerial: issued.serial });
      await step(opts.audit, {
        operation: 'migration.reissue',
        params: {
          serial: cert.serial,
          newSerial: issued.serial,
          ca: issued.ca,
          publicKeySha256: out.publicKey!.new,
        },
        keyUri: out.targetUri,
        member: target.name,
        started: t0,
      });
    } catch (err) {
      const e = toHsmError(err);
      out.certificates.push({ ...cert, error: { code: e.code, message: e.message } });
      out.status = 'failed';
      out.error = { code: e.code, message: `certificate ${cert.serial}: ${e.message}` };
      await step(opts.audit, {
        operation: 'migration.reissue',
        params: { serial: cert.serial },
        keyUri: out.targetUri,
        member: target.name,
        started: t0,
        error: err,
      });
    }
  }
  return out;
}

async function verifyPresent(k: KeyPlan, target: MigrationSide, audit: MigrationAudit): Promise<KeyOutcome> {
  const out: KeyOutcome = { label: k.label, action: 'present', status: 'done', reason: k.reason };
  try {
    const info = await target.km.getKey(k.targetUri ?? k.label);
    out.targetUri = info.uri;
    const transferred = info.publicKeyPem === k.oldPublicKey.pem;
    const spki = pemToDer(transferred ? k.oldPublicKey.pem : info.publicKeyPem);
    if (!transferred)
      out.publicKey = { old: k.oldPublicKey.sha256, new: sha256Hex(spki), newPem: info.publicKeyPem };
    const v = await verifyOnTarget(target, k.label, k.family as KeyFamily, spki, audit, info.uri);
    out.verified = v.ok;
    return v.ok ? out : fail(out, v.error);
  } catch (err) {
    return fail(out, err);
  }
}

/**
 * The target signs a fresh random challenge with the key; the signature must verify, in software
 * (Node's OpenSSL), under `spki`. Recorded as `migration.verify`.
 */
async function verifyOnTarget(
  target: MigrationSide,
  label: string,
  family: KeyFamily,
  spki: Uint8Array,
  audit: MigrationAudit,
  keyUri?: string,
): Promise<{ ok: true } | { ok: false; error: unknown }> {
  const started = performance.now();
  const challenge = randomBytes(32);
  const algorithm = defaultAlgorithm(family);
  const params = {
    label,
    publicKeySha256: sha256Hex(spki),
    challengeSha256: sha256Hex(challenge),
    algorithm,
  };
  try {
    const signature = await target.km.sign({ key: label, data: challenge, algorithm });
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    const ok = cryptoVerify(algorithm.hash ?? null, challenge, key, signature);
    if (!ok) {
      throw new HsmError(
        'HSM_ERR_INTEGRITY',
        `the target's signature with "${label}" does not verify under public key ${params.publicKeySha256.slice(0, 16)}…`,
      );
    }
    await step(audit, {
      operation: 'migration.verify',
      params: { ...params, verified: true },
      keyUri,
      member: target.name,
      started,
    });
    return { ok: true };
  } catch (err) {
    await step(audit, {
      operation: 'migration.verify',
      params,
      keyUri,
      member: target.name,
      started,
      error: err,
    });
    return { ok: false, error: err };
  }
}

function fail(out: KeyOutcome, err: unknown): KeyOutcome {
  const e = toHsmError(err);
  out.status = 'failed';
  out.error = { code: e.code, message: e.message };
  return out;
}

async function step(
  audit: MigrationAudit,
  s: Omit<MigrationStep, 'result' | 'latencyMs' | 'errorCode'> & { started: number; error?: unknown },
): Promise<void> {
  const { started, error, ...rest } = s;
  const entry: MigrationStep = {
    ...rest,
    result: error === undefined ? 'ok' : 'error',
    latencyMs: Math.round(performance.now() - started),
  };
  if (error !== undefined) entry.errorCode = toHsmError(error).code;
  await audit.record(entry);
}

/** What the plan record keeps of each key: no PEMs, fingerprints only. */
function planDigest(k: KeyPlan): Record<string, unknown> {
  return { label: k.label, id: k.id, type: k.type, action: k.action, publicKeySha256: k.oldPublicKey.sha256 };
}

function codeOf(code: string | undefined): 'HSM_ERR_POLICY' {
  return (code ?? 'HSM_ERR_POLICY') as 'HSM_ERR_POLICY';
}
