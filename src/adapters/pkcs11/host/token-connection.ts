import { CKR_VALUES, HsmError } from '../../../errors/index.js';
import { CKF, CKU } from '../constants.js';
import type { InitHeader } from '../ipc/protocol.js';
import {
  ckrOf,
  type Handle,
  loadModule,
  type MechanismInfo,
  type P11,
  padded,
  type TokenInfo,
} from '../p11.js';
import { selectVendorProfile } from '../vendors/registry.js';
import type { VendorProfile } from '../vendors/vendor-profile.js';
import { fromP11 } from './p11-error.js';
import { mayRetry, recoveryFor } from './recovery.js';
import { SessionPool } from './session-pool.js';

const USER_TYPES = { user: CKU.USER, so: CKU.SO, crypto_officer: CKU.USER } as const;

/**
 * One module + token inside a member host: loads the library, initialises it with
 * CKF_OS_LOCKING_OK (SoftHSM crashes under concurrency without it), finds the token, keeps one
 * persistent logged-in session, and owns the operation-session pool. `run` applies the recovery
 * rules of DESIGN.md decision 2 around every operation.
 */
export class TokenConnection {
  p11!: P11;
  slot!: Handle;
  tokenInfo!: TokenInfo;
  pool!: SessionPool;
  mechanisms = new Map<number, MechanismInfo>();
  /** The vendor profile: the configured provider's, else detected at connect time. */
  profile!: VendorProfile;
  /** Bumped on every module reload; object handles from an older generation are stale. */
  generation = 0;
  private loginSession: Handle | undefined;
  private authFailure: HsmError | undefined;
  private lastReload = 0;

  constructor(readonly init: InitHeader) {}

  /** The member name, for errors. */
  get member(): string {
    return this.init.member;
  }

  /** Loads, initialises, finds the token and logs in. */
  connect(): void {
    if (this.init.provider !== undefined) {
      this.profile = selectVendorProfile(this.init.provider);
      // NSS answers C_Initialize without init args with CKR_ARGUMENTS_BAD, which says nothing useful.
      if (this.profile.initialize.requiresInitArgs && this.init.initArgs === undefined) {
        throw new HsmError(
          'HSM_ERR_CONFIG',
          `init_args: ${this.profile.name} needs C_Initialize parameters, e.g. ${this.profile.initialize.example}`,
          { member: this.member },
        );
      }
    }
    try {
      // With symbols: isolated this is the shim, which loads init.module (named in the host's env).
      this.p11 = loadModule(this.init.loadPath ?? this.init.module);
    } catch (err) {
      throw new HsmError(
        'HSM_ERR_CONFIG',
        `cannot load PKCS#11 module ${this.init.module}: ${(err as Error).message}`,
        {
          member: this.member,
        },
      );
    }
    this.open();
  }

  private open(): void {
    try {
      this.p11.C_Initialize(
        this.init.initArgs
          ? { flags: CKF.OS_LOCKING_OK, libraryParameters: this.init.initArgs }
          : { flags: CKF.OS_LOCKING_OK },
      );
    } catch (err) {
      // Tolerated: a module already initialised in this process (a reload after a failed finalize).
      if (ckrOf(err) !== CKR_VALUES.CRYPTOKI_ALREADY_INITIALIZED)
        throw fromP11(err, this.member, 'initialise module');
    }
    this.slot = this.findSlot();
    try {
      this.tokenInfo = this.p11.C_GetTokenInfo(this.slot);
      if (this.init.provider === undefined) {
        const info = this.p11.C_GetInfo();
        this.profile = selectVendorProfile(undefined, {
          libraryManufacturer: padded(info.manufacturerID),
          libraryDescription: padded(info.libraryDescription),
          tokenManufacturer: padded(this.tokenInfo.manufacturerID),
          tokenModel: padded(this.tokenInfo.model),
        });
      }
      this.mechanisms.clear();
      for (const m of this.p11.C_GetMechanismList(this.slot)) {
        try {
          this.mechanisms.set(m, this.p11.C_GetMechanismInfo(this.slot, m));
        } catch {
          // Some modules list mechanisms they cannot describe; keep it with unknown limits.
          this.mechanisms.set(m, { minKeySize: 0, maxKeySize: 0, flags: 0 });
        }
      }
    } catch (err) {
      throw fromP11(err, this.member, 'read token information');
    }
    const max = this.sessionBound();
    this.pool = new SessionPool(this.p11, this.slot, max);
    this.loginSession = this.p11.C_OpenSession(this.slot, CKF.SERIAL_SESSION | CKF.RW_SESSION);
    this.login();
  }

  /** Session bound: the configured size, lowered by the token's ulMaxRwSessionCount (less the login session). */
  private sessionBound(): number {
    const tokenMax = this.tokenInfo.maxRwSessionCount;
    const known = tokenMax !== 0 && tokenMax !== 0xffffffff && tokenMax > 1;
    return Math.max(1, known ? Math.min(this.init.poolSize, tokenMax - 1) : this.init.poolSize);
  }

