import { createHash } from 'node:crypto';
import { HsmError } from '../errors/index.js';
import type { KeyInfo } from '../kms/key-info.js';
import {
  type BatchSigner,
  type BatchSignResult,
  type CapabilityReport,
  type CapabilityReporter,
  type HealthCheckable,
  isBatchSigner,
  isCapabilityReporter,
  isHealthCheckable,
  isKeyDeleter,
  isKeyLister,
  isKeyReplicator,
  isRandomSource,
  isSignatureVerifier,
  type KeyDeleter,
  type KeyLister,
  type KeyManager,
  type KeyReplicator,
  type RandomSource,
  type SignatureVerifier,
  type WrappedKey,
} from '../kms/key-manager.js';
import type {
  CreateKeyRequest,
  KeyRef,
  ListKeysRequest,
  SignRequest,
  VerifyRequest,
} from '../kms/requests.js';
import { defaultAlgorithm } from '../kms/sign-algorithm.js';
import { signEach } from '../kms/sign-each.js';
import type { KeyFacts } from '../policy/policy-request.js';
import type { Governor } from './governor.js';
import { factsOfKey, factsOfRequest } from './key-facts.js';

/** A key manager with every capability an inner one may have. */
type FullKeyManager = KeyManager &
  KeyLister &
  KeyDeleter &
  SignatureVerifier &
  RandomSource &
  BatchSigner &
  CapabilityReporter &
  KeyReplicator &
  HealthCheckable;

/** The capability methods and the type guard that says whether the inner key manager has each. */
const CAPABILITIES: Array<[keyof FullKeyManager, (km: unknown) => boolean]> = [
  ['listKeys', isKeyLister],
  ['deleteKey', isKeyDeleter],
  ['verify', isSignatureVerifier],
  ['generateRandom', isRandomSource],
  ['signBatch', isBatchSigner],
  ['capabilities', isCapabilityReporter],
  ['exportWrapped', isKeyReplicator],
  ['importWrapped', isKeyReplicator],
  ['healthCheck', isHealthCheckable],
];

/** A key's facts for the policy, and what the audit record names. */
interface LookedUp {
  key: KeyFacts;
  uri: string;
  member: string;
  info: KeyInfo;
}

/**
 * The enforcement point for key operations: a decorator over any KeyManager that asks the
 * policy before anything reaches the HSM and leaves one audit record per operation (see
 * {@link Governor}). It offers exactly the capabilities the inner key manager has: the others are
 * hidden, so the `isKeyLister`-style guards tell the truth. Its closing writes a checkpoint.
 *
 * Keys are looked up (a read) before the decision, because access and key rules depend on the
 * key's label, purpose, type, age and token attributes.
 */
export class GovernedKeyManager implements FullKeyManager {
  constructor(
    private readonly inner: KeyManager,
    readonly governor: Governor,
  ) {
    for (const [method, guard] of CAPABILITIES) {
      // Shadow the prototype method with a non-function so the guards see the capability is absent.
      if (!guard(inner)) Object.defineProperty(this, method, { value: undefined, enumerable: false });
    }
  }

  private get full(): FullKeyManager {
    return this.inner as FullKeyManager;
  }

  /** Reads a key's facts with the inner key manager; the lookup changes nothing. */
  private lookup(ref: KeyRef): () => Promise<LookedUp> {
    return async () => {
      const info = await this.inner.getKey(ref);
      return { key: factsOfKey(info), uri: info.uri, member: info.member, info };
    };
  }

  async createKey(req: CreateKeyRequest): Promise<KeyInfo> {
    const key = factsOfRequest(req);
    return this.governor.run({ operation: 'key.create', params: { ...req }, key }, () =>
      this.inner.createKey(req),
    );
  }

  async getKey(ref: KeyRef): Promise<KeyInfo> {
    let found: KeyInfo | undefined;
    const lookup = this.lookup(ref);
    return this.governor.run(
      {
        operation: 'key.get',
        params: { ref },
        facts: async () => {
          const f = await lookup();
          found = f.info;
          return f;
        },
      },
      async () => found as KeyInfo,
    );
  }

  async getPublicKey(ref: KeyRef): Promise<Uint8Array> {
    return this.governor.run({ operation: 'key.public', params: { ref }, facts: this.lookup(ref) }, () =>
      this.inner.getPublicKey(ref),
    );
  }

  async sign(req: SignRequest): Promise<Uint8Array> {
    return this.#sign(req, this.lookup(req.key));
  }

