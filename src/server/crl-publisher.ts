import { generateCrl } from '../pki/crl.js';
import type { PkiDeps } from '../pki/pki-deps.js';
import { X509Crl } from '../pki/x509.js';

/**
 * Serves each CA's published CRL from the store, signing a new one in the HSM when there is none,
 * when it is past half its lifetime, or when a revocation was recorded since it was signed.
 */
export class CrlPublisher {
  readonly #deps: PkiDeps;
  readonly #validityMs: number;
  #signing = new Map<string, Promise<Uint8Array>>();

  constructor(deps: PkiDeps, validityMs = 7 * 86_400_000) {
    this.#deps = deps;
    this.#validityMs = validityMs;
  }

  /** The current DER CRL of `ca`, or undefined for an unknown CA. */
  async current(ca: string): Promise<Uint8Array | undefined> {
    if (!(await this.#deps.repo.getCa(ca))) return undefined;
    const saved = await this.#deps.repo.getCrl(ca);
    if (saved && (await this.#fresh(ca, saved))) return saved;
    // One signing per CA at a time, so concurrent fetches do not burn CRL numbers.
    let p = this.#signing.get(ca);
    if (!p) {
      p = generateCrl(this.#deps, ca, this.#validityMs)
        .then((g) => new Uint8Array(g.crl.rawData))
        .finally(() => this.#signing.delete(ca));
      this.#signing.set(ca, p);
    }
    return p;
  }

  async #fresh(ca: string, der: Uint8Array): Promise<boolean> {
    const crl = new X509Crl(Buffer.from(der));
    const now = this.#deps.now().getTime();
    const half = (crl.thisUpdate.getTime() + (crl.nextUpdate?.getTime() ?? 0)) / 2;
    if (!crl.nextUpdate || now > half) return false;
    return crl.entries.length === (await this.#deps.repo.listRevocations(ca)).length;
  }
}
