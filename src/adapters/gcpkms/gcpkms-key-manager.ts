import { ecdsaDerToRaw } from '../../crypto/ecdsa-signature.js';
import { spkiToPem } from '../../crypto/public-key.js';
import { HsmError } from '../../errors/index.js';
import type { KeyAttributes, KeyInfo } from '../../kms/key-info.js';
import type { KeyDeleter, KeyLister, KeyManager } from '../../kms/key-manager.js';
import { applyKeyPolicy } from '../../kms/key-policy.js';
import { KEY_TYPES, keySpec, parseKeyType } from '../../kms/key-spec.js';
import { validateLabel } from '../../kms/labels.js';
import type { KeyRef, ListKeysRequest, SignRequest } from '../../kms/requests.js';
import { algorithmName } from '../../kms/sign-algorithm.js';
import { type GcpAlgorithm, gcpAlgorithmFor, gcpAlgorithmNamed } from './algorithms.js';
import { resolveConnection } from './connection.js';
import { DEFAULT_GENERATION_POLL, type GenerationPoll, pollUntilEnabled } from './generation-poller.js';
import {
  type CryptoKeyName,
  cryptoKeyPath,
  isResourceId,
  type KeyRingName,
  keyRingPath,
  keyUri,
  parseKeyRef,
  parseKeyRingPath,
  parseResourcePath,
  versionPath,
} from './key-name.js';
import { assertKnownAlgorithm, type KmsApi, type KmsVersion, openKmsApi } from './kms-client.js';
import type { GcpCreateKeyRequest, GcpKmsKeyManagerOptions } from './options.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetry } from './retry-policy.js';
import { buildSignRequest, checkSignResponse } from './sign-exchange.js';
import { spkiFromAnswer } from './version-public-key.js';

/** A key version that passed its checks: ENABLED, HSM-protected, a mapped algorithm, a verified public key. */
interface ResolvedVersion {
  name: CryptoKeyName & { version: string };
  path: string;
  alg: GcpAlgorithm;
  spki: Uint8Array;
  /** Key material imported rather than generated inside Cloud HSM. */
  imported: boolean;
}

const EC_FIELD_BYTES: Record<string, number> = { 'ec-p256': 32, 'ec-p384': 48 };

/**
 * A KeyManager over one Cloud KMS key ring whose keys are HSM-protected (Google Cloud HSM).
 *
 * Accepted key references (smallstep documents its URI forms the same way):
 * - `gcpkms:projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V`: that version;
 * - `gcpkms:projects/P/locations/L/keyRings/R/cryptoKeys/K`: the key's newest ENABLED version;
 * - `K` (a label): the crypto key K in the configured key ring, newest ENABLED version.
 * A reference to another key ring is HSM_ERR_KEY_NOT_FOUND.
 *
 * Keys that are not HSM-protected, or whose algorithm hsmkit does not map, are refused; nothing
 * is ever signed or generated in software.
 */
export class GcpKmsKeyManager implements KeyManager, KeyLister, KeyDeleter {
  /** The member name reported in KeyInfo and errors. */
  readonly member: string;
  /** The key ring this manager holds. */
  readonly keyRing: KeyRingName;
  private readonly api: KmsApi;
  private readonly retry: RetryPolicy;
  private readonly poll: GenerationPoll;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly resolveTtlMs: number;
  /** Verified facts about versions; a version's algorithm and public key never change. */
  private readonly versions = new Map<string, ResolvedVersion>();
  /** Crypto key path → its newest ENABLED version, as last resolved. */
  private readonly latest = new Map<string, { version: string; at: number }>();

  constructor(private readonly opts: GcpKmsKeyManagerOptions) {
    this.keyRing = parseKeyRingPath(opts.keyRing);
    this.member = opts.member ?? 'gcpkms';
    this.retry = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    this.poll = { ...DEFAULT_GENERATION_POLL, ...opts.generationPoll };
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = opts.random ?? Math.random;
    this.resolveTtlMs = opts.resolveTtlMs ?? 60_000;
    this.api = opts.api ?? openKmsApi(resolveConnection(opts.connection));
  }

