import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HsmError } from '../../errors/index.js';
import type { GovernedKeyManager } from '../../governance/governed-key-manager.js';
import { generateCrl } from '../../pki/crl.js';
import { createCsr, parseCsr } from '../../pki/csr.js';
import { issueFromCsr } from '../../pki/issue.js';
import { toPem } from '../../pki/pem.js';
import { asPkiKeyManager } from '../../pki/pki-key-manager.js';
import { renewCertificate } from '../../pki/renew.js';
import { renewWithCsr } from '../../pki/renew-with-csr.js';
import { parseSerial, REVOCATION_REASONS, reasonName, revokeCertificate } from '../../pki/revocation.js';
import { resolveSigningKey } from '../../pki/signing-key.js';
import { X509Certificate } from '../../pki/x509.js';
import type { CertificateRecord } from '../../store/pki-records.js';
import type { AdminDeps } from '../admin-deps.js';
import { DEFAULT_IDEMPOTENCY_TTL_MS, type RecoveredAnswer } from '../idempotency.js';

/** Largest PEM text a body field may carry (a CSR is at most 64 KiB of DER). */
export const MAX_PEM_CHARS = 96 * 1024;
/** Default and largest page of `GET /v1/pki/certificates`. */
const LIST_DEFAULT = 100;
const LIST_MAX = 1000;

const pemString = { type: 'string', minLength: 1, maxLength: MAX_PEM_CHARS } as const;
const caName = {
  type: 'string',
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
} as const;
const serialParams = {
  type: 'object',
  additionalProperties: false,
  required: ['serial'],
  properties: { serial: { type: 'string', minLength: 1, maxLength: 64, pattern: '^(0x)?[0-9A-Fa-f:]+$' } },
} as const;

const CERT_SUMMARY = {
  type: 'object',
  properties: {
    serial: { type: 'string' },
    subject: { type: 'string' },
    not_before: { type: 'string' },
    not_after: { type: 'string' },
    status: { type: 'string', enum: ['good', 'revoked'] },
    ca: { type: 'string' },
    profile: { type: 'string' },
  },
} as const;
const ISSUED = {
  type: 'object',
  properties: { serial: { type: 'string' }, certificate_pem: { type: 'string' } },
} as const;

type SerialReq = { Params: { serial: string } };

/**
 * `/v1/pki/*`: CSRs with HSM keys, issuance, listing, renewal, revocation and CRLs. Each route is
 * RBAC-checked (its `access` operation) and then runs as one governed call of that operation, so
 * the caller's audit record names it; the HSM calls inside (CA signature, serial randomness) are
 * governed and audited as the caller too.
 */
