/**
 * Table types of the metadata store, as Kysely sees them.
 *
 * Column types are chosen to be identical on SQLite and PostgreSQL: timestamps are ISO-8601
 * UTC text (`2025-01-31T12:00:00.000Z`, which also sorts correctly as text), binary values are
 * base64 text and tags are a JSON object serialised as text. That keeps one migration set and
 * one repository for both databases.
 */

/** One row per key whose private half lives in an HSM. */
export interface KeyMetadataTable {
  /** Canonical RFC 7512 URI of the private key; primary key. */
  uri: string;
  /** hsmkit member the key was created on. */
  member: string;
  /** Token label. */
  token: string;
  /** CKA_LABEL. */
  label: string;
  /** CKA_ID as lowercase hex. */
  id_hex: string;
  /** Key algorithm and size, e.g. `rsa-4096`. */
  key_type: string;
  /** `active` or `archived` (a CHECK constraint enforces it). */
  status: string;
  purpose: string | null;
  /** ISO-8601 UTC. */
  expires_at: string | null;
  ceremony_id: string | null;
  owner: string | null;
  /** JSON object of string → string. */
  tags: string;
  /** Cached DER SubjectPublicKeyInfo, base64. */
  public_key_spki: string | null;
  /** ISO-8601 UTC. */
  created_at: string;
  /** ISO-8601 UTC. */
  updated_at: string;
}

/** The whole store schema, for `Kysely<Database>`. */
export interface Database {
  key_metadata: KeyMetadataTable;
}
