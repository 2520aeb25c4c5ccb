import { HsmError } from '../errors/index.js';
import type { KeyInfo } from './key-info.js';
import type {
  HealthCheckable,
  KeyDeleter,
  KeyLister,
  KeyManager,
  RandomSource,
  SignatureVerifier,
} from './key-manager.js';

/**
 * A member that could not start because its token refused the PIN (HSM_ERR_AUTH / _PIN_LOCKED):
 * every call fails at once with that code and no PKCS#11 call is made, so the service can run,
 * report the member as `auth_failed` and answer with a clear code, while the token sees exactly
 * one login attempt however many requests arrive. Fixing it needs a new PIN and a restart.
 */
export class RefusingKeyManager
  implements KeyManager, KeyLister, KeyDeleter, SignatureVerifier, RandomSource, HealthCheckable
{
  constructor(
    private readonly cause: HsmError,
    /** The member's name, for messages. */
    readonly memberName: string,
  ) {}

  #refuse(): Promise<never> {
    return Promise.reject(
      new HsmError(
        this.cause.code,
        `member ${this.memberName} refused the PIN at start (${this.cause.code}); hsmkit does not log in again: fix the PIN and restart`,
        { member: this.memberName },
      ),
    );
  }

  createKey(): Promise<KeyInfo> {
    return this.#refuse();
  }
  getKey(): Promise<KeyInfo> {
    return this.#refuse();
  }
  getPublicKey(): Promise<Uint8Array> {
    return this.#refuse();
  }
  sign(): Promise<Uint8Array> {
    return this.#refuse();
  }
  listKeys(): Promise<KeyInfo[]> {
    return this.#refuse();
  }
  deleteKey(): Promise<void> {
    return this.#refuse();
  }
  verify(): Promise<boolean> {
    return this.#refuse();
  }
  generateRandom(): Promise<Uint8Array> {
    return this.#refuse();
  }
  healthCheck(): Promise<{ latencyMs: number }> {
    return this.#refuse();
  }
  async close(): Promise<void> {}
}
