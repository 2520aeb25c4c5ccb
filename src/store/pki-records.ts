import type { Kysely, Selectable } from 'kysely';
import { HsmError } from '../errors/index.js';
import type { Database, PkiCaTable, PkiCertificateTable } from './schema.js';
import { storeQuery } from './store-query.js';

/** A certificate authority as the store keeps it. */
export interface CaRecord {
  name: string;
  /** Issuing CA; absent for a root. */
  parent?: string;
  keyUri: string;
  keyType: string;
  /** Serial of the CA certificate (lowercase hex). */
  serial: string;
  /** DER of the CA certificate. */
  certificate: Uint8Array;
  createdAt: string;
}

/** Revocation state of an issued certificate. */
export type CertificateStatus = 'good' | 'revoked';

/** An issued certificate as the store keeps it. */
export interface CertificateRecord {
  /** Lowercase hex, no leading zero octet. */
  serial: string;
  ca: string;
  profile: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  status: CertificateStatus;
  der: Uint8Array;
  /** URI of the subject key when it lives in an HSM hsmkit manages. */
  keyUri?: string;
  /** Serial of the certificate this one renewed. */
  renewedFrom?: string;
  /** Present when revoked. */
  revocation?: { reason: number; revokedAt: string };
  createdAt: string;
}

/** What {@link CertificateRepository.insert} takes. */
export type NewCertificateRecord = Omit<CertificateRecord, 'status' | 'revocation' | 'createdAt'>;

/** Reads and writes the PKI tables of migration 0002_pki. Database failures are HSM_ERR_STORE. */
export class PkiRepository {
  readonly #db: Kysely<Database>;

  /** Wraps a migrated store database. */
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Records a CA; HSM_ERR_INVALID_INPUT when the name is taken. */
  async insertCa(rec: Omit<CaRecord, 'createdAt'>): Promise<CaRecord> {
    const createdAt = new Date().toISOString();
    const row = await this.#run('insertCa', () =>
      this.#db
        .insertInto('pki_ca')
        .values({
          name: rec.name,
          parent: rec.parent ?? null,
          key_uri: rec.keyUri,
          key_type: rec.keyType,
          serial: rec.serial,
          certificate: b64(rec.certificate),
          created_at: createdAt,
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .returningAll()
        .executeTakeFirst(),
    );
    if (row === undefined) throw new HsmError('HSM_ERR_INVALID_INPUT', `a CA named "${rec.name}" exists`);
    return toCa(row);
  }

  /** The CA called `name`, or undefined. */
  async getCa(name: string): Promise<CaRecord | undefined> {
    const row = await this.#run('getCa', () =>
      this.#db.selectFrom('pki_ca').selectAll().where('name', '=', name).executeTakeFirst(),
    );
    return row === undefined ? undefined : toCa(row);
  }

