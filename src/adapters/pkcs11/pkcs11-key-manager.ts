import { createPublicKey, constants as cryptoConstants, verify as cryptoVerify } from 'node:crypto';
import { ecdsaRawToDer } from '../../crypto/ecdsa-signature.js';
import { spkiToPem } from '../../crypto/public-key.js';
import { HsmError, toHsmError } from '../../errors/index.js';
import type { KeyAttributes, KeyInfo } from '../../kms/key-info.js';
import type {
  BatchSigner,
  BatchSignResult,
  CapabilityReport,
  CapabilityReporter,
  HealthCheckable,
  KeyDeleter,
  KeyLister,
  KeyManager,
  KeyReplicator,
  RandomSource,
  SignatureVerifier,
  WrappedKey,
} from '../../kms/key-manager.js';
import { applyKeyPolicy, type KeyGenerationPolicy } from '../../kms/key-policy.js';
import { KEY_TYPES, type KeyFamily, type KeyType, keySpec, parseKeyType } from '../../kms/key-spec.js';
import type { KeyTransferInspector, KeyTransferSupport, MemberBound } from '../../kms/key-transfer.js';
import { validateLabel } from '../../kms/labels.js';
import type { MemberTelemetry, MemberTelemetryReport } from '../../kms/member-telemetry.js';
import type {
  CreateKeyRequest,
  KeyProtection,
  KeyRef,
  ListKeysRequest,
  SignRequest,
  VerifyRequest,
} from '../../kms/requests.js';
import { defaultAlgorithm, type SignAlgorithm } from '../../kms/sign-algorithm.js';
import { signEach } from '../../kms/sign-each.js';
import { withoutUndefined } from '../../kms/without-undefined.js';
import { type KeyMetadataRepository, type KeyRecord, recordMetadata } from '../../store/key-metadata.js';
import { keyUri, parsePkcs11Uri } from '../../uri/pkcs11-uri.js';
import { type CapabilityCache, NO_CAPABILITY_CACHE } from './capability-cache.js';
import { CKA, CKO, mechanismName } from './constants.js';
import type { HostStatsHeader } from './host/host-stats.js';
import type {
  CapabilitiesHeader,
  FoundKey,
  GenerateHeader,
  PublicKeyHeader,
  UnwrapPrivateHeader,
  WrappedPrivate,
} from './ipc/protocol.js';
import type { MemberOptions } from './member.js';
import { Pkcs11Member } from './member.js';
import { planSign } from './sign-plan.js';
import { tokenPublicKey } from './token-public-key.js';
import {
  type Pkcs11CapabilityReport,
  TokenCapabilities,
  type VendorDescription,
} from './vendors/token-capabilities.js';

/** What {@link Pkcs11KeyManager.transferSupport} reports (the kms port's type). */
export type TransferSupport = KeyTransferSupport;

/**
 * Transfer facts measured on this machine that the vendor profiles do not carry as data yet (the
 * NSS profile states them as quirks). Keyed by vendor profile id.
 */
const TRANSFER_FACTS: Record<
  string,
  { unwrapRefusals?: Partial<Record<KeyFamily, string>>; ceremonyLogin?: 'so' | 'user' }
> = {
  nss: {
    unwrapRefusals: {
      ec: 'NSS softokn 3.87 cannot unwrap EC private keys (C_UnwrapKey answers CKR_TEMPLATE_INCOMPLETE)',
      eddsa: 'NSS softokn 3.87 has no EdDSA keys',
    },
    // NSS has no SO once its database has a password (C_Login(CKU_SO) is CKR_USER_TYPE_INVALID);
    // its user may create CKA_TRUSTED keys, so the user takes the SO's part of the ceremony.
    ceremonyLogin: 'user',
  },
};

/** Label of each member's own health-check key (EC P-256, never replicated). */
export const HEALTH_KEY_LABEL = 'hsmkit-health';
const HEALTH_PROBE = Buffer.from('hsmkit health probe');

/** A key resolved on this member, cached so signing needs no lookup. */
interface ResolvedKey {
  id: string;
  label: string;
  family: KeyFamily;
  type: string;
  spki: Uint8Array;
}