  private findSlot(): Handle {
    let slots: Handle[];
    try {
      slots = this.p11.C_GetSlotList(true);
    } catch (err) {
      throw fromP11(err, this.member, 'list slots');
    }
    const matches = slots.filter((slot) => {
      if (this.init.slot !== undefined) return slot.readBigUInt64LE(0) === BigInt(this.init.slot);
      if (this.init.tokenLabel !== undefined) {
        try {
          return padded(this.p11.C_GetTokenInfo(slot).label) === this.init.tokenLabel;
        } catch {
          return false;
        }
      }
      return true;
    });
    const want =
      this.init.slot !== undefined ? `slot ${this.init.slot}` : `token "${this.init.tokenLabel ?? '(any)'}"`;
    if (matches.length === 0) {
      throw new HsmError('HSM_ERR_TOKEN_NOT_PRESENT', `no ${want} in module ${this.init.module}`, {
        member: this.member,
      });
    }
    if (matches.length > 1) {
      throw new HsmError(
        'HSM_ERR_CONFIG',
        `${matches.length} slots match ${want}; set slot or a unique token_label`,
        { member: this.member },
      );
    }
    return matches[0]!;
  }

  /** Logs the persistent session in. A refused PIN is remembered and never tried again. */
  login(): void {
    if (this.authFailure) throw this.authFailure;
    if (this.init.pin === undefined) return;
    try {
      this.p11.C_Login(this.loginSession!, USER_TYPES[this.init.userType], this.init.pin);
    } catch (err) {
      const rv = ckrOf(err);
      // Tolerated: login state is per application, so after a relogin race or a reload that kept
      // state the token may already consider us logged in. That is the state we want.
      if (rv === CKR_VALUES.USER_ALREADY_LOGGED_IN) return;
      const e = fromP11(err, this.member, 'login');
      if (recoveryFor(rv) === 'fail-auth') this.authFailure = e;
      throw e;
    }
  }

  /**
   * Finalises and re-initialises the module (the only cure for CKR_DEVICE_ERROR through p11-kit,
   * DESIGN.md), rate-limited so a dead HSM is not hammered.
   */
  reload(): void {
    const now = Date.now();
    if (now - this.lastReload < this.init.reloadIntervalMs) {
      throw new HsmError('HSM_ERR_DEVICE', 'the HSM is failing; module reload is rate-limited', {
        member: this.member,
      });
    }
    this.lastReload = now;
    this.generation++;
    try {
      this.p11.C_Finalize();
    } catch {
      // The module may already consider itself finalised (CKR_CRYPTOKI_NOT_INITIALIZED); we
      // re-initialise either way.
    }
    this.pool?.forgetAll();
    this.loginSession = undefined;
    this.open();
  }

  /**
   * Runs a synchronous operation on a pooled session, applying the recovery rules once:
   * evict a dead session, log in again, or reload the module; then retry when that is safe.
   */
  run<T>(what: string, idempotent: boolean, fn: (session: Handle) => T): T {
    for (let attempt = 0; ; attempt++) {
      if (this.authFailure) throw this.authFailure;
      let session: Handle | undefined;
      try {
        session = this.pool.acquire();
        const result = fn(session);
        this.pool.release(session);
        return result;
      } catch (err) {
        this.afterFailure(err, what, session, attempt, idempotent);
      }
    }
  }

  /** Like run, for pkcs11js async calls (used with asyncOperations for network HSMs). */
  async runAsync<T>(what: string, idempotent: boolean, fn: (session: Handle) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.authFailure) throw this.authFailure;
      let session: Handle | undefined;
      try {
        session = await this.pool.acquireAsync();
        const result = await fn(session);
        this.pool.release(session);
        return result;
      } catch (err) {
        this.afterFailure(err, what, session, attempt, idempotent);
      }
    }
  }

  /**
   * Puts the session back or evicts it and always applies the recovery (so a device error on a
   * key generation still reloads the module and frees its session); returns only when the caller
   * should run the operation again.
   */
  private afterFailure(
    err: unknown,
    what: string,
    session: Handle | undefined,
    attempt: number,
    idempotent: boolean,
  ): void {
    const e = fromP11(err, this.member, what);
    const recovery = recoveryFor(e.ckr);
    if (session) {
      if (recovery === 'evict-session') this.pool.evict(session);
      // After a reload the old sessions no longer exist; reload() empties the pool.
      else if (recovery !== 'reload-module') this.pool.release(session);
    }
    if (recovery === 'fail-auth') this.authFailure = e;
    const retry = attempt < 1 && mayRetry(recovery, idempotent);
    try {
      if (recovery === 'relogin') this.login();
      else if (recovery === 'reload-module') this.reload();
    } catch (recoveryError) {
      // The recovery itself failed (rate-limited reload, token still gone, PIN now refused):
      // report that when we would have retried, else the original failure.
      if (retry) throw recoveryError;
    }
    if (!retry) throw e;
  }

  /** Closes sessions and finalises the module (host shutdown). */
  close(): void {
    try {
      this.p11?.C_Finalize();
    } catch {
      // Shutting down: nothing useful to do with a finalize error.
    }
  }
}
