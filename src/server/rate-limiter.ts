/** Token-bucket settings: `perSecond` sustained, up to `burst` at once. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

/**
 * One token bucket per key (an identity, or a peer address for public routes). A bucket starts
 * full; each request takes a token; tokens come back at `perSecond`. Idle full buckets are dropped
 * so the map cannot grow without bound.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Seconds until `key` has a token again; 0 when it has one now. Takes nothing. */
  waitFor(key: string): number {
    const b = this.#buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.limit.burst, b.tokens + ((this.now() - b.at) / 1000) * this.limit.perSecond);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.limit.perSecond);
  }

  /** Takes `cost` tokens for `key`; returns 0 when allowed, else the seconds to wait. */
  take(key: string, cost = 1): number {
    const t = this.now();
    const b = this.#buckets.get(key) ?? { tokens: this.limit.burst, at: t };
    b.tokens = Math.min(this.limit.burst, b.tokens + ((t - b.at) / 1000) * this.limit.perSecond);
    b.at = t;
    this.#buckets.set(key, b);
    if (this.#buckets.size > 10_000) this.#sweep(t);
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return 0;
    }
    return Math.ceil((cost - b.tokens) / this.limit.perSecond);
  }

  #sweep(t: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.limit.perSecond >= this.limit.burst) this.#buckets.delete(k);
    }
  }
}
