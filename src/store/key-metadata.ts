import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import { HsmError } from '../errors/index.js';
import type { Database, KeyMetadataTable } from './schema.js';
import { storeQuery } from './store-query.js';

/** Lifecycle state of a key's metadata record. */
export type KeyStatus = 'active' | 'archived';

/** Metadata hsmkit keeps about one HSM-resident key. */
export interface KeyRecord {
  /** Canonical RFC 7512 key URI (primary key). */
  uri: string;
  /** hsmkit member name the key was created on. */
  member: string;
  /** Token label. */
  token: string;
  /** CKA_LABEL. */
  label: string;
  /** CKA_ID, lowercase hex. */
  idHex: string;
  /** e.g. 'rsa-4096', 'ec-p384', 'ed25519'. */
  keyType: string;
  status: KeyStatus;
  purpose?: string;
  /** ISO-8601 UTC. */
  expiresAt?: string;
  ceremonyId?: string;
  owner?: string;
  tags: Record<string, string>;
  /** Cached DER SubjectPublicKeyInfo. */
  publicKeySpki?: Uint8Array;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** ISO-8601 UTC. */
  updatedAt: string;
}

/**
 * The metadata a KeyInfo carries, from a stored record: tags, status, creation time and the
 * optional fields that are set (shared by every key manager that keeps metadata).
 */
export function recordMetadata(record: KeyRecord): {
  tags: Record<string, string>;
  status: KeyStatus;
  createdAt: string;
  purpose?: string;
  expiresAt?: string;
  ceremonyId?: string;
  owner?: string;
} {
  const out: ReturnType<typeof recordMetadata> = {
    tags: record.tags,
    status: record.status,
    createdAt: record.createdAt,
  };
  if (record.purpose !== undefined) out.purpose = record.purpose;
  if (record.expiresAt !== undefined) out.expiresAt = record.expiresAt;
  if (record.ceremonyId !== undefined) out.ceremonyId = record.ceremonyId;
  if (record.owner !== undefined) out.owner = record.owner;
  return out;
}

/** What {@link KeyMetadataRepository.insert} takes: a record without timestamps, createdAt optional. */
export type NewKeyRecord = Omit<KeyRecord, 'createdAt' | 'updatedAt'> & { createdAt?: string };

type ClearableField = 'purpose' | 'expiresAt' | 'ceremonyId' | 'owner' | 'publicKeySpki';

/**
 * What {@link KeyMetadataRepository.update} takes. A field that is absent or `undefined` is left
 * unchanged; `null` clears an optional field; `tags` replaces the whole tag set.
 */
export type KeyPatch = Partial<Pick<KeyRecord, 'status' | 'tags'>> & {
  [K in ClearableField]?: KeyRecord[K] | null;
};

/** Filter of {@link KeyMetadataRepository.list}; all given fields must match. */
export interface KeyListFilter {
  token?: string;
  status?: KeyStatus;
  member?: string;
}

const KEY_STATUSES: readonly KeyStatus[] = ['active', 'archived'];
const PATCH_FIELDS = new Set<string>([
  'status',
  'purpose',
  'expiresAt',
  'ceremonyId',
  'owner',
  'tags',
  'publicKeySpki',
]);
const FILTER_FIELDS = new Set<string>(['token', 'status', 'member']);
const TAG_KEY = /^[A-Za-z0-9_.:-]+$/;
const TAG_KEY_MAX = 64;
const TAG_VALUE_MAX = 1024;
const ID_HEX = /^(?:[0-9a-f]{2})*$/;
// Date-only, or date-time with an explicit zone: a zone-less time would be read in the host's
// local zone, and the same input must mean the same instant on every member.
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;

type Row = Selectable<KeyMetadataTable>;

/** Reads and writes key metadata. Every database failure surfaces as HsmError HSM_ERR_STORE. */
export class KeyMetadataRepository {
  readonly #db: Kysely<Database>;

