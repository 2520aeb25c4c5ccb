import { HsmError } from '../errors/index.js';
import type {
  HealthCheckable,
  KeyDeleter,
  KeyLister,
  KeyManager,
  KeyReplicator,
  RandomSource,
} from '../kms/key-manager.js';
import type { KeyWrapTraitsReader } from '../kms/key-transfer.js';
import type { BalancedMember } from './balancer.js';
import { type BreakerOptions, CircuitBreaker } from './circuit-breaker.js';

/** What a cluster needs from each member's key manager. */
export type ClusterMemberKm = KeyManager &
  KeyLister &
  KeyReplicator &
  HealthCheckable &
  Partial<KeyDeleter & RandomSource & KeyWrapTraitsReader>;

/** Member health as the cluster reports it. */
export type MemberHealth = 'up' | 'degraded' | 'down';

/** A member as the cluster sees it: its key manager, breaker, load and latency. */
export class ClusterMember implements BalancedMember {
  inflight = 0;
  latencyMs = 1;
  /** Health-check latency above the SLA makes the member degraded. */
  degraded = false;
  /** False when the member cannot wrap/unwrap (learnt at start): it never receives or sends copies. */
  canReplicate = true;
  /** Out of rotation for maintenance (`hsmkit maintenance plan`): never chosen to serve operations. */
  maintenance = false;
  readonly breaker: CircuitBreaker;

  constructor(
    readonly name: string,
    readonly km: ClusterMemberKm,
    breaker: BreakerOptions,
    readonly site?: string,
    readonly region?: string,
  ) {
    this.breaker = new CircuitBreaker(breaker);
  }

  /** Health derived from the breaker and the latency. */
  get health(): MemberHealth {
    if (this.breaker.state !== 'closed') return 'down';
    return this.degraded ? 'degraded' : 'up';
  }

  /** Whether the member may be tried now (closed, or due for a half-open probe). */
  get available(): boolean {
    return this.breaker.state !== 'open';
  }

  /**
   * Runs one operation on this member, tracking load and latency. Failures that indict the member
   * (retryable ones: device errors, crashes, timeouts) count against its breaker; a missing key
   * or bad input does not.
   */
  async run<T>(fn: (km: ClusterMemberKm) => Promise<T>): Promise<{ value: T; recovered: boolean }> {
    this.inflight++;
    const started = performance.now();
    try {
      const value = await fn(this.km);
      this.latencyMs = this.latencyMs * 0.8 + (performance.now() - started) * 0.2;
      return { value, recovered: this.breaker.success() };
    } catch (err) {
      if (indictsMember(err)) this.breaker.failure();
      throw err;
    } finally {
      this.inflight--;
    }
  }
}

/** True for failures that say the member (not the request) is at fault. */
export function indictsMember(err: unknown): boolean {
  return HsmError.is(err) && err.retryable;
}