  #sign(req: SignRequest, lookup: () => Promise<LookedUp>): Promise<Uint8Array> {
    let algorithm = req.algorithm;
    return this.governor.run(
      {
        operation: 'key.sign',
        params: signParams(req),
        facts: async () => {
          const f = await lookup();
          algorithm ??= defaultAlgorithm(f.info.family);
          return f;
        },
        get algorithm() {
          return algorithm;
        },
      },
      () => this.inner.sign(req),
    );
  }

  async signBatch(reqs: SignRequest[]): Promise<BatchSignResult[]> {
    // Each item is its own operation: decided and recorded alone, failing alone. The key is looked
    // up once per distinct reference for the whole batch (one decision moment), not once per item.
    const lookups = new Map<string, () => Promise<LookedUp>>();
    const shared = (ref: KeyRef) => {
      let l = lookups.get(ref);
      if (!l) {
        const once = this.lookup(ref)();
        once.catch(() => undefined); // each item that uses it sees the rejection
        l = () => once;
        lookups.set(ref, l);
      }
      return l;
    };
    return signEach(reqs, (r) => this.#sign(r, shared(r.key)));
  }

  async verify(req: VerifyRequest): Promise<boolean> {
    return this.governor.run(
      {
        operation: 'key.verify',
        params: { ...signParams(req), signatureSha256: sha256(req.signature) },
        facts: this.lookup(req.key),
      },
      () => this.full.verify(req),
    );
  }

  async listKeys(req: ListKeysRequest = {}): Promise<KeyInfo[]> {
    return this.governor.run({ operation: 'key.list', params: { ...req } }, () => this.full.listKeys(req));
  }

  async deleteKey(ref: KeyRef): Promise<void> {
    return this.governor.run({ operation: 'key.delete', params: { ref }, facts: this.lookup(ref) }, () =>
      this.full.deleteKey(ref),
    );
  }

  async generateRandom(length: number): Promise<Uint8Array> {
    return this.governor.run({ operation: 'hsm.random', params: { length } }, () =>
      this.full.generateRandom(length),
    );
  }

  async capabilities(): Promise<CapabilityReport[]> {
    return this.governor.run({ operation: 'hsm.capabilities', params: {} }, () => this.full.capabilities());
  }

  async healthCheck(): Promise<{ latencyMs: number }> {
    return this.governor.run({ operation: 'hsm.health', params: {} }, () => this.full.healthCheck());
  }

  async exportWrapped(ref: KeyRef, wrappingLabel: string): Promise<WrappedKey> {
    return this.governor.run(
      {
        operation: 'key.export',
        params: { ref, wrappingLabel },
        facts: this.lookup(ref),
        export: { wrappingKey: wrappingLabel, approvals: 0 },
      },
      () => this.full.exportWrapped(ref, wrappingLabel),
    );
  }

  async importWrapped(key: WrappedKey, wrappingLabel: string): Promise<{ created: boolean }> {
    // The blob is wrapped key material: only its hash is recorded.
    return this.governor.run(
      {
        operation: 'key.import',
        params: { id: key.id, label: key.label, blobSha256: sha256(Buffer.from(key.blob)), wrappingLabel },
      },
      () => this.full.importWrapped(key, wrappingLabel),
    );
  }

  /** Writes a checkpoint (shutdown), then closes the inner key manager. */
  async close(): Promise<void> {
    try {
      await this.governor.checkpoint();
    } finally {
      await this.inner.close();
    }
  }
}

/** The recorded parameters of a signature: the key, the algorithm, and a hash of the data, never the data. */
function signParams(req: SignRequest): Record<string, unknown> {
  const out: Record<string, unknown> = { key: req.key, algorithm: req.algorithm, format: req.format };
  if (req.data !== undefined) out.dataSha256 = sha256(req.data);
  if (req.digest !== undefined) out.digest = Buffer.from(req.digest).toString('hex');
  return out;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** True when `km` is a governed key manager (the service refuses to start on an ungoverned one). */
export function isGoverned(km: unknown): km is GovernedKeyManager {
  return km instanceof GovernedKeyManager;
}

/** Guards against wrapping twice (every operation would be decided and recorded twice). */
export function governOnce(inner: KeyManager, governor: Governor): GovernedKeyManager {
  if (isGoverned(inner)) throw new HsmError('HSM_ERR_CONFIG', 'the key manager is already governed');
  return new GovernedKeyManager(inner, governor);
}