/** Options of a PKCS#11 key manager. */
export interface Pkcs11KeyManagerOptions {
  /** Where key metadata and cached public keys live. Without it, metadata is refused. */
  store?: KeyMetadataRepository;
  /** Key-generation policy (minimum sizes, required attributes). */
  policy?: KeyGenerationPolicy;
  /**
   * Accept non-exportable keys on a token seen not to enforce CKA_EXTRACTABLE=false (NSS 3.87).
   * Default false: such a key generation is refused with HSM_ERR_POLICY.
   */
  allowUnenforcedNonExtractable?: boolean;
  /**
   * Where capability-probe results are kept between processes (keyed by the host's fingerprint of
   * module, token, firmware and mechanisms). Default none: every member host probes at connect.
   */
  capabilityCache?: CapabilityCache;
}

interface TokenDescription extends VendorDescription {
  module: CapabilityReport['module'];
  token: CapabilityReport['token'] & { flags: number };
  mechanisms: Array<{ type: number; minKeySize: number; maxKeySize: number; flags: number }>;
}

/**
 * A KeyManager over one PKCS#11 member (a module plus a token, served by member hosts).
 * Keys are addressed by label or RFC 7512 URI; lookups must match exactly one key.
 * Every private-key operation happens in the HSM; there is no software fallback.
 */
