/** Breaker states: closed (traffic flows), open (member skipped), half-open (one probe allowed). */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Circuit-breaker settings. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 3. */
  failureThreshold?: number;
  /** First open period before a half-open probe. Default 250 ms. */
  openMs?: number;
  /** Longest open period; each failed probe doubles the period up to this. Default 10000 ms. */
  maxOpenMs?: number;
}

/**
 * A per-member circuit breaker. It opens after consecutive device errors or timeouts, lets one
 * probe through once the open period has passed, and doubles the period after each failed probe
 * (exponential backoff), so a dead HSM is not hammered and a recovered one is found quickly.
 * The clock is injected so the logic is tested without waiting.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private period: number;
  private probing = false;
  private _state: BreakerState = 'closed';

  constructor(
    private readonly opts: BreakerOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.period = opts.openMs ?? 250;
  }

  /** Current state (an open breaker whose period has passed reads as half-open). */
  get state(): BreakerState {
    if (this._state === 'open' && this.now() - this.openedAt >= this.period) return 'half-open';
    return this._state;
  }

  /** Whether a request may go to the member now. In half-open, only one probe at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'half-open' && !this.probing) {
      this.probing = true;
      this._state = 'half-open';
      return true;
    }
    return false;
  }

  /** Records a success: closes the breaker and resets the backoff. Returns true if it was not closed. */
  success(): boolean {
    const wasOpen = this._state !== 'closed';
    this.failures = 0;
    this.probing = false;
    this._state = 'closed';
    this.period = this.opts.openMs ?? 250;
    return wasOpen;
  }

  /** Records a failure that counts against the member. Returns true if this opened the breaker. */
  failure(): boolean {
    this.failures++;
    if (this._state === 'half-open' || this.probing) {
      this.probing = false;
      this.period = Math.min(this.opts.maxOpenMs ?? 10_000, this.period * 2);
      this._state = 'open';
      this.openedAt = this.now();
      return false;
    }
    if (this._state === 'closed' && this.failures >= (this.opts.failureThreshold ?? 3)) {
      this._state = 'open';
      this.openedAt = this.now();
      return true;
    }
    return false;
  }

  /** Opens at once (the member reported itself down). */
  trip(): void {
    if (this._state === 'closed') {
      this._state = 'open';
      this.openedAt = this.now();
    }
  }
}