  /** Wraps a migrated store database. */
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Adds a record; HSM_ERR_KEY_EXISTS when the URI is already known. */
  async insert(rec: NewKeyRecord): Promise<KeyRecord> {
    if (!isObject(rec)) throw invalid('key record must be an object');
    const uri = checkUri(rec.uri);
    const createdAt = rec.createdAt === undefined ? now() : normaliseTimestamp(rec.createdAt, 'createdAt');
    const row: Insertable<KeyMetadataTable> = {
      uri,
      member: checkName(rec.member, 'member'),
      token: checkName(rec.token, 'token'),
      label: checkString(rec.label, 'label'),
      id_hex: checkIdHex(rec.idHex),
      key_type: checkName(rec.keyType, 'keyType'),
      status: checkStatus(rec.status),
      purpose: optionalString(rec.purpose, 'purpose'),
      expires_at: rec.expiresAt == null ? null : normaliseTimestamp(rec.expiresAt, 'expiresAt'),
      ceremony_id: optionalString(rec.ceremonyId, 'ceremonyId'),
      owner: optionalString(rec.owner, 'owner'),
      tags: encodeTags(rec.tags),
      public_key_spki: rec.publicKeySpki == null ? null : encodeSpki(rec.publicKeySpki),
      created_at: createdAt,
      updated_at: createdAt,
    };
    const inserted = await this.#run('insert', () =>
      this.#db
        .insertInto('key_metadata')
        .values(row)
        // ON CONFLICT DO NOTHING + RETURNING detects the duplicate the same way on SQLite and
        // PostgreSQL, without matching driver-specific constraint error codes.
        .onConflict((oc) => oc.column('uri').doNothing())
        .returningAll()
        .executeTakeFirst(),
    );
    if (inserted === undefined) {
      throw new HsmError('HSM_ERR_KEY_EXISTS', `a key with URI ${uri} is already recorded`, {
        details: { uri },
      });
    }
    return toRecord(inserted);
  }

  /** The record for `uri`, or undefined. */
  async get(uri: string): Promise<KeyRecord | undefined> {
    const checked = checkUri(uri);
    const row = await this.#run('get', () =>
      this.#db.selectFrom('key_metadata').selectAll().where('uri', '=', checked).executeTakeFirst(),
    );
    return row === undefined ? undefined : toRecord(row);
  }

  /** Every record with this token and CKA_LABEL (labels are not unique on a token). */
  async findByLabel(token: string, label: string): Promise<KeyRecord[]> {
    const t = checkName(token, 'token');
    const l = checkString(label, 'label');
    const rows = await this.#run('findByLabel', () =>
      this.#db
        .selectFrom('key_metadata')
        .selectAll()
        .where('token', '=', t)
        .where('label', '=', l)
        .orderBy('created_at')
        .orderBy('label')
        .orderBy('uri')
        .execute(),
    );
    return rows.map(toRecord);
  }

  /** Records matching the filter, ordered by createdAt, then label. */
  async list(filter: KeyListFilter = {}): Promise<KeyRecord[]> {
    if (!isObject(filter)) throw invalid('list filter must be an object');
    // A misspelt filter field silently ignored would list every key.
    for (const field of Object.keys(filter)) {
      if (!FILTER_FIELDS.has(field)) throw invalid(`unknown list filter field ${field}`);
    }
    const token = filter.token === undefined ? undefined : checkName(filter.token, 'token');
    const member = filter.member === undefined ? undefined : checkName(filter.member, 'member');
    const status = filter.status === undefined ? undefined : checkStatus(filter.status);
    const rows = await this.#run('list', () => {
      let q = this.#db.selectFrom('key_metadata').selectAll();
      if (token !== undefined) q = q.where('token', '=', token);
      if (member !== undefined) q = q.where('member', '=', member);
      if (status !== undefined) q = q.where('status', '=', status);
      // uri last so equal timestamps and labels still come back in a stable order.
      return q.orderBy('created_at').orderBy('label').orderBy('uri').execute();
    });
    return rows.map(toRecord);
  }

  /**
   * Changes the mutable fields of a record and bumps updatedAt; HSM_ERR_KEY_NOT_FOUND when
   * there is no record for `uri`. See {@link KeyPatch} for undefined/null semantics.
   */
  async update(uri: string, patch: KeyPatch): Promise<KeyRecord> {
    const checked = checkUri(uri);
    if (!isObject(patch)) throw invalid('key patch must be an object');
    // Rejecting e.g. { label } beats ignoring it: the caller would believe the label changed.
    for (const field of Object.keys(patch)) {
      if (!PATCH_FIELDS.has(field)) throw invalid(`field ${field} cannot be updated`);
    }
    const set: Updateable<KeyMetadataTable> = {};
    if (patch.status !== undefined) set.status = checkStatus(patch.status);
    if (patch.tags !== undefined) set.tags = encodeTags(patch.tags);
    if (patch.purpose !== undefined) set.purpose = optionalString(patch.purpose, 'purpose');
    if (patch.ceremonyId !== undefined) set.ceremony_id = optionalString(patch.ceremonyId, 'ceremonyId');
    if (patch.owner !== undefined) set.owner = optionalString(patch.owner, 'owner');
    if (patch.expiresAt !== undefined) {
      set.expires_at = patch.expiresAt === null ? null : normaliseTimestamp(patch.expiresAt, 'expiresAt');
    }
    if (patch.publicKeySpki !== undefined) {
      set.public_key_spki = patch.publicKeySpki === null ? null : encodeSpki(patch.publicKeySpki);
    }
    if (Object.keys(set).length === 0) {
      // Nothing to change: do not touch updatedAt, but still honour the not-found contract.
      const current = await this.get(checked);
      if (current === undefined) throw notFound(checked);
      return current;
    }
    set.updated_at = now();
    // One UPDATE ... RETURNING: no read-modify-write window for a concurrent writer to slip into.
    const row = await this.#run('update', () =>
      this.#db
        .updateTable('key_metadata')
        .set(set)
        .where('uri', '=', checked)
        .returningAll()
        .executeTakeFirst(),
    );
    if (row === undefined) throw notFound(checked);
    return toRecord(row);
  }

  /** Removes the record; false when there was none. Does not touch the key in the HSM. */
  async delete(uri: string): Promise<boolean> {
    const checked = checkUri(uri);
    const result = await this.#run('delete', () =>
      this.#db.deleteFrom('key_metadata').where('uri', '=', checked).executeTakeFirst(),
    );
    return result.numDeletedRows > 0n;
  }

  /** Runs a query; driver errors become HSM_ERR_STORE. */
  #run<T>(op: string, query: () => Promise<T>): Promise<T> {
    return storeQuery(`key store ${op}`, query);
  }
}