export class Pkcs11KeyManager
  implements
    KeyManager,
    KeyLister,
    KeyDeleter,
    SignatureVerifier,
    RandomSource,
    BatchSigner,
    CapabilityReporter,
    KeyReplicator,
    HealthCheckable,
    KeyTransferInspector,
    MemberBound,
    MemberTelemetry
{
  private readonly resolved = new Map<string, ResolvedKey>();
  private readonly resolving = new Map<string, Promise<ResolvedKey>>();
  private mechanisms = new Set<number>();
  private description!: TokenDescription;
  /** Usable mechanisms, refusals and checked properties, decided at connect time (vendor profile + probe). */
  private caps!: TokenCapabilities;
  private keygenLock: Promise<unknown> = Promise.resolve();
  private healthKeyReady: Promise<void> | undefined;
  /** Each host's last `stats` answer (a busy host keeps its previous one). */
  private readonly hostStats = new Map<number, HostStatsHeader>();
  /** The fresh probe last written to the capability cache (`fingerprint@probedAt`), so it is written once. */
  private storedProbe: string | undefined;

  private constructor(
    readonly member: Pkcs11Member,
    private readonly opts: Pkcs11KeyManagerOptions,
  ) {}

  /** Starts the member's hosts, logs in, and reads the token's mechanisms. */
  static async open(member: MemberOptions, opts: Pkcs11KeyManagerOptions = {}): Promise<Pkcs11KeyManager> {
    const m = new Pkcs11Member(member);
    await m.start({ deferLaterHosts: true });
    const km = new Pkcs11KeyManager(m, opts);
    try {
      await km.refreshCapabilities();
    } catch (err) {
      await m.close();
      throw err;
    }
    // The other hosts start in the background now, after the probe, so they do not slow it down.
    m.startLaterHosts();
    return km;
  }

  /** The token label of this member. */
  get tokenLabel(): string {
    return this.description.token.label;
  }

  /** Re-reads module, token and mechanism information. */
  async refreshCapabilities(): Promise<void> {
    const cache = this.opts.capabilityCache ?? NO_CAPABILITY_CACHE;
    const fingerprint = this.member.probeFingerprint;
    const cachedProbe = fingerprint === undefined ? undefined : await cache.get(fingerprint);
    const request: CapabilitiesHeader | undefined = cachedProbe ? { cachedProbe } : undefined;
    // The first answer of a host includes the capability probe, which generates throw-away keys:
    // it gets the key-generation budget, not the one of a signature. With a cached probe taken
    // under the host's fingerprint, the host skips the probe.
    const r = await this.member.call('capabilities', request, undefined, {
      idempotent: true,
      timeoutMs: this.member.options.keygenTimeoutMs ?? 120_000,
    });
    this.description = r.header as TokenDescription;
    const { probe, probeOrigin } = this.description;
    const stored = `${probeOrigin?.fingerprint}@${probeOrigin?.probedAt}`;
    if (probe && probeOrigin?.source === 'probed' && this.storedProbe !== stored) {
      await cache.set({
        fingerprint: probeOrigin.fingerprint,
        probedAt: probeOrigin.probedAt,
        result: probe,
      });
      this.storedProbe = stored;
    }
    const policy =
      this.opts.allowUnenforcedNonExtractable === undefined
        ? {}
        : { allowUnenforcedNonExtractable: this.opts.allowUnenforcedNonExtractable };
    this.caps = new TokenCapabilities(this.description, policy);
    this.mechanisms = new Set(this.caps.usable);
  }

  async createKey(req: CreateKeyRequest): Promise<KeyInfo> {
    const label = validateLabel(req.label);
    if (!(KEY_TYPES as readonly string[]).includes(req.type)) parseKeyType(String(req.type));
    const spec = keySpec(req.type);
    const protection = applyKeyPolicy(spec, req.protection, this.opts.policy);
    // Refused here, before the module is called: vendor limits, unusable mechanisms, unenforced protection.
    this.caps.checkGeneration(spec, protection);
    if (req.metadata && !this.opts.store) throw new HsmError('HSM_ERR_CONFIG', 'key metadata needs a store');
    const header: GenerateHeader = {
      label,
      type: req.type,
      protection,
      usage: {
        sign: req.usage?.sign ?? spec.canSign,
        verify: req.usage?.verify ?? spec.canSign,
        decrypt: req.usage?.decrypt ?? false,
        wrap: req.usage?.wrap ?? false,
        unwrap: req.usage?.unwrap ?? false,
        derive: req.usage?.derive ?? false,
      },
    };
    const { extraPrivate, omitWhenFalse } = this.caps.profile.templates;
    if (extraPrivate) header.extraPrivate = Object.fromEntries(Object.entries(extraPrivate));
    if (omitWhenFalse) header.omitWhenFalse = [...omitWhenFalse];
    // One generation at a time per member: the label check and the generation then cannot interleave.
    const run = this.keygenLock.then(() => this.generate(header, req));
    this.keygenLock = run.catch(() => undefined);
    return run;
  }

  private async generate(header: GenerateHeader, req: CreateKeyRequest): Promise<KeyInfo> {
    const r = await this.member.call('generateKeyPair', header, undefined, {
      timeoutMs: this.member.options.keygenTimeoutMs ?? 120_000,
    });
    const out = r.header as { id: string; publicKey: PublicKeyHeader; attributes: KeyAttributes };
    const pub = tokenPublicKey(out.publicKey);
    const key: ResolvedKey = {
      id: out.id,
      label: header.label,
      family: pub.family,
      type: pub.type,
      spki: pub.spki,
    };
    const uri = this.uriOf(key);
    let record: KeyRecord | undefined;
    if (this.opts.store) {
      try {
        record = await this.opts.store.insert({
          uri,
          member: this.member.name,
          token: this.tokenLabel,
          label: key.label,
          idHex: key.id,
          keyType: key.type,
          status: 'active',
          tags: req.metadata?.tags ?? {},
          publicKeySpki: key.spki,
          ...withoutUndefined({
            purpose: req.metadata?.purpose,
            expiresAt: req.metadata?.expiresAt,
            ceremonyId: req.metadata?.ceremonyId,
            owner: req.metadata?.owner,
          }),
        });
      } catch (err) {
        // A key without its metadata would be an orphan nobody can account for: undo the generation.
        await this.member.call('deleteKey', { id: key.id }).catch(() => undefined);
        throw toHsmError(err, 'HSM_ERR_STORE');
      }
    }
    this.resolved.set(key.label, key);
    return this.info(key, out.attributes, record);
  }

  async getKey(ref: KeyRef): Promise<KeyInfo> {
    const found = await this.findOne(ref);
    const key = await this.resolve(ref, found);
    const record = await this.opts.store?.get(this.uriOf(key));
    return this.info(key, found.attributes as unknown as KeyAttributes, record);
  }

  async getPublicKey(ref: KeyRef): Promise<Uint8Array> {
    return (await this.resolve(ref)).spki;
  }

  async sign(req: SignRequest): Promise<Uint8Array> {
    const key = await this.resolve(req.key);
    const alg = req.algorithm ?? defaultAlgorithm(key.family);
    const plan = planSign(key.family, alg, this.mechanisms, inputOf(req), {
      keyType: key.type,
      refusedKeyTypes: this.caps.signRefusals,
    });
    const header = plan.pss
      ? { k: key.id, m: plan.mechanism, pss: plan.pss }
      : { k: key.id, m: plan.mechanism };
    let sig: Uint8Array;
    try {
      sig =
        (await this.member.call('sign', header, plan.input, { idempotent: true })).body ?? new Uint8Array();
    } catch (err) {
      if (!HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) throw err;
      // The cached id may belong to a key that was deleted and re-created under the same label.
      this.forget(key);
      const again = await this.resolve(req.key);
      const h2 = { ...header, k: again.id };
      sig = (await this.member.call('sign', h2, plan.input, { idempotent: true })).body ?? new Uint8Array();
    }
    // A plain copy: the IPC layer's Buffers may be views into Node's shared pool, whose
    // `.buffer` is not the signature (WebCrypto-style callers read `.buffer`).
    return plan.ecdsa && req.format !== 'raw' ? ecdsaRawToDer(sig) : new Uint8Array(sig);
  }

  async signBatch(reqs: SignRequest[]): Promise<BatchSignResult[]> {
    return signEach(reqs, (r) => this.sign(r));
  }

  /**
   * Verifies with the cached public key in software: verification needs no secret, and an
   * independent implementation (OpenSSL inside Node) is a useful check on the token.
   */
  async verify(req: VerifyRequest): Promise<boolean> {
    const key = await this.resolve(req.key);
    if (req.data === undefined || req.data.length === 0) {
      throw new HsmError('HSM_ERR_INVALID_INPUT', 'verification needs the signed message (data)');
    }
    const alg: SignAlgorithm = req.algorithm ?? defaultAlgorithm(key.family);
    const publicKey = createPublicKey({ key: Buffer.from(key.spki), format: 'der', type: 'spki' });
    switch (alg.scheme) {
      case 'rsa-pkcs1':
        return cryptoVerify(
          alg.hash!,
          req.data,
          { key: publicKey, padding: cryptoConstants.RSA_PKCS1_PADDING },
          req.signature,
        );
      case 'rsa-pss':
        return cryptoVerify(
          alg.hash!,
          req.data,
          {
            key: publicKey,
            padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
            saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST,
          },
          req.signature,
        );
      case 'ecdsa': {
        const der = req.format === 'raw' ? ecdsaRawToDer(req.signature) : req.signature;
        return cryptoVerify(alg.hash!, req.data, { key: publicKey, dsaEncoding: 'der' }, der);
      }
      case 'eddsa':
        return cryptoVerify(null, req.data, publicKey, req.signature);
      default:
        throw new HsmError(
          'HSM_ERR_MECHANISM_UNSUPPORTED',
          `software verification of ${alg.scheme} is not available`,
        );
    }
  }

  async generateRandom(length: number): Promise<Uint8Array> {
    if (!Number.isInteger(length) || length < 1 || length > 65536) {
      throw new HsmError('HSM_ERR_INVALID_INPUT', 'random length must be an integer from 1 to 65536');
    }
    const r = await this.member.call('random', { length }, undefined, { idempotent: true });
    return r.body ?? new Uint8Array();
  }

  async listKeys(req: ListKeysRequest = {}): Promise<KeyInfo[]> {
    const found = (await this.member.call('findKeys', {}, undefined, { idempotent: true }))
      .header as FoundKey[];
    const keys = found.filter(
      (f) => f.hasPrivate && (req.labelPrefix === undefined || f.label.startsWith(req.labelPrefix)),
    );
    const infos = await Promise.all(
      keys.map(async (f) => {
        const key = await this.resolveFound(f);
        return this.info(
          key,
          f.attributes as unknown as KeyAttributes,
          await this.opts.store?.get(this.uriOf(key)),
        );
      }),
    );
    return infos.sort((a, b) => a.label.localeCompare(b.label));
  }

  async deleteKey(ref: KeyRef): Promise<void> {
    const found = await this.findOne(ref);
    const key = await this.resolve(ref, found);
    await this.member.call('deleteKey', { id: key.id });
    this.forget(key);
    await this.opts.store?.delete(this.uriOf(key));
  }

  async capabilities(): Promise<Pkcs11CapabilityReport[]> {
    await this.refreshCapabilities();
    const d = this.description;
    const keyTypes = this.caps.keyTypes();
    return [
      this.caps.report({
        member: this.member.name,
        module: d.module,
        token: {
          label: d.token.label,
          manufacturer: d.token.manufacturer,
          model: d.token.model,
          serial: d.token.serial,
          slotId: d.token.slotId,
          maxSessions: d.token.maxSessions,
          maxRwSessions: d.token.maxRwSessions,
          freePublicMemory: d.token.freePublicMemory,
          freePrivateMemory: d.token.freePrivateMemory,
        },
        environment: { ...(this.member.options.env ?? {}) },
        mechanisms: d.mechanisms
          .map((m) => ({ ...m, name: mechanismName(m.type) }))
          .sort((a, b) => a.type - b.type),
        keyTypes,
      }),
    ];
  }

  async close(): Promise<void> {
    await this.member.close();
  }

  /**
   * Wraps a key under the replication key. The mechanism defaults to this token's RFC 5649 id from
   * its vendor profile (SoftHSM 0x210A, NSS 0x210B), else the host's default (0x210A).
   */
  async exportWrapped(ref: KeyRef, wrappingLabel: string, mechanism?: number): Promise<WrappedKey> {
    const key = await this.resolve(ref);
    const mech = mechanism ?? this.caps.profile.rfc5649Mechanism;
    const r = await this.member.call(
      'wrapPrivate',
      mech === undefined ? { id: key.id, wrappingLabel } : { id: key.id, wrappingLabel, mechanism: mech },
      undefined,
      { idempotent: true },
    );
    return r.header as WrappedPrivate;
  }

  /**
   * Whether replication can work here: the connect-time probe's RFC 5649 wrap/unwrap round trip
   * succeeded (p11-kit RPC cannot forward wrap mechanisms; tpm2 and opencryptoki lack them).
   */
  async canReplicate(): Promise<boolean> {
    const [report] = (await this.capabilities()) as Pkcs11CapabilityReport[];
    return report?.wrap.status === 'works';
  }

  /** Recreates a wrapped key; the mechanism defaults as for {@link exportWrapped}, on this token's side. */
  async importWrapped(
    key: WrappedKey,
    wrappingLabel: string,
    mechanism?: number,
  ): Promise<{ created: boolean }> {
    validateLabel(key.label);
    const header: UnwrapPrivateHeader = { ...(key as WrappedPrivate), wrappingLabel };
    const mech = mechanism ?? this.caps.profile.rfc5649Mechanism;
    if (mech !== undefined) header.mechanism = mech;
    const r = (await this.member.call('unwrapPrivate', header)).header as { created: boolean };
    return { created: r.created };
  }

  /**
   * Makes a key's private half non-extractable for good (CKA_EXTRACTABLE can only go from true to
   * false): after a restore, for keys that must never leave this token again.
   */
  async sealExtractable(ref: KeyRef): Promise<void> {
    const key = await this.resolve(ref);
    await this.member.call('sealPrivate', { id: key.id });
  }

  /**
   * How a key may leave this token, read from the token: CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED
   * and CKA_SENSITIVE of its private object (for migration planning; a read, nothing changes).
   */
  async wrapTraits(
    ref: KeyRef,
  ): Promise<{ extractable: boolean; wrapWithTrusted: boolean; sensitive: boolean }> {
    const key = await this.resolve(ref);
    const r = (
      await this.member.call(
        'attributes',
        { id: key.id, cls: CKO.PRIVATE_KEY, attrs: [CKA.EXTRACTABLE, CKA.WRAP_WITH_TRUSTED, CKA.SENSITIVE] },
        undefined,
        { idempotent: true },
      )
    ).header as Record<string, string | { error: string }>;
    // A token that does not know an attribute answers with an error: read as false.
    const flag = (a: number) => typeof r[a] === 'string' && (r[a] as string).startsWith('01');
    return {
      extractable: flag(CKA.EXTRACTABLE),
      wrapWithTrusted: flag(CKA.WRAP_WITH_TRUSTED),
      sensitive: flag(CKA.SENSITIVE),
    };
  }

  /**
   * What a key transfer (wrap here, unwrap elsewhere) needs to know about this token: its vendor,
   * its RFC 5649 mechanism and whether the connect-time wrap/unwrap round trip worked, the key
   * families it cannot unwrap, and how its side of the transport-key ceremony logs in.
   */
  transferSupport(): TransferSupport {
    const profile = this.caps.profile;
    const facts = TRANSFER_FACTS[profile.id] ?? {};
    const wrap = this.description.probe?.wrap ?? { status: 'not-offered' as const, detail: 'not probed' };
    const out: TransferSupport = {
      vendor: profile.id,
      vendorName: profile.name,
      wrap: { status: wrap.status, detail: wrap.detail },
      unwrapRefusals: { ...(facts.unwrapRefusals ?? {}) },
      ceremonyLogin: facts.ceremonyLogin ?? 'so',
    };
    if (profile.rfc5649Mechanism !== undefined) out.wrapMechanism = profile.rfc5649Mechanism;
    return out;
  }

  /**
   * Why {@link createKey} would refuse this key type with this protection on this token (policy,
   * vendor limits, unusable mechanisms, unenforced non-extractability), decided without a token
   * call; undefined when it would be attempted.
   */
  generationRefusal(type: KeyType, protection?: KeyProtection): { code: string; reason: string } | undefined {
    try {
      const spec = keySpec(type);
      this.caps.checkGeneration(spec, applyKeyPolicy(spec, protection, this.opts.policy));
      return undefined;
    } catch (err) {
      const e = toHsmError(err);
      return { code: e.code, reason: e.message };
    }
  }

  /**
   * Pings the host and makes a test signature with this member's own health key (created on first
   * use, never replicated): a session that died or a token that stopped signing shows up here.
   */
  /**
   * Session-pool use summed over the host processes and the objects on the token, for metrics.
   * PKCS#11 token info has no object limit and no vendor profile gives one, so `objectLimit` is
   * never set here (docs/service.md: the capacity gauge is absent).
   */
  async telemetry(): Promise<MemberTelemetryReport> {
    const answers = await this.member.callEachHost('stats');
    const alive = new Set(this.member.hostIndexes);
    for (const i of [...this.hostStats.keys()]) if (!alive.has(i)) this.hostStats.delete(i);
    for (const [i, h] of answers) this.hostStats.set(i, h as HostStatsHeader);
    const all = [...this.hostStats.values()];
    if (all.length === 0)
      throw new HsmError('HSM_ERR_UNAVAILABLE', `member ${this.member.name}: no host answered`, {
        member: this.member.name,
      });
    const sum = (f: (h: HostStatsHeader) => number) => all.reduce((n, h) => n + f(h), 0);
    return {
      sessions: {
        inUse: sum((h) => h.pool.open - h.pool.idle),
        idle: sum((h) => h.pool.idle),
        max: sum((h) => h.pool.max),
      },
      // Every host sees the same token: the freshest answer is the count.
      objects: (answers.size > 0 ? ([...answers.values()].at(-1) as HostStatsHeader) : all.at(-1)!).objects,
    };
  }

  async healthCheck(): Promise<{ latencyMs: number }> {
    this.healthKeyReady ??= this.ensureHealthKey().catch((err) => {
      this.healthKeyReady = undefined;
      throw err;
    });
    await this.healthKeyReady;
    // Only the probe signature is timed: creating the health key once is not latency.
    const started = performance.now();
    await this.sign({ key: HEALTH_KEY_LABEL, data: HEALTH_PROBE });
    return { latencyMs: performance.now() - started };
  }

  private async ensureHealthKey(): Promise<void> {
    try {
      await this.resolve(HEALTH_KEY_LABEL);
    } catch (err) {
      if (!HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) throw err;
      await this.createKey({ label: HEALTH_KEY_LABEL, type: 'ec-p256' });
    }
  }

  /** The canonical URI of a key on this member. */
  uriOf(key: { label: string; id: string }): string {
    return keyUri({
      token: this.tokenLabel,
      object: key.label,
      id: Buffer.from(key.id, 'hex'),
      type: 'private',
    });
  }

  private forget(key: ResolvedKey): void {
    for (const [ref, k] of this.resolved) if (k.id === key.id) this.resolved.delete(ref);
  }

  /** Finds the one key a reference names. */
  private async findOne(ref: KeyRef): Promise<FoundKey> {
    const query = this.queryOf(ref);
    const found = (
      (await this.member.call('findKeys', query, undefined, { idempotent: true })).header as FoundKey[]
    ).filter((f) => f.hasPrivate);
    const shown = typeof ref === 'string' ? ref.slice(0, 200) : '';
    if (found.length === 0) {
      throw new HsmError(
        'HSM_ERR_KEY_NOT_FOUND',
        `no private key matches ${shown} on token "${this.tokenLabel}"`,
        {
          member: this.member.name,
        },
      );
    }
    if (found.length > 1 || found[0]!.privateCount > 1) {
      throw new HsmError('HSM_ERR_KEY_AMBIGUOUS', `several private keys match ${shown}; use a URI with id=`, {
        member: this.member.name,
      });
    }
    return found[0]!;
  }

  private queryOf(ref: KeyRef): { label?: string; id?: string } {
    if (typeof ref !== 'string' || ref.length === 0)
      throw new HsmError('HSM_ERR_INVALID_INPUT', 'a key reference is required');
    if (!/^pkcs11:/i.test(ref)) return { label: validateLabel(ref) };
    const uri = parsePkcs11Uri(ref);
    if (uri.token !== undefined && uri.token !== this.tokenLabel) {
      throw new HsmError(
        'HSM_ERR_KEY_NOT_FOUND',
        `the URI names token "${uri.token}", this member holds "${this.tokenLabel}"`,
      );
    }
    if (uri.type !== undefined && uri.type !== 'private' && uri.type !== 'public') {
      throw new HsmError('HSM_ERR_INVALID_URI', `a key URI has type=private or type=public, not ${uri.type}`);
    }
    if (uri.object === undefined && uri.id === undefined) {
      throw new HsmError('HSM_ERR_INVALID_URI', 'a key URI needs object= or id=');
    }
    const q: { label?: string; id?: string } = {};
    if (uri.object !== undefined) q.label = uri.object;
    if (uri.id !== undefined) q.id = Buffer.from(uri.id).toString('hex');
    return q;
  }

  private async resolve(ref: KeyRef, found?: FoundKey): Promise<ResolvedKey> {
    const cached = this.resolved.get(ref);
    if (cached) return cached;
    // Concurrent first uses of a key (a batch, a burst of requests) share one lookup.
    let pending = this.resolving.get(ref);
    if (!pending) {
      pending = (async () => this.resolveFound(found ?? (await this.findOne(ref))))();
      this.resolving.set(ref, pending);
      pending
        .then(
          (key) => this.resolved.set(ref, key),
          () => undefined,
        )
        .finally(() => this.resolving.delete(ref));
    }
    return pending;
  }

  private async resolveFound(f: FoundKey): Promise<ResolvedKey> {
    const r = await this.member.call('publicKey', { id: f.id }, undefined, { idempotent: true });
    const pub = tokenPublicKey(r.header as PublicKeyHeader);
    return { id: f.id, label: f.label, family: pub.family, type: pub.type, spki: pub.spki };
  }

  private info(key: ResolvedKey, attributes: KeyAttributes, record: KeyRecord | undefined): KeyInfo {
    const info: KeyInfo = {
      uri: this.uriOf(key),
      label: key.label,
      id: key.id,
      type: key.type,
      family: key.family,
      token: this.tokenLabel,
      member: this.member.name,
      attributes,
      publicKeyPem: spkiToPem(key.spki),
    };
    if (record) info.metadata = recordMetadata(record);
    return info;
  }
}

function inputOf(req: SignRequest): { data?: Uint8Array; digest?: Uint8Array } {
  const out: { data?: Uint8Array; digest?: Uint8Array } = {};
  if (req.data !== undefined) out.data = req.data;
  if (req.digest !== undefined) out.digest = req.digest;
  return out;
}
