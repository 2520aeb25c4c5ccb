import { X509Certificate } from 'node:crypto';
import { invalidInput } from './pki-errors.js';

/** Longest chain followed (leaf, intermediates, anchor). */
const MAX_DEPTH = 8;

/**
 * Verifies that `leaf` chains to one of `anchors` through `intermediates` (Node's OpenSSL checks
 * names, key identifiers and signatures), every certificate valid at `at` and every issuer a CA.
 * Returns the chain, leaf first; a broken chain is HSM_ERR_INVALID_INPUT.
 */
export function verifyChain(
  leaf: Uint8Array,
  intermediates: Uint8Array[],
  anchors: Uint8Array[],
  at: Date,
): X509Certificate[] {
  if (anchors.length === 0) throw invalidInput('no trust anchor given (--ca)');
  const parse = (d: Uint8Array) => new X509Certificate(Buffer.from(d));
  const roots = anchors.map(parse);
  const pool = intermediates.map(parse);
  const chain = [parse(leaf)];
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const cur = chain[chain.length - 1]!;
    if (new Date(cur.validFrom) > at || new Date(cur.validTo) < at) {
      throw invalidInput(
        `certificate ${cur.subject.replace(/\n/g, ', ')} is not valid at ${at.toISOString()}`,
      );
    }
    const issuedBy = (c: X509Certificate) => c.ca && cur.checkIssued(c) && cur.verify(c.publicKey);
    const anchor = roots.find(issuedBy);
    if (anchor) return [...chain, anchor];
    const next = pool.find((c) => issuedBy(c) && !chain.includes(c));
    if (!next) throw invalidInput('the signer certificate does not chain to the given CA');
    chain.push(next);
  }
  throw invalidInput('the certificate chain is too long');
}
