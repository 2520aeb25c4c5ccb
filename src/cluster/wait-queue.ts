import { HsmError } from '../errors/index.js';

/** Queue settings. */
export interface WaitQueueOptions {
  /** Most operations that may wait at once; more are refused at once. Default 10000. */
  max?: number;
}

interface Waiter {
  resolve(): void;
  reject(err: HsmError): void;
  timer: NodeJS.Timeout;
}

/**
 * Where operations wait while no member can serve them. Bounded; each waiter has its own
 * deadline; when a member returns, waiters are released in arrival order.
 */
export class WaitQueue {
  private readonly waiters: Waiter[] = [];

  constructor(private readonly opts: WaitQueueOptions = {}) {}

  /** Operations waiting now. */
  get depth(): number {
    return this.waiters.length;
  }

  /** Waits until `release()` or the deadline; past it (or with the queue full) → HSM_ERR_UNAVAILABLE. */
  wait(deadline: number, what: string): Promise<void> {
    if (this.waiters.length >= (this.opts.max ?? 10_000)) {
      return Promise.reject(
        new HsmError('HSM_ERR_UNAVAILABLE', `no HSM member can serve ${what} and the wait queue is full`),
      );
    }
    const ms = deadline - Date.now();
    if (ms <= 0)
      return Promise.reject(
        new HsmError('HSM_ERR_UNAVAILABLE', `no HSM member could serve ${what} before its deadline`),
      );
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(
            new HsmError('HSM_ERR_UNAVAILABLE', `no HSM member could serve ${what} before its deadline`),
          );
        }, ms),
      };
      this.waiters.push(waiter);
    });
  }

  /** Releases every waiter, oldest first. */
  release(): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  /** Fails every waiter (shutdown). */
  clear(err: HsmError): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
