import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { toHsmError } from '../../errors/index.js';
import type { SignRequest } from '../../kms/requests.js';
import type { CertificateRecord } from '../../store/pki-records.js';
import { type Issuer, issuerOf } from '../issuer.js';
import type { PkiDeps } from '../pki-deps.js';
import { signAll } from '../pki-key-manager.js';
import { resolveSigningKey, type SigningKey } from '../signing-key.js';
import { X509Certificate } from '../x509.js';
import { issuerHashes, responderKeyHash } from './issuer-hashes.js';
import { type OcspCertId, parseOcspRequest } from './ocsp-request.js';
import {
  errorResponse,
  OCSP_STATUS,
  responseDataDer,
  type SingleAnswer,
  type SingleStatus,
  successfulResponse,
} from './ocsp-response.js';

/** Options of the responder. */
export interface OcspResponderOptions {
  /** How often pre-signed responses are re-signed (and CAs and delegates reloaded); default 5 min. */
  refreshMs?: number;
  /** nextUpdate − thisUpdate of each response; default 1 h. */
  validityMs?: number;
}

/** Who signs a CA's responses: a delegated OCSP-signing certificate, or the CA itself. */
interface CaResponder {
  issuer: Issuer;
  signer: SigningKey;
  /** Certificates sent with each response (the delegate and its issuer). */
  certs: Uint8Array[];
  keyHash: Uint8Array;
  delegate?: X509Certificate;
}

/** Least time between two reloads of the CAs for a request whose issuer is unknown. */
const CA_RELOAD_MS = 10_000;

interface Cached {
  der: Uint8Array;
  status: string;
  expires: number;
}

/**
 * RFC 6960 OCSP responder over the store, signing in the HSM. A CA's responses are signed by its
 * newest valid delegated OCSP-signing certificate whose key hsmkit holds (id-pkix-ocsp-nocheck),
 * else by the CA key. Responses to single-certificate requests without a nonce come from a cache of
 * pre-signed responses, re-signed in one HSM batch every `refreshMs`; a cached response whose
 * certificate status changed since is signed afresh, so revocation shows at once. Requests with a
 * nonce get a fresh response that echoes it. Malformed requests get malformedRequest.
 */
export class OcspResponder {
  readonly #deps: PkiDeps;
  readonly #refreshMs: number;
  readonly #validityMs: number;
  #cas: CaResponder[] = [];
  readonly #cache = new Map<string, Cached>();
  #timer: NodeJS.Timeout | undefined;
  /** Number of HSM signatures made by the last refresh (for tests and metrics). */
  lastRefreshSigned = 0;

  constructor(deps: PkiDeps, opts: OcspResponderOptions = {}) {
    this.#deps = deps;
    this.#refreshMs = opts.refreshMs ?? 300_000;
    this.#validityMs = opts.validityMs ?? 3_600_000;
  }

  /**
   * Loads the CAs (so requests are answered at once, signed on demand), then pre-signs every
   * response in the background and re-signs every `refreshMs` until stop(). A pre-signing that
   * fails (an HSM member restarting, thousands of certificates) never holds up or fails the start:
   * it is retried at the next refresh. `presigned` settles when the first pre-signing is done.
   */
  async start(): Promise<void> {
    await this.#loadCas(this.#deps.now());
    const refresh = () =>
      this.refresh().catch((err) => process.emitWarning(`OCSP refresh failed: ${toHsmError(err).code}`));
    this.presigned = refresh();
    this.#timer = setInterval(refresh, this.#refreshMs);
    this.#timer.unref();
  }

  /** Settles when the pre-signing started by start() is done (or failed; see the warning). */
  presigned: Promise<void> = Promise.resolve();

