import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ServiceIdentity } from '../config/schema.js';
import { HsmError } from '../errors/index.js';

/** What the service reads from a verified client certificate. */
export interface PeerCertificate {
  /** Subject CN, when present. */
  cn?: string;
  /** SAN URIs (e.g. SPIFFE ids). */
  uris: string[];
  /** SHA-256 fingerprint, for logs. */
  fingerprint256: string;
}

/**
 * The client certificate of a TLS connection, only when the TLS layer verified it against the
 * client CA (`socket.authorized`); undefined for plain connections and `app.inject()`.
 */
export function peerCertificate(socket: Socket): PeerCertificate | undefined {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const cnValue = cert.subject?.CN as string | string[] | undefined;
  const cn = Array.isArray(cnValue) ? cnValue[0] : cnValue;
  const uris = (cert.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
  return { ...(cn === undefined ? {} : { cn }), uris, fingerprint256: cert.fingerprint256 };
}

/**
 * The one configured identity a certificate matches (`cn:` on the subject CN, `uri:` on any SAN
 * URI). No match or several matches is HSM_ERR_UNAUTHENTICATED: a certificate is never mapped to
 * the first of several identities silently.
 */
export function identityOf(cert: PeerCertificate, identities: readonly ServiceIdentity[]): ServiceIdentity {
  const found = identities.filter((i) =>
    i.match.kind === 'cn' ? cert.cn === i.match.value : cert.uris.includes(i.match.value),
  );
  if (found.length === 1) return found[0]!;
  throw new HsmError(
    'HSM_ERR_UNAUTHENTICATED',
    found.length === 0
      ? 'the client certificate maps to no configured identity (service.identities)'
      : `the client certificate matches ${found.length} identities (${found.map((i) => i.name).join(', ')}); it must match exactly one`,
  );
}
