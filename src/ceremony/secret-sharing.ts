import { createHash, timingSafeEqual } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { canonicalJson } from '../audit/canonical-json.js';
import { HsmError } from '../errors/index.js';
import { keyFingerprint, publicKeyOf } from './approval.js';
import { type ShareDecrypter, type ShareEnvelope, sealShare } from './share-envelope.js';

/** A recipient of one share: a custodian and the public key the share is encrypted to. */
export interface ShareRecipient {
  custodian: string;
  publicKeyPem: string;
}

/** One encrypted share in a bundle. */
export interface BundleShare {
  custodian: string;
  /** SHA-256 hex of the recipient's SPKI. */
  fingerprint: string;
  /** Share number (1..N), part of the envelope's AAD. */
  index: number;
  /** SHA-256 hex of the plaintext share: checked when it is decrypted again. */
  shareSha256: string;
  envelope: ShareEnvelope;
}

/** The output of a split: N shares, each encrypted to one custodian, and the check values. */
export interface ShareBundle {
  type: 'hsmkit.ceremony.shares';
  v: 1;
  ceremonyId: string;
  /** Name of the secret (e.g. `backup-kek`). */
  name: string;
  threshold: number;
  total: number;
  /** SHA-256 hex of ("hsmkit share check v1" ‖ secret); secrets are random, so this reveals nothing useful. */
  secretCheck: string;
  shares: BundleShare[];
}

/** Largest N hsmkit splits into; the acceptance tests cover every M ≤ N up to it. */
export const MAX_SHARES = 10;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const secretCheck = (s: Uint8Array) => sha256(Buffer.concat([Buffer.from('hsmkit share check v1'), s]));

/** The AAD of a share envelope: ceremony, secret, index and recipient. */
export function shareAad(
  b: Pick<ShareBundle, 'ceremonyId' | 'name'>,
  index: number,
  fingerprint: string,
): Buffer {
  return Buffer.from(canonicalJson({ ceremonyId: b.ceremonyId, name: b.name, index, fingerprint }));
}

/** Every k-subset of [0, n) (n ≤ 10 gives at most 252). */
function subsets(n: number, k: number): number[][] {
  const out: number[][] = [];
  const pick = (start: number, acc: number[]) => {
    if (acc.length === k) return void out.push([...acc]);
    for (let i = start; i < n; i++) pick(i + 1, [...acc, i]);
  };
  pick(0, []);
  return out;
}

/**
 * Splits `secret` into one share per recipient, any `threshold` of which reconstruct it (Shamir
 * over GF(256), the audited `shamir-secret-sharing`). Before anything is encrypted, every
 * threshold-subset is recombined and compared with the secret: a bad split never leaves here.
 * Plaintext shares are zeroed once encrypted. The caller still owns (and zeroes) `secret`.
 */
export async function splitSecret(
  secret: Uint8Array,
  threshold: number,
  recipients: ShareRecipient[],
  where: { ceremonyId: string; name: string },
): Promise<ShareBundle> {
  const n = recipients.length;
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > n || n > MAX_SHARES) {
    throw new HsmError(
      'HSM_ERR_INVALID_INPUT',
      `a split needs 2 ≤ M ≤ N ≤ ${MAX_SHARES} (got ${threshold} of ${n})`,
    );
  }
  if (secret.length === 0) throw new HsmError('HSM_ERR_INVALID_INPUT', 'the secret is empty');
  // The library wants exactly Uint8Array (not a Buffer): a copy, wiped with the shares.
  const plain = new Uint8Array(secret);
  let shares: Uint8Array[] = [];
  try {
    shares = await split(plain, n, threshold);
    for (const set of subsets(n, threshold)) {
      const back = await combine(set.map((i) => shares[i]!));
      const same = back.length === secret.length && timingSafeEqual(back, secret);
      back.fill(0);
      if (!same)
        throw new HsmError('HSM_ERR_SHARE_INVALID', 'a share subset does not reconstruct the secret');
    }
    const bundle: ShareBundle = {
      type: 'hsmkit.ceremony.shares',
      v: 1,
      ceremonyId: where.ceremonyId,
      name: where.name,
      threshold,
      total: n,
      secretCheck: secretCheck(secret),
      shares: [],
    };
    recipients.forEach((r, i) => {
      const key = publicKeyOf(r.publicKeyPem);
      const fingerprint = keyFingerprint(key.export({ type: 'spki', format: 'der' }));
      const index = i + 1;
      bundle.shares.push({
        custodian: r.custodian,
        fingerprint,
        index,
        shareSha256: sha256(shares[i]!),
        envelope: sealShare(key, shares[i]!, shareAad(bundle, index, fingerprint)),
      });
    });
    return bundle;
  } finally {
    plain.fill(0);
    for (const s of shares) s.fill(0);
  }
}

/**
 * Reconstructs a bundle's secret in memory from the custodians' decrypters, hands it to `use`,
 * and zeroes every share and the secret afterwards (also on failure). Each decrypted share is
 * checked against its hash, and the result against the bundle's check value.
 */
export async function withReconstructedSecret<T>(
  bundle: ShareBundle,
  decrypters: ShareDecrypter[],
  use: (secret: Uint8Array) => Promise<T>,
  /** Receives each buffer this call wiped; tests use it to check the zeroing. */
  onWiped?: (buffer: Uint8Array) => void,
): Promise<T> {
  const plain: Uint8Array[] = [];
  let secret: Uint8Array | undefined;
  try {
    for (const d of decrypters) {
      const entry = bundle.shares.find((s) => s.fingerprint === d.fingerprint);
      if (!entry)
        throw new HsmError('HSM_ERR_SHARE_INVALID', 'no share in the bundle is encrypted to this key');
      const opened = await d.decrypt(entry.envelope, shareAad(bundle, entry.index, entry.fingerprint));
      // The library wants exactly Uint8Array: copy, and wipe the decrypter's buffer at once.
      const share = new Uint8Array(opened);
      opened.fill(0);
      plain.push(share);
      if (sha256(share) !== entry.shareSha256) {
        throw new HsmError(
          'HSM_ERR_SHARE_INVALID',
          `the share of ${entry.custodian} does not match its hash`,
        );
      }
    }
    if (plain.length < bundle.threshold) {
      throw new HsmError(
        'HSM_ERR_SHARE_INVALID',
        `${plain.length} shares given; ${bundle.threshold} are needed`,
      );
    }
    secret = await combine(plain);
    if (secretCheck(secret) !== bundle.secretCheck) {
      throw new HsmError('HSM_ERR_SHARE_INVALID', 'the reconstructed secret does not match the check value');
    }
    return await use(secret);
  } finally {
    for (const b of [...plain, ...(secret ? [secret] : [])]) {
      b.fill(0);
      onWiped?.(b);
    }
  }
}
