/** What the balancer knows of a member. */
export interface BalancedMember {
  name: string;
  /** Operations in flight on this member. */
  inflight: number;
  /** Recent latency (EWMA), ms. */
  latencyMs: number;
  /** Site label; members on the local site are preferred. */
  site?: string;
  /** Slower than its SLA: used only when nothing better is available. */
  degraded: boolean;
}

/** Load-balancing strategy (the seed's `high_availability.load_balancing`). */
export type LoadBalancing = 'round_robin' | 'least_loaded';
/** HA mode (the seed's `high_availability.mode`). */
export type HaMode = 'active_active' | 'active_standby';

/**
 * Orders the available members for one operation: the first is tried first, the rest are the
 * failover order. Local site before remote, healthy before degraded; within a group, round robin
 * or least loaded (in-flight operations weighted by recent latency). In active_standby the
 * configured order is kept, so the primary takes all traffic while it is available.
 */
export class Balancer {
  private cursor = 0;

  constructor(
    private readonly strategy: LoadBalancing,
    private readonly mode: HaMode,
    private readonly localSite?: string,
  ) {}

  /** Members in the order they should be tried. `members` must be in configured order. */
  order<T extends BalancedMember>(members: readonly T[]): T[] {
    if (members.length <= 1) return [...members];
    const rank = (m: T) =>
      (this.localSite && m.site && m.site !== this.localSite ? 2 : 0) + (m.degraded ? 1 : 0);
    if (this.mode === 'active_standby') return [...members].sort((a, b) => rank(a) - rank(b));
    const start = this.cursor++ % members.length;
    const rotated = [...members.slice(start), ...members.slice(0, start)];
    const score = (m: T) => (m.inflight + 1) * Math.max(m.latencyMs, 0.05);
    return rotated.sort(
      (a, b) => rank(a) - rank(b) || (this.strategy === 'least_loaded' ? score(a) - score(b) : 0),
    );
  }
}
