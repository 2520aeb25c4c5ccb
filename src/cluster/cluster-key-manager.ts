import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { HsmError, toHsmError } from '../errors/index.js';
import type { KeyInfo } from '../kms/key-info.js';
import {
  type BatchSigner,
  type BatchSignResult,
  type CapabilityReport,
  type CapabilityReporter,
  isCapabilityReporter,
  type KeyDeleter,
  type KeyLister,
  type KeyManager,
  type RandomSource,
} from '../kms/key-manager.js';
import type { KeyWrapTraits } from '../kms/key-transfer.js';
import type { CreateKeyRequest, KeyRef, ListKeysRequest, SignRequest } from '../kms/requests.js';
import { signEach } from '../kms/sign-each.js';
import { withoutUndefined } from '../kms/without-undefined.js';
import { type KeyMetadataRepository, recordMetadata } from '../store/key-metadata.js';
import { keyUri } from '../uri/pkcs11-uri.js';
import { Balancer, type HaMode, type LoadBalancing } from './balancer.js';
import type { BreakerOptions } from './circuit-breaker.js';
import { ClusterMember, type ClusterMemberKm, indictsMember, type MemberHealth } from './cluster-member.js';
import { REPLICATION_KEY_LABEL } from './replication-ceremony.js';
import { WaitQueue } from './wait-queue.js';

/** One member to build a cluster from. */
export interface ClusterMemberSpec {
  name: string;
  km: ClusterMemberKm;
  site?: string;
  region?: string;
}

/** Cluster settings: the seed's high_availability block plus health, breaker, queue and replication. */
export interface ClusterOptions {
  mode?: HaMode;
  loadBalancing?: LoadBalancing;
  /** Other members tried after the first fails, per round. Default 3. */
  retryAttempts?: number;
  /** How long an operation may wait (in the queue) for a member. Default 1000 ms (failover_timeout_ms). */
  failoverTimeoutMs?: number;
  /** Health-check period. Default 5000 ms; 250 ms while operations wait or a member is down. */
  healthIntervalMs?: number;
  /** Health latency above this makes a member degraded. Default 250 ms. */
  slaMs?: number;
  breaker?: BreakerOptions;
  /** Most operations waiting for a member. Default 10000. */
  queueMax?: number;
  /** Label of the replication key; absent = no replication (keys are placed on one member). */
  replicationKeyLabel?: string;
  /** Copies a new key must reach before creation succeeds. Default min(2, members). */
  minCopies?: number;
  /** Labels never replicated (each member's own health key). */
  localOnlyLabels?: string[];
  /** The site this instance runs in; its members are preferred. */
  localSite?: string;
  /**
   * Metadata of the cluster's logical keys (purpose, owner, expiry, status), kept once for the
   * cluster under the logical URI rather than per member. Without it, metadata is refused.
   */
  store?: KeyMetadataRepository;
}

const HEALTH_LABEL = 'hsmkit-health';
const PROBE = Buffer.from('hsmkit replication check');

/**
 * A KeyManager over several HSM members. Single-part operations are balanced (round robin or
 * least loaded, local site first); an operation that fails on a member with a retryable error
 * fails over to the next member that holds the key; when no member can serve, it waits in a
 * bounded queue until one returns or its deadline passes (HSM_ERR_UNAVAILABLE). A per-member
 * circuit breaker keeps traffic off failing members and health checks (a test signature) bring
 * them back. With a replication key, new keys are copied HSM to HSM to the other members before
 * creation returns, and a member that rejoins catches up. Key generation never falls back to software.
 *
 * Events: `member-state` {member, from, to}, `failover` {from, error}, `alert` {kind, message},
 * `replicated` {label, to}.
 */
