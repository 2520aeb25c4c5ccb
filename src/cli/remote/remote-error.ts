import { isErrorCode } from '../../errors/codes.js';
import { HsmError } from '../../errors/index.js';

/**
 * An RFC 9457 problem document from the service, turned back into the HsmError the service raised:
 * the same `HSM_ERR_*` code, so the CLI prints and exit-codes a remote error as it would a local one.
 * A body that is no problem document (a proxy's HTML page) is an internal error naming the status.
 */
export function errorFromProblem(status: number, contentType: string, text: string): HsmError {
  let doc: { code?: unknown; detail?: unknown; details?: unknown; instance?: unknown } | undefined;
  if (/^application\/(problem\+)?json/.test(contentType)) {
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      doc = undefined;
    }
  }
  if (doc && typeof doc === 'object' && isErrorCode(doc.code)) {
    const details: Record<string, unknown> =
      typeof doc.details === 'object' && doc.details !== null ? { ...(doc.details as object) } : {};
    // The request id ties this error to the service's audit record and log line.
    if (typeof doc.instance === 'string') details.instance = doc.instance;
    return new HsmError(doc.code, typeof doc.detail === 'string' ? doc.detail : doc.code, {
      details,
    });
  }
  return new HsmError('HSM_ERR_INTERNAL', `the service answered HTTP ${status} without a problem document`, {
    details: { status },
  });
}

/** TLS alerts that mean the server refused our client certificate (none sent, unknown CA, expired…). */
const CLIENT_CERT_REFUSED =
  /^ERR_SSL_(TLSV13_ALERT_CERTIFICATE_REQUIRED|SSLV3_ALERT_BAD_CERTIFICATE|TLSV1_ALERT_UNKNOWN_CA|SSLV3_ALERT_CERTIFICATE_(EXPIRED|REVOKED|UNKNOWN|UNSUPPORTED)|TLSV1_ALERT_ACCESS_DENIED|TLSV1_ALERT_DECRYPT_ERROR|SSLV3_ALERT_HANDSHAKE_FAILURE)$/;

/** Certificate-verification codes of the server's certificate (our side refused it). */
const SERVER_CERT_UNTRUSTED =
  /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE)$/;

/**
 * A transport failure (no HTTP answer) as an HsmError. Matched on Node's error codes, never on
 * message text: a refused client certificate is HSM_ERR_UNAUTHENTICATED, an untrusted server
 * certificate HSM_ERR_CONFIG, a timeout HSM_ERR_TIMEOUT, anything else HSM_ERR_UNAVAILABLE.
 * A connection reset right after the TLS handshake, or without a client certificate at all, is
 * the server's refusal too: under TLS 1.3 the server verifies the client certificate after the
 * client's side of the handshake is done and may close the connection instead of an alert.
 */
export function errorFromTransport(err: unknown, server: string, sentCert: boolean): HsmError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const resetAfterHandshake =
    (code === 'ECONNRESET' || code === 'EPIPE') &&
    (err as { afterHandshake?: boolean }).afterHandshake === true;
  if (CLIENT_CERT_REFUSED.test(code) || resetAfterHandshake || (code === 'ECONNRESET' && !sentCert)) {
    return new HsmError(
      'HSM_ERR_UNAUTHENTICATED',
      sentCert
        ? `${server} refused the client certificate at TLS (${code}): is it issued by the service's client CA, and still valid?`
        : `${server} requires a client certificate: pass --client-cert and --client-key (${code})`,
      { details: { tls: code } },
    );
  }
  if (SERVER_CERT_UNTRUSTED.test(code)) {
    return new HsmError(
      'HSM_ERR_CONFIG',
      `the certificate of ${server} is not trusted (${code}); pass --server-ca with the CA that issued it`,
      { details: { tls: code } },
    );
  }
  if (code === 'HSM_TIMEOUT') return new HsmError('HSM_ERR_TIMEOUT', `${server} did not answer in time`);
  return new HsmError('HSM_ERR_UNAVAILABLE', `cannot reach ${server} (${code || 'connection failed'})`, {
    details: { transport: code },
  });
}
