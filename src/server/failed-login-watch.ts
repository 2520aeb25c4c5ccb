/**
 * Counts failed authentications per actor (identity or certificate subject) in a sliding window
 * and says when they become an alert: at `threshold` failures within `windowMs` (defaults 3 and
 * 5 minutes). Bounded: the oldest actors are dropped past `maxActors`.
 */
export class FailedLoginWatch {
  readonly #failures = new Map<string, number[]>();

  constructor(
    readonly threshold = 3,
    readonly windowMs = 5 * 60_000,
    private readonly maxActors = 10_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Records one failure of `actor`; returns the count in the window when it reaches the threshold. */
  record(actor: string): number | undefined {
    const t = this.now();
    const recent = (this.#failures.get(actor) ?? []).filter((at) => t - at < this.windowMs);
    recent.push(t);
    this.#failures.delete(actor);
    this.#failures.set(actor, recent);
    if (this.#failures.size > this.maxActors) {
      const oldest = this.#failures.keys().next().value;
      if (oldest !== undefined) this.#failures.delete(oldest);
    }
    return recent.length >= this.threshold ? recent.length : undefined;
  }
}