export class ClusterKeyManager
  extends EventEmitter
  implements KeyManager, KeyLister, KeyDeleter, RandomSource, BatchSigner
{
  readonly members: ClusterMember[];
  private readonly balancer: Balancer;
  private readonly queue: WaitQueue;
  private readonly health = new Map<string, MemberHealth>();
  private healthTimer: NodeJS.Timeout | undefined;
  private healthRunning = false;
  private closed = false;
  private catchUps = new Map<string, Promise<void>>();
  /** Failovers since start. */
  failovers = 0;

  constructor(
    specs: ClusterMemberSpec[],
    private readonly opts: ClusterOptions = {},
  ) {
    super();
    if (specs.length === 0) throw new HsmError('HSM_ERR_CONFIG', 'a cluster needs at least one member');
    this.members = specs.map((s) => new ClusterMember(s.name, s.km, opts.breaker ?? {}, s.site, s.region));
    for (const m of this.members) this.health.set(m.name, 'up');
    this.balancer = new Balancer(
      opts.loadBalancing ?? 'round_robin',
      opts.mode ?? 'active_active',
      opts.localSite,
    );
    this.queue = new WaitQueue({ max: opts.queueMax ?? 10_000 });
  }

  /** Starts health monitoring and brings every member up to date with the others' keys. */
  async start(): Promise<void> {
    if (this.opts.replicationKeyLabel) {
      for (const m of this.members) {
        m.canReplicate = m.km.canReplicate ? await m.km.canReplicate().catch(() => false) : true;
        if (!m.canReplicate) {
          this.emit('alert', {
            kind: 'replication',
            message: `member ${m.name} cannot wrap keys (no working RFC 5649 key wrap); it is left out of replication and keys are placed on the others`,
          });
        }
      }
    }
    await this.checkHealth();
    if (this.opts.replicationKeyLabel) {
      // Each member's keys are listed once for the whole start-up catch-up, not once per other
      // member: a listing reads every key's attributes from the token. A listing taken before
      // keys were copied to that member lacks only keys another listed member holds.
      const listings = new Map<ClusterMember, Promise<KeyInfo[]>>();
      const listOnce = (member: ClusterMember, list: () => Promise<KeyInfo[]>) => {
        let l = listings.get(member);
        if (!l) {
          l = list();
          listings.set(member, l);
        }
        return l;
      };
      for (const m of this.members) if (m.health !== 'down') await this.catchUp(m, listOnce);
    }
    this.scheduleHealth();
  }

  /** Operations waiting for a member now. */
  get queueDepth(): number {
    return this.queue.depth;
  }

  /**
   * Generates the key on a member (replicated when configured), then records its metadata under
   * the logical URI. A key whose metadata cannot be stored is destroyed again on every member.
   */
  async createKey(req: CreateKeyRequest): Promise<KeyInfo> {
    const store = this.opts.store;
    if (req.metadata && !store) throw new HsmError('HSM_ERR_CONFIG', 'key metadata needs a store');
    const { metadata, ...bare } = req;
    const info = await this.generate(bare);
    if (!store) return info;
    try {
      const record = await store.insert({
        uri: info.uri,
        member: 'cluster',
        token: 'cluster',
        label: info.label,
        idHex: info.id,
        keyType: String(info.type),
        status: 'active',
        tags: metadata?.tags ?? {},
        publicKeySpki: new Uint8Array(
          createPublicKey(info.publicKeyPem).export({ format: 'der', type: 'spki' }),
        ),
        ...withoutUndefined({
          purpose: metadata?.purpose,
          expiresAt: metadata?.expiresAt,
          ceremonyId: metadata?.ceremonyId,
          owner: metadata?.owner,
        }),
      });
      return { ...info, metadata: recordMetadata(record) };
    } catch (err) {
      await Promise.all(this.members.map((m) => m.km.deleteKey?.(info.uri).catch(() => undefined)));
      throw toHsmError(err, 'HSM_ERR_STORE');
    }
  }

  private async generate(req: CreateKeyRequest): Promise<KeyInfo> {
    const configured = this.opts.replicationKeyLabel;
    const replicating = this.members.filter((m) => m.canReplicate);
    // Replication needs two members able to wrap; otherwise the key is placed on one member.
    const label = configured && replicating.length >= 2 ? configured : undefined;
    const candidates = (label ? replicating : this.members).filter((m) => m.available && !m.maintenance);
    const source = this.balancer.order(candidates)[0];
    if (!source)
      throw this.unavailable(
        'key generation',
        'no HSM member is available; a key is never generated in software',
      );
    if (!label) {
      if (configured) {
        this.emit('alert', {
          kind: 'replication',
          message: `replication refused for ${req.label}: fewer than two members can wrap keys; the key is placed on ${source.name} only`,
        });
      }
      // Placement without replication: one member, no failover (a retry elsewhere would make a different key).
      const { value } = await source.run((km) => km.createKey(req));
      return this.logical(value, [source.name]);
    }
    const replicable: CreateKeyRequest = {
      ...req,
      protection: { ...req.protection, extractable: true, wrapWithTrusted: true },
    };
    const { value: info } = await source.run((km) => km.createKey(replicable));
    const replicas = [source.name];
    const ref = this.logicalUri(info);
    for (const target of replicating) {
      if (target === source || !target.available) continue;
      try {
        await this.copyKey(source, target, ref, info.publicKeyPem, label);
        replicas.push(target.name);
      } catch (err) {
        this.emit('alert', {
          kind: 'replication',
          message: `key ${info.label} not copied to ${target.name}: ${toHsmError(err).message}`,
        });
      }
    }
    const need = Math.min(this.opts.minCopies ?? 2, replicating.length);
    if (replicas.length < need) {
      await Promise.all(
        replicas.map((n) =>
          this.members
            .find((m) => m.name === n)
            ?.km.deleteKey?.(ref)
            .catch(() => undefined),
        ),
      );
      throw this.unavailable(
        'key generation',
        `the key reached ${replicas.length} of the ${need} members it must be copied to; it was removed again`,
      );
    }
    return this.logical(info, replicas);
  }

  /** Copies one key source → target, HSM to HSM, then proves it: the target signs, the source's public key verifies. */
  private async copyKey(
    source: ClusterMember,
    target: ClusterMember,
    ref: string,
    publicKeyPem: string,
    label: string,
  ): Promise<boolean> {
    const wrapped = (await source.run((km) => km.exportWrapped(ref, label))).value;
    const { created } = (await target.run((km) => km.importWrapped(wrapped, label))).value;
    const sig = (await target.run((km) => km.sign({ key: ref, data: PROBE }))).value;
    const ok = cryptoVerify(algorithmFor(publicKeyPem), PROBE, publicKeyPem, sig);
    if (!ok) {
      if (created) await target.km.deleteKey?.(ref).catch(() => undefined);
      throw new HsmError(
        'HSM_ERR_INTEGRITY',
        `the copy of ${wrapped.label} on ${target.name} does not sign like the original`,
      );
    }
    this.emit('replicated', { label: wrapped.label, to: target.name, created });
    return created;
  }

  async getKey(ref: KeyRef): Promise<KeyInfo> {
    const info = await this.execute('key lookup', (km) => km.getKey(ref));
    return this.withMetadata(this.logical(info, undefined));
  }

  getPublicKey(ref: KeyRef): Promise<Uint8Array> {
    return this.execute('public key lookup', (km) => km.getPublicKey(ref));
  }

  sign(req: SignRequest): Promise<Uint8Array> {
    return this.execute('signing', (km) => km.sign(req));
  }

  signBatch(reqs: SignRequest[]): Promise<BatchSignResult[]> {
    return signEach(reqs, (r) => this.sign(r));
  }

  generateRandom(length: number): Promise<Uint8Array> {
    return this.execute('random', (km) => {
      if (!km.generateRandom) throw new HsmError('HSM_ERR_NOT_SUPPORTED', 'member has no RNG');
      return km.generateRandom(length);
    });
  }

  /** Takes the named members out of rotation (maintenance) and returns every other member to it. */
  setMaintenance(names: Iterable<string>): void {
    const out = new Set(names);
    for (const m of this.members) m.maintenance = out.has(m.name);
  }

  async listKeys(req: ListKeysRequest = {}): Promise<KeyInfo[]> {
    const byId = new Map<string, KeyInfo>();
    for (const m of this.members.filter((x) => x.available)) {
      try {
        for (const k of (await m.run((km) => km.listKeys(req))).value) {
          if (this.localOnly(k.label)) continue;
          const seen = byId.get(k.id);
          byId.set(k.id, this.logical(k, [...(seen?.replicas ?? []), m.name]));
        }
      } catch {
        // A member that cannot list now is skipped; its keys are listed by the others that hold them.
      }
    }
    const keys = [...byId.values()].sort((a, b) => a.label.localeCompare(b.label));
    return Promise.all(keys.map((k) => this.withMetadata(k)));
  }

  /** The logical key with its stored metadata, when the cluster keeps a store. */
  private async withMetadata(info: KeyInfo): Promise<KeyInfo> {
    const record = await this.opts.store?.get(info.uri);
    return record ? { ...info, metadata: recordMetadata(record) } : info;
  }

  /** Deletes the key on every member that holds it; refused while a member is down (it would come back with the key). */
  async deleteKey(ref: KeyRef): Promise<void> {
    const down = this.members.filter((m) => !m.available);
    if (down.length > 0) {
      throw this.unavailable(
        'key deletion',
        `member(s) ${down.map((m) => m.name).join(', ')} are down; deleting now would leave copies`,
      );
    }
    // The logical URI the metadata is kept under (ref may be a label or a member's URI).
    const logical = this.opts.store ? (await this.getKey(ref).catch(() => undefined))?.uri : undefined;
    let deleted = 0;
    for (const m of this.members) {
      try {
        await m.run((km) => {
          if (!km.deleteKey) throw new HsmError('HSM_ERR_NOT_SUPPORTED', 'member cannot delete keys');
          return km.deleteKey(ref);
        });
        deleted++;
      } catch (err) {
        if (!HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) throw err;
      }
    }
    if (deleted === 0)
      throw new HsmError('HSM_ERR_KEY_NOT_FOUND', `no member holds ${String(ref).slice(0, 200)}`);
    if (logical) await this.opts.store?.delete(logical);
  }

  /**
   * How the key may leave its tokens, read from every available member holding it: extractable if
   * any copy is, and wrap-with-trusted or sensitive only if every copy is.
   */
  async wrapTraits(ref: KeyRef): Promise<KeyWrapTraits> {
    const traits: KeyWrapTraits[] = [];
    for (const m of this.members.filter((x) => x.available)) {
      const read = m.km.wrapTraits?.bind(m.km);
      if (!read) throw new HsmError('HSM_ERR_NOT_SUPPORTED', `member ${m.name} cannot read key attributes`);
      try {
        traits.push((await m.run(() => read(ref))).value);
      } catch (err) {
        if (!HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) throw err;
      }
    }
    if (traits.length === 0)
      throw new HsmError('HSM_ERR_KEY_NOT_FOUND', `no member holds ${String(ref).slice(0, 200)}`);
    return {
      extractable: traits.some((t) => t.extractable),
      wrapWithTrusted: traits.every((t) => t.wrapWithTrusted),
      sensitive: traits.every((t) => t.sensitive),
    };
  }

  /** Every available member's capability report (a member that cannot answer now is left out). */
  async capabilities(): Promise<CapabilityReport[]> {
    const reports = await Promise.all(
      this.members
        .filter((m) => m.available && isCapabilityReporter(m.km))
        .map((m) =>
          (m.km as unknown as CapabilityReporter).capabilities().catch(() => [] as CapabilityReport[]),
        ),
    );
    return reports.flat();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.queue.clear(new HsmError('HSM_ERR_UNAVAILABLE', 'the cluster is closing'));
    await Promise.all(this.members.map((m) => m.km.close()));
  }

  /**
   * Runs an operation with failover: members in balancer order; a retryable failure moves on to
   * the next member; a missing key moves on too (the key may live elsewhere); anything else is
   * final. When a round finds no member able to serve, the operation waits for one to return.
   */
  private async execute<T>(what: string, fn: (km: ClusterMemberKm) => Promise<T>): Promise<T> {
    if (this.closed) throw new HsmError('HSM_ERR_UNAVAILABLE', 'the cluster is closed');
    const deadline = Date.now() + (this.opts.failoverTimeoutMs ?? 1000);
    const maxTries = (this.opts.retryAttempts ?? 3) + 1;
    for (;;) {
      let tries = 0;
      let notFound: HsmError | undefined;
      let failedOn: string | undefined;
      for (const m of this.balancer.order(this.members.filter((x) => x.available && !x.maintenance))) {
        if (tries >= maxTries) break;
        if (!m.breaker.allow()) continue;
        tries++;
        try {
          const { value, recovered } = await m.run(fn);
          if (recovered) this.onRecovered(m);
          if (failedOn) this.emit('failover', { from: failedOn, to: m.name, what });
          return value;
        } catch (err) {
          if (HsmError.is(err, 'HSM_ERR_KEY_NOT_FOUND')) {
            notFound = err;
            continue;
          }
          if (!indictsMember(err)) throw err;
          this.noteFailure(m);
          failedOn ??= m.name;
          this.failovers++;
        }
      }
      // Every available member lacks the key and none is down: it does not exist.
      if (notFound && this.members.every((m) => m.available || m.maintenance) && !failedOn) throw notFound;
      if (this.closed) throw new HsmError('HSM_ERR_UNAVAILABLE', 'the cluster is closed');
      this.scheduleHealth(true);
      try {
        await this.queue.wait(deadline, what);
      } catch (err) {
        this.emit('alert', { kind: 'unavailable', message: toHsmError(err).message });
        throw err;
      }
    }
  }

  private noteFailure(m: ClusterMember): void {
    this.setHealth(m, m.health);
  }

  private onRecovered(m: ClusterMember): void {
    this.setHealth(m, m.health);
    this.queue.release();
    if (this.opts.replicationKeyLabel) void this.catchUp(m);
  }

  private setHealth(m: ClusterMember, to: MemberHealth): void {
    const from = this.health.get(m.name);
    if (from === to) return;
    this.health.set(m.name, to);
    this.emit('member-state', { member: m.name, from, to });
    if (to === 'down') this.emit('alert', { kind: 'member-down', message: `HSM member ${m.name} is down` });
  }

  /** Health checks: periodic, faster while anything waits or a member is down. */
  private scheduleHealth(soon = false): void {
    if (this.closed) return;
    const busy = soon || this.queue.depth > 0 || this.members.some((m) => m.health === 'down');
    const interval = busy
      ? Math.min(250, this.opts.healthIntervalMs ?? 5000)
      : (this.opts.healthIntervalMs ?? 5000);
    if (this.healthTimer && !soon) return;
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.healthTimer = setTimeout(() => {
      this.healthTimer = undefined;
      this.checkHealth().finally(() => this.scheduleHealth());
    }, interval);
    // Health checks alone never keep a process alive; waiting operations hold their own timers.
    this.healthTimer.unref();
  }

  private async checkHealth(): Promise<void> {
    if (this.healthRunning) return;
    this.healthRunning = true;
    try {
      await Promise.all(
        this.members.map(async (m) => {
          // A health check is the half-open probe: it goes even when the breaker is open.
          try {
            const { latencyMs } = await m.km.healthCheck();
            m.degraded = latencyMs > (this.opts.slaMs ?? 250);
            const recovered = m.breaker.success();
            if (recovered) this.onRecovered(m);
            else this.setHealth(m, m.health);
          } catch (err) {
            if (indictsMember(err) || HsmError.is(err, 'HSM_ERR_AUTH', 'HSM_ERR_PIN_LOCKED')) {
              m.breaker.failure();
              m.breaker.trip();
            }
            this.setHealth(m, m.health);
          }
        }),
      );
    } finally {
      this.healthRunning = false;
    }
  }

  /**
   * Copies to `m` every replicable key the other members hold and it lacks. `listing` lets one
   * catch-up pass share each member's key listing (start-up); by default every listing is fresh.
   */
  catchUp(
    m: ClusterMember,
    listing: (member: ClusterMember, list: () => Promise<KeyInfo[]>) => Promise<KeyInfo[]> = (_m, list) =>
      list(),
  ): Promise<void> {
    const label = this.opts.replicationKeyLabel;
    if (!label) return Promise.resolve();
    const running = this.catchUps.get(m.name);
    if (running) return running;
    const job = (async () => {
      if (!m.canReplicate) return;
      const mine = new Set((await listing(m, () => m.km.listKeys())).map((k) => k.id));
      for (const source of this.members) {
        if (source === m || !source.available || !source.canReplicate) continue;
        let theirs: KeyInfo[];
        try {
          theirs = await listing(source, async () => (await source.run((km) => km.listKeys())).value);
        } catch {
          continue;
        }
        for (const k of theirs) {
          if (mine.has(k.id) || this.localOnly(k.label) || !k.attributes.extractable) continue;
          try {
            await this.copyKey(source, m, this.logicalUri(k), k.publicKeyPem, label);
            mine.add(k.id);
          } catch (err) {
            this.emit('alert', {
              kind: 'replication',
              message: `catch-up of ${k.label} to ${m.name} failed: ${toHsmError(err).message}`,
            });
          }
        }
      }
    })()
      .catch((err) => {
        // The member went away again mid catch-up; the next recovery runs it again.
        this.emit('alert', {
          kind: 'replication',
          message: `catch-up of ${m.name} stopped: ${toHsmError(err).message}`,
        });
      })
      .finally(() => this.catchUps.delete(m.name));
    this.catchUps.set(m.name, job);
    return job;
  }

  private localOnly(label: string): boolean {
    return (
      label === HEALTH_LABEL ||
      label === (this.opts.replicationKeyLabel ?? REPLICATION_KEY_LABEL) ||
      (this.opts.localOnlyLabels ?? []).includes(label)
    );
  }

  private logicalUri(k: { label: string; id: string }): string {
    return keyUri({ object: k.label, id: Buffer.from(k.id, 'hex'), type: 'private' });
  }

  /** A member's KeyInfo as the cluster's logical key (URI without token). */
  private logical(k: KeyInfo, replicas: string[] | undefined): KeyInfo {
    const out: KeyInfo = { ...k, uri: this.logicalUri(k), member: 'cluster' };
    if (replicas) out.replicas = replicas;
    return out;
  }

  private unavailable(what: string, why: string): HsmError {
    const err = new HsmError('HSM_ERR_UNAVAILABLE', `${what}: ${why}`);
    this.emit('alert', { kind: 'unavailable', message: err.message });
    return err;
  }
}

/** The hash node:crypto needs to verify a probe signature made with the default algorithm. */
function algorithmFor(publicKeyPem: string): string | null {
  const type = createPublicKey(publicKeyPem).asymmetricKeyType;
  return type === 'ed25519' || type === 'ed448' ? null : 'sha256';
}
