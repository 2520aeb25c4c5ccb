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

/** What each connection's verified certificate maps to, read once per connection. */
const perConnection = new WeakMap<TLSSocket, PeerCertificate | undefined>();

/**
 * Refuses TLS renegotiation on a service connection (a client-initiated renegotiation is a DoS
 * vector, and with TLS 1.2 it could present another certificate mid-connection), so the peer
 * certificate read at the first request stays the connection's certificate.
 */
export function pinPeerCertificate(socket: TLSSocket): void {
  socket.disableRenegotiation();
}

/**
 * The client certificate of a TLS connection, only when the TLS layer verified it against the
 * client CA (`socket.authorized`); undefined for plain connections and `app.inject()`. Parsed once
 * per connection (getPeerCertificate builds the whole certificate object each time).
 */
export function peerCertificate(socket: Socket): PeerCertificate | undefined {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  if (perConnection.has(socket)) return perConnection.get(socket);
  const cert = readPeerCertificate(socket);
  perConnection.set(socket, cert);
  return cert;
}

function readPeerCertificate(socket: TLSSocket): PeerCertificate | undefined {
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
