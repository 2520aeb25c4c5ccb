import { ecdsaRawToDer } from '../crypto/ecdsa-signature.js';
import { verifyChain } from './chain-verify.js';
import { invalidInput } from './pki-errors.js';
import type { PkiKeyManager } from './pki-key-manager.js';
import { verifySignature, type WebSignatureAlgorithm } from './signature-verify.js';
import type { SigningKey } from './signing-key.js';
import { X509Certificate } from './x509.js';

const b64u = (b: Uint8Array | string) => Buffer.from(b).toString('base64url');

/**
 * A compact JWS (RFC 7515) over `payload`, signed in the HSM, with the signer certificate and
 * chain in `x5c` (RFC 7515 §4.1.6, standard base64 DER, signer first). ECDSA signatures are r‖s
 * as RFC 7518 requires; Ed25519 is `EdDSA` (RFC 8037).
 */
export async function signJws(
  km: PkiKeyManager,
  key: SigningKey,
  chain: X509Certificate[],
  payload: Uint8Array,
): Promise<string> {
  const header = {
    alg: key.algorithms.jws,
    x5c: chain.map((c) => Buffer.from(c.rawData).toString('base64')),
  };
  const input = `${b64u(JSON.stringify(header))}.${b64u(payload)}`;
  const sig = await km.sign({
    key: key.uri,
    data: Buffer.from(input),
    algorithm: key.algorithms.sign,
    format: 'raw',
  });
  return `${input}.${b64u(sig)}`;
}

const JWS_ALGS: Record<string, WebSignatureAlgorithm & { size?: number }> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  RS384: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
  RS512: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
  ES256: { name: 'ECDSA', hash: 'SHA-256', size: 32 },
  ES384: { name: 'ECDSA', hash: 'SHA-384', size: 48 },
  ES512: { name: 'ECDSA', hash: 'SHA-512', size: 66 },
  EdDSA: { name: 'Ed25519' },
};

/** What a verified JWS says. */
export interface JwsVerification {
  alg: string;
  signer: string;
  payload: Uint8Array;
}

/** Verifies a compact JWS with `x5c` against trust anchors; failure is HSM_ERR_INVALID_INPUT. */
export function verifyJws(jws: string, anchors: Uint8Array[], at: Date): JwsVerification {
  const parts = jws.trim().split('.');
  if (parts.length !== 3) throw invalidInput('not a compact JWS');
  let header: { alg?: unknown; x5c?: unknown; crit?: unknown };
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
  } catch (err) {
    throw invalidInput('the JWS header is not JSON', err);
  }
  if (header.crit !== undefined) throw invalidInput('JWS "crit" headers are not supported');
  const alg = JWS_ALGS[String(header.alg)];
  if (!alg || !Array.isArray(header.x5c) || header.x5c.length === 0) {
    throw invalidInput('the JWS needs a supported alg and an x5c chain');
  }
  const chain = header.x5c.map((c) => new Uint8Array(Buffer.from(String(c), 'base64')));
  verifyChain(chain[0]!, chain.slice(1), anchors, at);
  const leaf = new X509Certificate(Buffer.from(chain[0]!));
  let sig: Uint8Array = Buffer.from(parts[2]!, 'base64url');
  if (alg.size) {
    if (sig.length !== 2 * alg.size) throw invalidInput('the JWS ECDSA signature has the wrong length');
    sig = ecdsaRawToDer(sig);
  }
  const ok = verifySignature(
    alg,
    new Uint8Array(leaf.publicKey.rawData),
    Buffer.from(`${parts[0]}.${parts[1]}`),
    sig,
  );
  if (!ok) throw invalidInput('the JWS signature does not verify');
  return { alg: String(header.alg), signer: leaf.subject, payload: Buffer.from(parts[1]!, 'base64url') };
}