  /** Every CA, by name. */
  async listCas(): Promise<CaRecord[]> {
    const rows = await this.#run('listCas', () =>
      this.#db.selectFrom('pki_ca').selectAll().orderBy('name').execute(),
    );
    return rows.map(toCa);
  }

  /** Records an issued certificate with status `good`. */
  async insertCertificate(rec: NewCertificateRecord): Promise<CertificateRecord> {
    const row = await this.#run('insertCertificate', () =>
      this.#db
        .insertInto('pki_certificate')
        .values({
          serial: rec.serial,
          ca: rec.ca,
          profile: rec.profile,
          subject: rec.subject,
          not_before: rec.notBefore,
          not_after: rec.notAfter,
          status: 'good',
          der: b64(rec.der),
          key_uri: rec.keyUri ?? null,
          renewed_from: rec.renewedFrom ?? null,
          created_at: new Date().toISOString(),
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toCertificate(row);
  }

  /** The certificate with this serial (any CA), or undefined. */
  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const row = await this.#run('getCertificate', () =>
      this.#db
        .selectFrom('pki_certificate')
        .leftJoin('pki_revocation', 'pki_revocation.serial', 'pki_certificate.serial')
        .selectAll('pki_certificate')
        .select(['pki_revocation.reason', 'pki_revocation.revoked_at'])
        .where('pki_certificate.serial', '=', serial)
        .executeTakeFirst(),
    );
    return row === undefined ? undefined : toCertificate(row);
  }

  /** Every certificate a CA issued (for OCSP pre-signing), by serial. */
  async listCertificates(ca: string): Promise<CertificateRecord[]> {
    const rows = await this.#run('listCertificates', () =>
      this.#db
        .selectFrom('pki_certificate')
        .leftJoin('pki_revocation', 'pki_revocation.serial', 'pki_certificate.serial')
        .selectAll('pki_certificate')
        .select(['pki_revocation.reason', 'pki_revocation.revoked_at'])
        .where('pki_certificate.ca', '=', ca)
        .orderBy('pki_certificate.serial')
        .execute(),
    );
    return rows.map(toCertificate);
  }

  /**
   * Marks a certificate revoked and records the reason, in one transaction.
   * HSM_ERR_KEY_NOT_FOUND for an unknown serial; HSM_ERR_INVALID_INPUT when already revoked.
   */
  async revoke(serial: string, reason: number, revokedAt: Date): Promise<CertificateRecord> {
    await this.#run('revoke', () =>
      this.#db.transaction().execute(async (trx) => {
        const cert = await trx
          .selectFrom('pki_certificate')
          .select(['ca', 'status'])
          .where('serial', '=', serial)
          .executeTakeFirst();
        if (cert === undefined) {
          throw new HsmError('HSM_ERR_KEY_NOT_FOUND', `no certificate with serial ${serial}`);
        }
        if (cert.status === 'revoked') {
          throw new HsmError('HSM_ERR_INVALID_INPUT', `certificate ${serial} is already revoked`);
        }
        // Conditional, so two revokers on PostgreSQL (read committed) cannot both pass the check above.
        const changed = await trx
          .updateTable('pki_certificate')
          .set({ status: 'revoked' })
          .where('serial', '=', serial)
          .where('status', '=', 'good')
          .executeTakeFirst();
        if (Number(changed.numUpdatedRows) !== 1) {
          throw new HsmError('HSM_ERR_INVALID_INPUT', `certificate ${serial} is already revoked`);
        }
        await trx
          .insertInto('pki_revocation')
          .values({ serial, ca: cert.ca, reason, revoked_at: revokedAt.toISOString() })
          .execute();
      }),
    );
    return (await this.getCertificate(serial))!;
  }

  /** Revoked certificates of a CA, for its CRL. */
  async listRevocations(ca: string): Promise<Array<{ serial: string; reason: number; revokedAt: string }>> {
    const rows = await this.#run('listRevocations', () =>
      this.#db.selectFrom('pki_revocation').selectAll().where('ca', '=', ca).orderBy('serial').execute(),
    );
    return rows.map((r) => ({ serial: r.serial, reason: r.reason, revokedAt: r.revoked_at }));
  }

  /** Takes the next CRL number of a CA (1, 2, …); atomic across processes. */
  async nextCrlNumber(ca: string): Promise<number> {
    const now = new Date().toISOString();
    const row = await this.#run('nextCrlNumber', () =>
      this.#db
        .insertInto('pki_crl_number')
        .values({ ca, last_number: 1, updated_at: now })
        .onConflict((oc) =>
          oc.column('ca').doUpdateSet((eb) => ({
            last_number: eb('pki_crl_number.last_number', '+', 1),
            updated_at: now,
          })),
        )
        .returning('last_number')
        .executeTakeFirstOrThrow(),
    );
    return Number(row.last_number);
  }

  /** Keeps the CRL just signed as the CA's published one. */
  async saveCrl(ca: string, der: Uint8Array): Promise<void> {
    await this.#run('saveCrl', () =>
      this.#db
        .updateTable('pki_crl_number')
        .set({ crl: b64(der), updated_at: new Date().toISOString() })
        .where('ca', '=', ca)
        .execute(),
    );
  }

  /** The CA's last saved CRL (DER), or undefined. */
  async getCrl(ca: string): Promise<Uint8Array | undefined> {
    const row = await this.#run('getCrl', () =>
      this.#db.selectFrom('pki_crl_number').select('crl').where('ca', '=', ca).executeTakeFirst(),
    );
    return row?.crl ? unb64(row.crl) : undefined;
  }

  /** The URI of the recorded HSM key whose public key is `spki`, if hsmkit holds one. */
  async findKeyUriBySpki(spki: Uint8Array): Promise<string | undefined> {
    const rows = await this.#run('findKeyUriBySpki', () =>
      this.#db.selectFrom('key_metadata').select('uri').where('public_key_spki', '=', b64(spki)).execute(),
    );
    // Two records with one public key would be a copy of the key: refuse to pick one.
    return rows.length === 1 ? rows[0]!.uri : undefined;
  }

  /** Runs a query; driver errors become HSM_ERR_STORE. */
  #run<T>(op: string, query: () => Promise<T>): Promise<T> {
    return storeQuery(`pki store ${op}`, query);
  }
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function unb64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function toCa(row: Selectable<PkiCaTable>): CaRecord {
  const rec: CaRecord = {
    name: row.name,
    keyUri: row.key_uri,
    keyType: row.key_type,
    serial: row.serial,
    certificate: unb64(row.certificate),
    createdAt: row.created_at,
  };
  if (row.parent !== null) rec.parent = row.parent;
  return rec;
}

type CertificateRow = Selectable<PkiCertificateTable> & {
  reason?: number | null;
  revoked_at?: string | null;
};

function toCertificate(row: CertificateRow): CertificateRecord {
  const rec: CertificateRecord = {
    serial: row.serial,
    ca: row.ca,
    profile: row.profile,
    subject: row.subject,
    notBefore: row.not_before,
    notAfter: row.not_after,
    status: row.status === 'revoked' ? 'revoked' : 'good',
    der: unb64(row.der),
    createdAt: row.created_at,
  };
  if (row.key_uri !== null) rec.keyUri = row.key_uri;
  if (row.renewed_from !== null) rec.renewedFrom = row.renewed_from;
  if (row.reason != null && row.revoked_at != null) {
    rec.revocation = { reason: row.reason, revokedAt: row.revoked_at };
  }
  return rec;
}