  /** Stops the refresh timer. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Reloads CAs and delegates, then pre-signs a response for every certificate, in one batch. */
  async refresh(): Promise<void> {
    const now = this.#deps.now();
    const cas = await this.#loadCas(now);
    const jobs: Array<{ key: string; status: string; tbs: Uint8Array; r: CaResponder }> = [];
    for (const r of cas) {
      for (const rec of await this.#deps.repo.listCertificates(r.issuer.name)) {
        const id = certIdFor(r, rec);
        const st = statusOf(rec);
        jobs.push({
          key: cacheKey(r, rec.serial),
          status: key(st),
          tbs: this.#tbs(r, [{ certId: id, status: st }], now),
          r,
        });
      }
    }
    const sigs = await signAll(
      this.#deps.km,
      jobs.map((j) => this.#signReq(j.r, j.tbs)),
    );
    this.#cache.clear();
    const expires = now.getTime() + this.#refreshMs;
    for (const [i, j] of jobs.entries()) {
      this.#cache.set(j.key, {
        der: successfulResponse(j.tbs, j.r.signer.algorithms, sigs[i]!, j.r.certs),
        status: j.status,
        expires,
      });
    }
    this.lastRefreshSigned = jobs.length;
  }

  /** Loads the CAs and their delegated signers from the store. */
  async #loadCas(now: Date): Promise<CaResponder[]> {
    const cas: CaResponder[] = [];
    for (const ca of await this.#deps.repo.listCas()) {
      try {
        cas.push(await this.#responderFor(await issuerOf(this.#deps.km, ca, now), now));
      } catch {
        // An expired or broken CA answers nothing; the others still do.
      }
    }
    this.#cas = cas;
    this.#loadedAt = Date.now();
    return cas;
  }

  #loadedAt = 0;

  /** Answers one DER OCSPRequest with a DER OCSPResponse; never throws. */
  async respond(der: Uint8Array): Promise<Uint8Array> {
    let req: ReturnType<typeof parseOcspRequest>;
    try {
      req = parseOcspRequest(der);
    } catch {
      return errorResponse(OCSP_STATUS.malformedRequest);
    }
    try {
      let matched = req.ids.map((id) => ({ id, r: this.#match(id) }));
      if (!matched.some((m) => m.r) && Date.now() - this.#loadedAt > CA_RELOAD_MS) {
        // A CA created since the last load (by the CLI or another instance): look again, at most
        // every CA_RELOAD_MS, so unknown issuers cannot make every request reload.
        await this.#loadCas(this.#deps.now());
        matched = req.ids.map((id) => ({ id, r: this.#match(id) }));
      }
      const r = matched.find((m) => m.r)?.r;
      if (!r) return errorResponse(OCSP_STATUS.unauthorized);
      const now = this.#deps.now();
      const answers: Array<{ certId: OcspCertId['certId']; status: SingleStatus }> = [];
      for (const m of matched) {
        // A CertID of another CA in the same request is answered unknown by this responder.
        const rec = m.r === r ? await this.#deps.repo.getCertificate(m.id.serial) : undefined;
        answers.push({
          certId: m.id.certId,
          status: rec && rec.ca === r.issuer.name ? statusOf(rec) : { status: 'unknown' },
        });
      }
      // Pre-signed responses carry SHA-1 CertIDs, so only a SHA-1 request can be answered from them.
      if (!req.nonce && answers.length === 1 && req.ids[0]!.hash === 'sha1') {
        const hit = this.#cache.get(cacheKey(r, req.ids[0]!.serial));
        if (hit && hit.status === key(answers[0]!.status) && hit.expires > now.getTime()) return hit.der;
      }
      const tbs = this.#tbs(r, answers, now, req.nonce);
      const [sig] = await signAll(this.#deps.km, [this.#signReq(r, tbs)]);
      return successfulResponse(tbs, r.signer.algorithms, sig!, r.certs);
    } catch (err) {
      // RFC 6960 tryLater: a retryable failure (the signing key's HSM member is down or busy).
      return errorResponse(toHsmError(err).retryable ? OCSP_STATUS.tryLater : OCSP_STATUS.internalError);
    }
  }

  #tbs(
    r: CaResponder,
    answers: Array<Omit<SingleAnswer, 'thisUpdate' | 'nextUpdate'>>,
    now: Date,
    nonce?: OcspRequestNonce,
  ): Uint8Array {
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.#validityMs);
    return responseDataDer(
      r.keyHash,
      thisUpdate,
      answers.map((a) => ({ ...a, thisUpdate, nextUpdate })),
      nonce,
    );
  }

  #signReq(r: CaResponder, tbs: Uint8Array): SignRequest {
    // X.509-style signatures: ECDSA as DER (the key manager's default).
    return { key: r.signer.uri, data: tbs, algorithm: r.signer.algorithms.sign };
  }

  #match(id: OcspCertId): CaResponder | undefined {
    return this.#cas.find((r) => {
      const h = issuerHashes(
        id.hash,
        new Uint8Array(r.issuer.certificate.subjectName.toArrayBuffer()),
        r.issuer.key.spki,
      );
      return h.name.equals(id.issuerNameHash) && h.key.equals(id.issuerKeyHash);
    });
  }

  async #responderFor(issuer: Issuer, now: Date): Promise<CaResponder> {
    const delegates = (await this.#deps.repo.listCertificates(issuer.name))
      .filter((c) => c.profile === 'ocsp-signing' && c.status === 'good' && c.keyUri)
      .filter((c) => new Date(c.notBefore) <= now && new Date(c.notAfter) > now)
      .sort((a, b) => b.notBefore.localeCompare(a.notBefore));
    for (const d of delegates) {
      try {
        const signer = await resolveSigningKey(this.#deps.km, d.keyUri!);
        const delegate = new X509Certificate(Buffer.from(d.der));
        return {
          issuer,
          signer,
          delegate,
          certs: [d.der, new Uint8Array(issuer.certificate.rawData)],
          keyHash: responderKeyHash(signer.spki),
        };
      } catch {
        // The delegate's key is gone or archived: try the next one, or sign as the CA.
      }
    }
    return { issuer, signer: issuer.key, certs: [], keyHash: responderKeyHash(issuer.key.spki) };
  }
}

type OcspRequestNonce = NonNullable<ReturnType<typeof parseOcspRequest>['nonce']>;

function statusOf(rec: CertificateRecord): SingleStatus {
  if (rec.status === 'revoked' && rec.revocation) {
    return {
      status: 'revoked',
      revokedAt: new Date(rec.revocation.revokedAt),
      reason: rec.revocation.reason,
    };
  }
  return { status: 'good' };
}

function key(s: SingleStatus): string {
  return s.status === 'revoked' ? `revoked:${s.revokedAt.toISOString()}:${s.reason}` : s.status;
}

function cacheKey(r: CaResponder, serial: string): string {
  return `${r.issuer.name}/${serial}`;
}

/** The CertID (SHA-1, as OpenSSL and RFC 5019 clients send) of a stored certificate. */
function certIdFor(r: CaResponder, rec: CertificateRecord): OcspCertId['certId'] {
  const h = issuerHashes(
    'sha1',
    new Uint8Array(r.issuer.certificate.subjectName.toArrayBuffer()),
    r.issuer.key.spki,
  );
  return new pkijs.CertID({
    hashAlgorithm: new pkijs.AlgorithmIdentifier({
      algorithmId: '1.3.14.3.2.26',
      algorithmParams: new asn1js.Null(),
    }),
    issuerNameHash: new asn1js.OctetString({ valueHex: h.name }),
    issuerKeyHash: new asn1js.OctetString({ valueHex: h.key }),
    serialNumber: new asn1js.Integer({ valueHex: serialBytes(rec.serial) }),
  });
}

function serialBytes(hex: string): Uint8Array {
  const b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return (b[0] ?? 0) & 0x80 ? new Uint8Array([0, ...b]) : new Uint8Array(b);
}