export function registerPkiAdminRoutes(
  app: FastifyInstance,
  km: (req: FastifyRequest) => GovernedKeyManager,
  admin: AdminDeps,
): void {
  const pkiFor = (g: GovernedKeyManager) => admin.pki(asPkiKeyManager(g));

  /**
   * Replay of an issuance the service died in the middle of (same Idempotency-Key): if a
   * certificate of this CA and profile for the CSR's public key was stored since the key was
   * first used, that is the answer; otherwise nothing was issued (a certificate is stored before
   * it is returned) and the request runs again.
   */
  const recoverIssuance = async (req: FastifyRequest): Promise<RecoveredAnswer | undefined> => {
    const b = req.body as { ca: string; csr_pem: string; profile: string };
    const spki = Buffer.from(parseCsr(Buffer.from(b.csr_pem, 'utf8')).spki);
    const since = Date.now() - DEFAULT_IDEMPOTENCY_TTL_MS;
    const found = (await pkiFor(km(req)).repo.listCertificates(b.ca))
      .filter((c) => c.profile === b.profile && Date.parse(c.createdAt) >= since)
      .sort((x, y) => y.createdAt.localeCompare(x.createdAt))
      .find((c) => spki.equals(Buffer.from(new X509Certificate(Buffer.from(c.der)).publicKey.rawData)));
    if (!found) return undefined;
    return { status: 201, body: { serial: found.serial, certificate_pem: toPem(found.der, 'CERTIFICATE') } };
  };

  app.post<{ Body: { key: string; subject: string; san?: string[]; algorithm?: string } }>(
    '/v1/pki/csr',
    {
      schema: {
        summary: 'Create a PKCS#10 request signed in the HSM by one of its keys',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['key', 'subject'],
          properties: {
            key: { type: 'string', minLength: 1, maxLength: 512, description: 'label or PKCS#11 URI' },
            subject: {
              type: 'string',
              minLength: 1,
              maxLength: 1024,
              description: 'e.g. CN=www.example.com',
            },
            san: {
              type: 'array',
              maxItems: 100,
              items: { type: 'string', minLength: 1, maxLength: 512, pattern: '^(dns|ip|email|uri):[^,]+$' },
              description: 'dns:…, ip:…, email:…, uri:…',
            },
            algorithm: {
              type: 'string',
              maxLength: 16,
              description: 'JOSE name (ES256, RS256, EdDSA, …); must be the key’s own, which its type fixes',
            },
          },
        },
      },
      config: {
        access: 'pki.csr',
        responses: {
          200: {
            description: 'The CSR',
            schema: { type: 'object', properties: { csr_pem: { type: 'string' } } },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      const b = req.body;
      return g.governor.run(
        { operation: 'pki.csr', params: { key: b.key, subject: b.subject } },
        async () => {
          const deps = pkiFor(g);
          const key = await resolveSigningKey(deps.km, b.key);
          if (b.algorithm !== undefined && b.algorithm !== key.algorithms.jws) {
            throw new HsmError(
              'HSM_ERR_INVALID_INPUT',
              `key "${key.label}" signs with ${key.algorithms.jws}, not ${b.algorithm.slice(0, 16)}`,
            );
          }
          const csr = await createCsr(key, b.subject, b.san?.join(','), deps.signer);
          return { csr_pem: toPem(new Uint8Array(csr.rawData), 'CERTIFICATE REQUEST') };
        },
      );
    },
  );

  app.post<{ Body: { ca: string; csr_pem: string; profile: string; validity_days?: number } }>(
    '/v1/pki/certificates',
    {
      schema: {
        summary: 'Issue a certificate from a CSR (profile and policy applied, linted, signed in the HSM)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['ca', 'csr_pem', 'profile'],
          properties: {
            ca: caName,
            csr_pem: pemString,
            profile: { type: 'string', minLength: 1, maxLength: 64 },
            validity_days: { type: 'integer', minimum: 1, maximum: 36500 },
          },
        },
      },
      config: {
        access: 'pki.issue',
        idempotency: recoverIssuance,
        responses: { 201: { description: 'Issued', schema: ISSUED } },
      },
    },
    async (req, reply) => {
      const g = km(req);
      const b = req.body;
      const issued = await g.governor.run(
        { operation: 'pki.issue', params: { ca: b.ca, profile: b.profile, validityDays: b.validity_days } },
        () =>
          issueFromCsr(pkiFor(g), {
            ca: b.ca,
            csr: Buffer.from(b.csr_pem, 'utf8'),
            profile: b.profile,
            ...(b.validity_days === undefined ? {} : { validityMs: b.validity_days * 86_400_000 }),
          }),
      );
      return reply
        .code(201)
        .header('location', `/v1/pki/certificates/${issued.record.serial}`)
        .send({ serial: issued.record.serial, certificate_pem: toPem(issued.record.der, 'CERTIFICATE') });
    },
  );

  app.get<{ Querystring: { ca?: string; status?: 'good' | 'revoked'; limit?: string } }>(
    '/v1/pki/certificates',
    {
      schema: {
        summary: 'List issued certificates (newest first), optionally of one CA or status',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ca: caName,
            status: { type: 'string', enum: ['good', 'revoked'] },
            limit: {
              type: 'string',
              pattern: '^[1-9][0-9]{0,3}$',
              description: `1–${LIST_MAX}, default ${LIST_DEFAULT}`,
            },
          },
        },
      },
      config: {
        access: 'pki.read',
        responses: {
          200: {
            description: 'Certificates',
            schema: { type: 'object', properties: { items: { type: 'array', items: CERT_SUMMARY } } },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      const q = req.query;
      const limit = q.limit === undefined ? LIST_DEFAULT : Number(q.limit);
      if (limit > LIST_MAX) throw new HsmError('HSM_ERR_INVALID_INPUT', `limit is at most ${LIST_MAX}`);
      return g.governor.run({ operation: 'pki.read', params: { ...q } }, async () => {
        const deps = pkiFor(g);
        const cas = q.ca !== undefined ? [q.ca] : (await deps.repo.listCas()).map((c) => c.name);
        if (q.ca !== undefined && !(await deps.repo.getCa(q.ca)))
          throw new HsmError('HSM_ERR_NOT_FOUND', `no CA named "${q.ca}"`);
        const all: CertificateRecord[] = [];
        for (const ca of cas) all.push(...(await deps.repo.listCertificates(ca)));
        const items = all
          .filter((c) => q.status === undefined || c.status === q.status)
          .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
          .slice(0, limit)
          .map(summary);
        return { items };
      });
    },
  );

  app.get<SerialReq>(
    '/v1/pki/certificates/:serial',
    {
      schema: { summary: 'One certificate: its record, status and PEM', params: serialParams },
      config: {
        access: 'pki.read',
        responses: {
          200: {
            description: 'The certificate',
            schema: {
              type: 'object',
              properties: {
                ...CERT_SUMMARY.properties,
                certificate_pem: { type: 'string' },
                key_uri: { type: 'string' },
                renewed_from: { type: 'string' },
                revocation: { type: 'object' },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      const serial = parseSerial(req.params.serial);
      return g.governor.run({ operation: 'pki.read', params: { serial } }, async () => {
        const rec = await pkiFor(g).repo.getCertificate(serial);
        if (!rec) throw new HsmError('HSM_ERR_NOT_FOUND', `no certificate with serial ${serial}`);
        return {
          ...summary(rec),
          certificate_pem: toPem(rec.der, 'CERTIFICATE'),
          ...(rec.keyUri === undefined ? {} : { key_uri: rec.keyUri }),
          ...(rec.renewedFrom === undefined ? {} : { renewed_from: rec.renewedFrom }),
          ...(rec.revocation === undefined
            ? {}
            : {
                revocation: {
                  reason: reasonName(rec.revocation.reason),
                  revoked_at: rec.revocation.revokedAt,
                },
              }),
        };
      });
    },
  );

  app.post<SerialReq & { Body: { csr_pem?: string; rekey?: boolean } }>(
    '/v1/pki/certificates/:serial/renew',
    {
      schema: {
        summary:
          'Renew: same CA, profile, subject and names; for the CSR’s key, a new HSM key (rekey), or the same key',
        params: serialParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { csr_pem: pemString, rekey: { type: 'boolean' } },
        },
      },
      config: {
        access: 'pki.renew',
        responses: { 201: { description: 'The renewed certificate', schema: ISSUED } },
      },
    },
    async (req, reply) => {
      const g = km(req);
      const b = req.body ?? {};
      if (b.csr_pem !== undefined && b.rekey === true)
        throw new HsmError('HSM_ERR_INVALID_INPUT', 'give csr_pem or rekey, not both');
      const serial = parseSerial(req.params.serial);
      const mode = b.csr_pem !== undefined ? 'csr' : b.rekey ? 'rekey' : 'reuse-key';
      const r = await g.governor.run({ operation: 'pki.renew', params: { serial, mode } }, () =>
        b.csr_pem !== undefined
          ? renewWithCsr(pkiFor(g), serial, Buffer.from(b.csr_pem, 'utf8'))
          : renewCertificate(pkiFor(g), serial, b.rekey ? 'rekey' : 'reuse-key'),
      );
      return reply
        .code(201)
        .header('location', `/v1/pki/certificates/${r.record.serial}`)
        .send({
          serial: r.record.serial,
          certificate_pem: toPem(r.record.der, 'CERTIFICATE'),
          renewed_from: r.renewedFrom,
          ...(r.newKeyUri === undefined ? {} : { new_key_uri: r.newKeyUri }),
        });
    },
  );

  app.post<SerialReq & { Body: { reason: string } }>(
    '/v1/pki/certificates/:serial/revoke',
    {
      schema: {
        summary: 'Revoke a certificate; CRLs and OCSP report it from now on',
        params: serialParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['reason'],
          properties: { reason: { type: 'string', enum: Object.keys(REVOCATION_REASONS) } },
        },
      },
      config: {
        access: 'pki.revoke',
        responses: {
          200: {
            description: 'Revoked',
            schema: {
              type: 'object',
              properties: {
                serial: { type: 'string' },
                status: { type: 'string', enum: ['revoked'] },
                revoked_at: { type: 'string' },
                reason: { type: 'string' },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      const serial = parseSerial(req.params.serial);
      const rec = await g.governor.run(
        { operation: 'pki.revoke', params: { serial, reason: req.body.reason } },
        async () => {
          const deps = pkiFor(g);
          const found = await deps.repo.getCertificate(serial);
          if (!found) throw new HsmError('HSM_ERR_NOT_FOUND', `no certificate with serial ${serial}`);
          if (found.status === 'revoked')
            throw new HsmError('HSM_ERR_INVALID_INPUT', `certificate ${serial} is already revoked`);
          return revokeCertificate(deps, serial, req.body.reason);
        },
      );
      return {
        serial: rec.serial,
        status: 'revoked',
        revoked_at: rec.revocation?.revokedAt,
        reason: reasonName(rec.revocation?.reason ?? 0),
      };
    },
  );

  app.post<{ Body: { ca: string; next_update_days?: number } }>(
    '/v1/pki/crls',
    {
      schema: {
        summary: 'Sign a new CRL of a CA in the HSM; it becomes the one published at /crl/{ca}.crl',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['ca'],
          properties: { ca: caName, next_update_days: { type: 'integer', minimum: 1, maximum: 366 } },
        },
      },
      config: {
        access: 'pki.crl',
        responses: {
          201: {
            description: 'The CRL',
            schema: {
              type: 'object',
              properties: {
                crl_number: { type: 'integer' },
                crl_pem: { type: 'string' },
                entries: { type: 'integer' },
              },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const g = km(req);
      const b = req.body;
      const days = b.next_update_days;
      const r = await g.governor.run({ operation: 'pki.crl', params: { ...b } }, () =>
        days === undefined ? generateCrl(pkiFor(g), b.ca) : generateCrl(pkiFor(g), b.ca, days * 86_400_000),
      );
      return reply.code(201).send(crlView(r));
    },
  );
}

/** The JSON view of a generated CRL (shared with the `pki.crl` job). */
export function crlView(r: Awaited<ReturnType<typeof generateCrl>>): Record<string, unknown> {
  return {
    crl_number: r.number,
    crl_pem: toPem(new Uint8Array(r.crl.rawData), 'X509 CRL'),
    entries: r.crl.entries.length,
  };
}

/** The list view of a certificate record. */
export function summary(r: CertificateRecord): Record<string, unknown> {
  return {
    serial: r.serial,
    subject: r.subject,
    not_before: r.notBefore,
    not_after: r.notAfter,
    status: r.status,
    ca: r.ca,
    profile: r.profile,
  };
}
