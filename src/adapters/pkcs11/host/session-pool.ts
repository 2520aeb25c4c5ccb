import { HsmError } from '../../../errors/index.js';
import { CKF } from '../constants.js';
import type { Handle, P11 } from '../p11.js';

/**
 * A bounded pool of read-write operation sessions on one token. The persistent login session is
 * kept apart by TokenConnection; PKCS#11 login state is per application, so every session in the
 * pool is logged in for as long as that one is. Sessions are reused, never logged out per use.
 */
export class SessionPool {
  private readonly idle: Handle[] = [];
  private readonly waiters: Array<(s: Handle) => void> = [];
  private open = 0;

  constructor(
    private readonly p11: P11,
    private readonly slot: Handle,
    /** Most sessions this pool opens. */
    readonly max: number,
  ) {
    if (max < 1) throw new HsmError('HSM_ERR_CONFIG', 'session pool size must be at least 1');
  }

  /** Sessions currently open (idle + in use). */
  get size(): number {
    return this.open;
  }

  /** Open sessions waiting in the pool (not in use). */
  get idleCount(): number {
    return this.idle.length;
  }

  /** Takes a session now, opening one if below the bound; throws HSM_ERR_SESSION_LIMIT when none is free. */
  acquire(): Handle {
    const s = this.idle.pop();
    if (s) return s;
    if (this.open >= this.max)
      throw new HsmError('HSM_ERR_SESSION_LIMIT', `all ${this.max} sessions are in use`);
    return this.openOne();
  }

  /** Takes a session, waiting for one to be released when the pool is at its bound. */
  acquireAsync(): Promise<Handle> {
    const s = this.idle.pop();
    if (s) return Promise.resolve(s);
    if (this.open < this.max) return Promise.resolve(this.openOne());
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Returns a healthy session to the pool. */
  release(s: Handle): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(s);
    else this.idle.push(s);
  }

  /** Drops a session that the token says is invalid or closed; closing it is best effort. */
  evict(s: Handle): void {
    this.open--;
    try {
      this.p11.C_CloseSession(s);
    } catch {
      // Already invalid on the token side: CKR_SESSION_HANDLE_INVALID/CLOSED is the expected answer.
    }
    // A waiter would otherwise wait for a release that will not come.
    const waiter = this.waiters.shift();
    if (waiter) {
      try {
        waiter(this.openOne());
      } catch {
        this.waiters.unshift(waiter);
      }
    }
  }

  /** Forgets every session without closing them (after C_Finalize they no longer exist). */
  forgetAll(): void {
    this.idle.length = 0;
    this.open = 0;
  }

  private openOne(): Handle {
    const s = this.p11.C_OpenSession(this.slot, CKF.SERIAL_SESSION | CKF.RW_SESSION);
    this.open++;
    return s;
  }
}