  /** `projects/P/locations/L/keyRings/R`. */
  get keyRingName(): string {
    return keyRingPath(this.keyRing);
  }

  /** Creates the configured key ring; an existing one is fine. Returns its name. */
  async createKeyRing(): Promise<string> {
    const parent = `projects/${this.keyRing.project}/locations/${this.keyRing.location}`;
    try {
      await this.call(`createKeyRing ${this.keyRingName}`, false, () =>
        this.api.createKeyRing(parent, this.keyRing.keyRing),
      );
    } catch (err) {
      // Key rings cannot be deleted in Cloud KMS, so on every run after the first the ring exists:
      // that is the state this call is meant to reach, not a failure.
      if (!HsmError.is(err, 'HSM_ERR_KEY_EXISTS')) throw err;
    }
    return this.keyRingName;
  }

  /** Creates a crypto key with protection level HSM, purpose ASYMMETRIC_SIGN, and waits for version 1. */
  async createKey(req: GcpCreateKeyRequest): Promise<KeyInfo> {
    const label = validateLabel(req.label);
    if (!isResourceId(label)) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        'a Cloud KMS key label is a crypto key id: 1 to 63 of a-z, A-Z, 0-9, _ and -',
      );
    }
    if (!(KEY_TYPES as readonly string[]).includes(req.type)) parseKeyType(String(req.type));
    const spec = keySpec(req.type);
    const alg = gcpAlgorithmFor(req.type, req.algorithm);
    assertKnownAlgorithm(alg.name);
    const protection = applyKeyPolicy(spec, req.protection, this.opts.policy);
    if (protection.extractable || !protection.token) {
      throw new HsmError(
        'HSM_ERR_MECHANISM_UNSUPPORTED',
        'Cloud HSM keys are always persistent and never leave the HSM; extractable or session keys cannot be made',
      );
    }
    const u = req.usage ?? {};
    if (u.decrypt || u.wrap || u.unwrap || u.derive || u.sign === false || u.verify === false) {
      throw new HsmError(
        'HSM_ERR_MECHANISM_UNSUPPORTED',
        'Cloud KMS ASYMMETRIC_SIGN keys sign and verify only',
      );
    }
    if (req.metadata) throw new HsmError('HSM_ERR_CONFIG', 'key metadata needs a store');

    const name: CryptoKeyName = { ...this.keyRing, cryptoKey: label };
    const path = cryptoKeyPath(name);
    const key = await this.call(`createCryptoKey ${path}`, false, () =>
      this.api.createCryptoKey(this.keyRingName, label, { algorithm: alg.name, protectionLevel: 'HSM' }),
    );
    if (key.protectionLevel !== 'HSM' || key.purpose !== 'ASYMMETRIC_SIGN' || key.algorithm !== alg.name) {
      throw new HsmError(
        'HSM_ERR_INTEGRITY',
        `Cloud KMS created ${path} as ${key.purpose}/${key.protectionLevel}/${key.algorithm}, not ASYMMETRIC_SIGN/HSM/${alg.name}`,
      );
    }
    // The first version of a new key is always number 1; it starts PENDING_GENERATION.
    const v = await this.loadVersion(versionPath({ ...name, version: '1' }));
    this.latest.set(path, { version: v.name.version, at: Date.now() });
    return this.info(v);
  }

  /** Rotates a key by adding a version (generated in the HSM); unversioned references then use it. */
  async rotateKey(ref: KeyRef): Promise<KeyInfo> {
    const name = parseKeyRef(ref, this.keyRing);
    const path = cryptoKeyPath(name);
    const created = await this.call(`createCryptoKeyVersion ${path}`, false, () =>
      this.api.createCryptoKeyVersion(path),
    );
    const v = await this.loadVersion(created.name, created);
    this.latest.set(path, { version: v.name.version, at: Date.now() });
    return this.info(v);
  }

  async getKey(ref: KeyRef): Promise<KeyInfo> {
    return this.info(await this.resolve(ref));
  }

  async getPublicKey(ref: KeyRef): Promise<Uint8Array> {
    return (await this.resolve(ref)).spki;
  }

  async sign(req: SignRequest): Promise<Uint8Array> {
    const name = parseKeyRef(req.key, this.keyRing);
    try {
      return await this.signWith(await this.resolveName(name), req);
    } catch (err) {
      // An unversioned reference may point at a version destroyed since it was resolved: look once more.
      if (
        name.version !== undefined ||
        !HsmError.is(err, 'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED', 'HSM_ERR_KEY_NOT_FOUND')
      ) {
        throw err;
      }
      this.latest.delete(cryptoKeyPath(name));
      return this.signWith(await this.resolveName(name), req);
    }
  }

  private async signWith(v: ResolvedVersion, req: SignRequest): Promise<Uint8Array> {
    if (
      req.algorithm &&
      (req.algorithm.scheme !== v.alg.sign.scheme || req.algorithm.hash !== v.alg.sign.hash)
    ) {
      throw new HsmError(
        'HSM_ERR_KEY_FUNCTION_NOT_PERMITTED',
        `${v.path} signs with ${algorithmName(v.alg.sign)} only, not ${algorithmName(req.algorithm)}`,
      );
    }
    const sent = buildSignRequest(v.path, v.alg, req);
    const res = await this.call(`asymmetricSign ${v.path}`, true, () => this.api.asymmetricSign(sent));
    const sig = checkSignResponse(sent, res);
    const field = EC_FIELD_BYTES[v.alg.keyType];
    // Cloud KMS returns ECDSA signatures DER-encoded, as hsmkit's default is.
    return field !== undefined && req.format === 'raw' ? ecdsaDerToRaw(sig, field) : sig;
  }

  /** Lists the HSM-protected signing keys of the key ring that have an ENABLED version. */
  async listKeys(req: ListKeysRequest = {}): Promise<KeyInfo[]> {
    const out: KeyInfo[] = [];
    let pageToken = '';
    do {
      const page = await this.call(`listCryptoKeys ${this.keyRingName}`, true, () =>
        this.api.listCryptoKeys(this.keyRingName, pageToken),
      );
      for (const key of page.items) {
        // Software-protected keys are never reported as usable: there is no software fallback.
        if (key.purpose !== 'ASYMMETRIC_SIGN' || key.protectionLevel !== 'HSM') continue;
        const name = parseResourcePath(key.name);
        if (req.labelPrefix !== undefined && !name.cryptoKey.startsWith(req.labelPrefix)) continue;
        const v = await this.resolveLatest(name, false);
        if (v) out.push(this.info(v));
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out.sort((a, b) => a.label.localeCompare(b.label) || Number(a.id) - Number(b.id));
  }

  /**
   * Schedules destruction of one key version (Cloud KMS cannot delete keys, only versions). The
   * reference must name the version: destroying "the newest" by label is too easy to get wrong.
   */
  async deleteKey(ref: KeyRef): Promise<void> {
    const name = parseKeyRef(ref, this.keyRing);
    if (name.version === undefined) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        'name the version to destroy: gcpkms:…/cryptoKeys/K/cryptoKeyVersions/V',
      );
    }
    const path = versionPath({ ...name, version: name.version });
    const after = await this.call(`destroyCryptoKeyVersion ${path}`, false, () =>
      this.api.destroyCryptoKeyVersion(path),
    );
    this.versions.delete(path);
    this.latest.delete(cryptoKeyPath(name));
    if (after.state !== 'DESTROY_SCHEDULED' && after.state !== 'DESTROYED') {
      throw new HsmError('HSM_ERR_INTERNAL', `${path} is ${after.state} after destroy`);
    }
  }

  async close(): Promise<void> {
    await this.api.close();
  }

  private call<T>(what: string, idempotent: boolean, fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, {
      policy: this.retry,
      what,
      idempotent,
      sleep: this.sleep,
      random: this.random,
      member: this.member,
    });
  }

  private resolve(ref: KeyRef): Promise<ResolvedVersion> {
    return this.resolveName(parseKeyRef(ref, this.keyRing));
  }

  private async resolveName(name: CryptoKeyName): Promise<ResolvedVersion> {
    if (name.version !== undefined) return this.loadVersion(versionPath({ ...name, version: name.version }));
    const v = await this.resolveLatest(name, true);
    if (!v) {
      throw new HsmError('HSM_ERR_KEY_NOT_FOUND', `${cryptoKeyPath(name)} has no ENABLED version`, {
        member: this.member,
      });
    }
    return v;
  }

  /**
   * The newest ENABLED version of a key. With `wait`, a key whose only usable version is still
   * PENDING_GENERATION is polled until it is ready; a listing does not wait.
   */
  private async resolveLatest(name: CryptoKeyName, wait: boolean): Promise<ResolvedVersion | undefined> {
    const path = cryptoKeyPath(name);
    const cached = this.latest.get(path);
    if (cached && Date.now() - cached.at < this.resolveTtlMs) {
      return this.loadVersion(versionPath({ ...name, version: cached.version }));
    }
    const all: KmsVersion[] = [];
    let pageToken = '';
    do {
      const page = await this.call(`listCryptoKeyVersions ${path}`, true, () =>
        this.api.listCryptoKeyVersions(path, pageToken),
      );
      all.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken);
    const newest = (state: string): KmsVersion | undefined =>
      all.filter((v) => v.state === state).sort((a, b) => versionNumber(b) - versionNumber(a))[0];
    const chosen = newest('ENABLED') ?? (wait ? newest('PENDING_GENERATION') : undefined);
    if (!chosen) return undefined;
    const v = await this.loadVersion(chosen.name, chosen);
    this.latest.set(path, { version: v.name.version, at: Date.now() });
    return v;
  }

  /** Reads, waits for and checks a version, then fetches and verifies its public key. */
  private async loadVersion(path: string, known?: KmsVersion): Promise<ResolvedVersion> {
    const hit = this.versions.get(path);
    if (hit) return hit;
    const read = () =>
      this.call(`getCryptoKeyVersion ${path}`, true, () => this.api.getCryptoKeyVersion(path));
    const version = await pollUntilEnabled(read, known ?? (await read()), this.poll, this.sleep);
    if (version.protectionLevel !== 'HSM') {
      throw new HsmError(
        'HSM_ERR_POLICY',
        `${path} is ${version.protectionLevel} protected; hsmkit uses HSM-protected keys only`,
        { member: this.member },
      );
    }
    const alg = gcpAlgorithmNamed(version.algorithm);
    if (!alg) {
      throw new HsmError(
        'HSM_ERR_MECHANISM_UNSUPPORTED',
        `${path} uses ${version.algorithm}, which hsmkit does not map`,
      );
    }
    const answer = await this.call(`getPublicKey ${path}`, true, () =>
      this.api.getPublicKey(path, alg.publicKeyFormat === 'NIST_PQC' ? 'NIST_PQC' : undefined),
    );
    const name = parseResourcePath(path) as CryptoKeyName & { version: string };
    const resolved: ResolvedVersion = {
      name,
      path,
      alg,
      spki: spkiFromAnswer(answer, path, alg),
      imported: version.importJob !== '',
    };
    this.versions.set(path, resolved);
    return resolved;
  }

  private info(v: ResolvedVersion): KeyInfo {
    const generatedInside = !v.imported;
    const attributes: KeyAttributes = {
      token: true,
      private: true,
      sensitive: true,
      extractable: false,
      alwaysSensitive: generatedInside,
      neverExtractable: generatedInside,
      local: generatedInside,
      sign: true,
      decrypt: false,
      unwrap: false,
      derive: false,
    };
    return {
      uri: keyUri(v.name),
      label: v.name.cryptoKey,
      id: v.name.version,
      type: v.alg.keyType,
      family: keySpec(v.alg.keyType).family,
      token: this.keyRingName,
      member: this.member,
      attributes,
      publicKeyPem: spkiToPem(v.spki),
    };
  }
}

function versionNumber(v: KmsVersion): number {
  return Number(/\/cryptoKeyVersions\/(\d+)$/.exec(v.name)?.[1] ?? 0);
}