function toRecord(row: Row): KeyRecord {
  if (!(KEY_STATUSES as readonly string[]).includes(row.status)) {
    throw new HsmError('HSM_ERR_STORE', `stored key ${row.uri} has an invalid status`);
  }
  const rec: KeyRecord = {
    uri: row.uri,
    member: row.member,
    token: row.token,
    label: row.label,
    idHex: row.id_hex,
    keyType: row.key_type,
    status: row.status as KeyStatus,
    tags: decodeTags(row.tags, row.uri),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  // Optional fields are left out rather than set to undefined, so records compare equal to
  // what callers built and serialise without null noise.
  if (row.purpose !== null) rec.purpose = row.purpose;
  if (row.expires_at !== null) rec.expiresAt = row.expires_at;
  if (row.ceremony_id !== null) rec.ceremonyId = row.ceremony_id;
  if (row.owner !== null) rec.owner = row.owner;
  // A plain Uint8Array, not a Buffer view into Node's shared pool.
  if (row.public_key_spki !== null)
    rec.publicKeySpki = new Uint8Array(Buffer.from(row.public_key_spki, 'base64'));
  return rec;
}

function invalid(message: string): HsmError {
  return new HsmError('HSM_ERR_INVALID_INPUT', message);
}

function notFound(uri: string): HsmError {
  return new HsmError('HSM_ERR_KEY_NOT_FOUND', `no key recorded with URI ${uri}`, { details: { uri } });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function now(): string {
  return new Date().toISOString();
}

function checkUri(value: unknown): string {
  // Canonicalisation belongs to src/uri; here we only refuse what cannot be a key URI at all.
  if (typeof value !== 'string' || !value.startsWith('pkcs11:') || value.length === 'pkcs11:'.length) {
    throw invalid('key URI must be a canonical pkcs11: URI');
  }
  return value;
}

function checkString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  return value;
}

function checkName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${field} must be a non-empty string`);
  return value;
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  return checkString(value, field);
}

function checkStatus(value: unknown): KeyStatus {
  if (typeof value !== 'string' || !(KEY_STATUSES as readonly string[]).includes(value)) {
    throw invalid(`status must be one of ${KEY_STATUSES.join(', ')}`);
  }
  return value as KeyStatus;
}

function checkIdHex(value: unknown): string {
  if (typeof value !== 'string' || !ID_HEX.test(value)) {
    throw invalid('idHex must be lowercase hex of even length');
  }
  return value;
}

function encodeSpki(value: unknown): string {
  if (!(value instanceof Uint8Array)) throw invalid('publicKeySpki must be a Uint8Array');
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
}

function encodeTags(value: unknown): string {
  if (!isObject(value)) throw invalid('tags must be an object of string values');
  const entries: [string, string][] = [];
  for (const [key, val] of Object.entries(value)) {
    // __proto__ passes the character rule but turns into a prototype write for any consumer
    // that copies tags with plain assignment.
    if (key.length > TAG_KEY_MAX || !TAG_KEY.test(key) || key === '__proto__') {
      throw invalid(`tag key ${JSON.stringify(key.slice(0, TAG_KEY_MAX))} is not allowed`);
    }
    if (typeof val !== 'string' || [...val].length > TAG_VALUE_MAX) {
      throw invalid(`tag ${key} must be a string of at most ${TAG_VALUE_MAX} characters`);
    }
    entries.push([key, val]);
  }
  // Sorted so equal tag sets are stored as equal text.
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(entries));
}

function decodeTags(text: string, uri: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new HsmError('HSM_ERR_STORE', `stored tags of ${uri} are not valid JSON`, { cause: err });
  }
  if (!isObject(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
    throw new HsmError('HSM_ERR_STORE', `stored tags of ${uri} are not an object of strings`);
  }
  return parsed as Record<string, string>;
}

/**
 * Parses an ISO-8601 date or date-time with zone and returns it as `YYYY-MM-DDTHH:mm:ss.sssZ`.
 * Calendar fields are checked by hand because `Date` silently rolls 2025-02-30 into March.
 */
function normaliseTimestamp(value: unknown, field: string): string {
  const bad = () => invalid(`${field} must be an ISO-8601 date or date-time with zone`);
  if (typeof value !== 'string') throw bad();
  const m = ISO_DATE.exec(value);
  if (m === null) throw bad();
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) throw bad();
  const local = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  local.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  if (local.getUTCDate() !== day || local.getUTCMonth() !== month - 1) throw bad();
  let offsetMin = 0;
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) throw bad();
    offsetMin = sign * (oh * 60 + om);
  }
  const instant = new Date(local.getTime() - offsetMin * 60_000);
  const iso = instant.toISOString();
  // Outside years 0000-9999 toISOString switches to ±YYYYYY, which would break text ordering.
  if (!/^\d{4}-/.test(iso)) throw bad();
  return iso;
}
