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

/** One row per certificate authority hsmkit operates (migration 0002_pki). */
export interface PkiCaTable {
  /** CA name, as given to `ca init --name`; primary key. */
  name: string;
  /** Name of the issuing CA; null for a root. */
  parent: string | null;
  /** Canonical URI of the CA's HSM key. */
  key_uri: string;
  /** Key type, e.g. `ec-p384`. */
  key_type: string;
  /** Serial of the CA's current certificate, lowercase hex. */
  serial: string;
  /** The CA certificate, DER as base64. */
  certificate: string;
  /** ISO-8601 UTC. */
  created_at: string;
}

/** One row per certificate hsmkit issued, with its status (migration 0002_pki). */
export interface PkiCertificateTable {
  /** Serial, lowercase hex without leading zero octets; primary key (128-bit random). */
  serial: string;
  /** Name of the issuing CA. */
  ca: string;
  /** Profile the certificate was issued under (`tls-server`, `root-ca`, …). */
  profile: string;
  /** Subject DN as text. */
  subject: string;
  /** ISO-8601 UTC. */
  not_before: string;
  /** ISO-8601 UTC. */
  not_after: string;
  /** `good` or `revoked`. */
  status: string;
  /** The certificate, DER as base64. */
  der: string;
  /** URI of the subject's HSM key when hsmkit holds it; null for external CSRs. */
  key_uri: string | null;
  /** Serial of the certificate this one renewed; null for a first issue. */
  renewed_from: string | null;
  /** ISO-8601 UTC. */
  created_at: string;
}

/** One row per revoked certificate (migration 0002_pki). */
export interface PkiRevocationTable {
  /** Serial of the revoked certificate; primary key. */
  serial: string;
  /** Name of the issuing CA. */
  ca: string;
  /** RFC 5280 CRLReason code (0..10, 7 unused). */
  reason: number;
  /** ISO-8601 UTC. */
  revoked_at: string;
}

/** The last CRL number used per CA (migration 0002_pki). */
export interface PkiCrlNumberTable {
  /** CA name; primary key. */
  ca: string;
  /** Last CRL number issued (monotonic). */
  last_number: number;
  /** The last CRL published, DER as base64; null until one is saved. */
  crl: string | null;
  /** ISO-8601 UTC of the last change. */
  updated_at: string;
}

/** The audit hash chain (migration 0003_governance); append-only, see src/audit. */
export interface AuditLogTable {
  /** Position in the chain, from 1; primary key. */
  seq: number;
  /** ISO-8601 UTC. */
  timestamp: string;
  actor: string;
  role: string;
  auth_method: string;
  operation: string;
  key_uri: string | null;
  /** SHA-256 hex of the canonical JSON of the non-secret parameters. */
  params_digest: string;
  /** `ok`, `denied` or `error`. */
  result: string;
  error_code: string | null;
  /** Policy rule that refused, for denied records. */
  rule: string | null;
  member: string | null;
  latency_ms: number;
  correlation_id: string;
  policy_version: number | null;
  /** JSON of the signed checkpoint, for checkpoint records. */
  checkpoint: string | null;
  prev_hash: string;
  hash: string;
}

/** Versions of the governance policy (migration 0003_governance). */
export interface PolicyVersionTable {
  /** 1, 2, …; primary key. */
  version: number;
  /** SHA-256 hex of `document`. */
  hash: string;
  /** The policy YAML as applied. */
  document: string;
  author: string;
  author_role: string;
  /** `pending` (awaiting approval), `active` or `superseded`. */
  status: string;
  /** `actor/role` of the second person under dual control. */
  approved_by: string | null;
  /** The version a rollback restored. */
  rolled_back_from: number | null;
  /** ISO-8601 UTC. */
  created_at: string;
  /** ISO-8601 UTC. */
  activated_at: string | null;
}

/** TOTP enrolment of a human identity of the service (migration 0005_service). */
export interface ServiceTotpTable {
  /** Identity name from the service configuration; primary key. */
  identity: string;
  /** Base32 TOTP secret. Never logged or returned by the API. */
  secret: string;
  /** ISO-8601 UTC. */
  created_at: string;
}

/** One asynchronous job of the service (migration 0005_service). */
export interface ServiceJobTable {
  /** Random UUID; primary key. */
  id: string;
  /** Job kind, e.g. `key.create`. */
  kind: string;
  /** `queued`, `running`, `succeeded` or `failed`. */
  status: string;
  /** JSON of the validated request. */
  request: string;
  /** JSON of the result, once succeeded. */
  result: string | null;
  /** JSON of the error (code, message), once failed. */
  error: string | null;
  /** Identity that submitted the job. */
  actor: string;
  /** Role it acted in. */
  role: string;
  /** ISO-8601 UTC. */
  created_at: string;
  /** ISO-8601 UTC. */
  updated_at: string;
  /** Instance id of the `hsmkit serve` running the job (migration 0013_job_lease); null while queued. */
  owner: string | null;
  /** ISO-8601 UTC until which the owner's claim holds; renewed by its heartbeat (0013_job_lease). */
  lease_until: string | null;
}

/** A registered ceremony custodian (migration 0004_ceremony). */
export interface CeremonyCustodianTable {
  /** Custodian name, as scripts list it; primary key. */
  name: string;
  /** SHA-256 hex of the DER SubjectPublicKeyInfo; unique. */
  fingerprint: string;
  /** The custodian's public key (PEM SPKI); its private half lives on the custodian's token. */
  public_key_pem: string;
  /** ISO-8601 UTC. */
  created_at: string;
}

/** One key ceremony run (migration 0004_ceremony). */
export interface CeremonyRunTable {
  /** Ceremony id from the script; primary key. */
  id: string;
  /** Ceremony type (`root-ca`, `emergency`, …). */
  type: string;
  /** SHA-256 hex of the script bytes the run started with. */
  script_sha256: string;
  /** `running`, `completed` or `aborted`. */
  status: string;
  /** ISO-8601 UTC. */
  started_at: string;
  /** ISO-8601 UTC. */
  updated_at: string;
  /** The signed transcript (compact JWS) once completed. */
  transcript: string | null;
}

/** The persisted state of one ceremony step (migration 0004_ceremony). */
export interface CeremonyStepTable {
  ceremony_id: string;
  /** Step number, from 1. */
  step: number;
  /** `awaiting_approval`, `running` or `done`. */
  status: string;
  /** JSON of the challenge custodians sign. */
  challenge: string | null;
  /** JSON of the accepted approvals. */
  approvals: string | null;
  /** JSON of what the step did so far (e.g. the generated key's URI), for an idempotent resume. */
  progress: string;
  /** JSON of the step result once done. */
  result: string | null;
  /** ISO-8601 UTC. */
  updated_at: string;
}

/** A challenge nonce (migration 0004_ceremony). */
export interface CeremonyNonceTable {
  /** Random hex; primary key. */
  nonce: string;
  ceremony_id: string;
  step: number;
  /** ISO-8601 UTC. */
  issued_at: string;
  /** ISO-8601 UTC once consumed; a consumed nonce is never accepted again. */
  used_at: string | null;
}

/** An alert whose webhook delivery failed after every attempt (migration 0006_alerting). */
export interface AlertDeadLetterTable {
  /** Random UUID; primary key. */
  id: string;
  /** The alert's own id (one alert may fail at several webhooks). */
  alert_id: string;
  kind: string;
  /** Webhook URL without userinfo, query and fragment (they may hold tokens). */
  target: string;
  /** JSON of the alert as it would have been POSTed. */
  payload: string;
  attempts: number;
  last_error: string;
  /** ISO-8601 UTC. */
  created_at: string;
}

/** The whole store schema, for `Kysely<Database>`. */
export interface Database {
  key_metadata: KeyMetadataTable;
  pki_ca: PkiCaTable;
  pki_certificate: PkiCertificateTable;
  pki_revocation: PkiRevocationTable;
  pki_crl_number: PkiCrlNumberTable;
  audit_log: AuditLogTable;
  policy_version: PolicyVersionTable;
  ceremony_custodian: CeremonyCustodianTable;
  ceremony_run: CeremonyRunTable;
  ceremony_step: CeremonyStepTable;
  ceremony_nonce: CeremonyNonceTable;
  service_totp: ServiceTotpTable;
  service_job: ServiceJobTable;
  alert_dead_letter: AlertDeadLetterTable;
  audit_archive: AuditArchiveTable;
  idempotency_key: IdempotencyKeyTable;
  break_glass_request: BreakGlassRequestTable;
  break_glass_approval: BreakGlassApprovalTable;
  member_maintenance: MemberMaintenanceTable;
}

/** One retention archive: records 1..through_seq were exported (signed) and removed. */
export interface AuditArchiveTable {
  through_seq: number;
  /** Hash of record through_seq: the prevHash the first remaining record must carry. */
  last_hash: string;
  export_dir: string;
  records_sha256: string;
  archived_at: string;
}

/** One Idempotency-Key of a service caller (migration 0009_idempotency). */
export interface IdempotencyKeyTable {
  /** Identity name of the caller; keys are per caller. Primary key with `key`. */
  identity: string;
  /** The Idempotency-Key header value. */
  key: string;
  /** SHA-256 hex of method, path and body. */
  fingerprint: string;
  /** `in_progress` or `done`. */
  status: string;
  /** The service process that holds the key in progress (`host/pid/boot`). */
  owner: string;
  /** HTTP status of the stored answer, once done. */
  response_status: number | null;
  /** Content type of the stored answer. */
  response_type: string | null;
  /** The stored answer's body, base64. */
  response_body: string | null;
  /** ISO-8601 UTC. */
  created_at: string;
  /** ISO-8601 UTC; after it the key may be reused. */
  expires_at: string;
}

/** One break-glass request of the service (migration 0011_break_glass). */
export interface BreakGlassRequestTable {
  /** Random UUID; primary key. */
  id: string;
  /** Identity name that asked. */
  requester: string;
  /** The emergency role asked for (service.break_glass.role at request time). */
  role: string;
  /** Why, as the requester wrote it. */
  reason: string;
  duration_minutes: number;
  /** Approvals needed (service.break_glass.quorum at request time). */
  quorum: number;
  /** `pending`, `active` (quorum reached; until expires_at) or `expired`. */
  status: string;
  /** ISO-8601 UTC. */
  created_at: string;
  /** ISO-8601 UTC, when quorum was reached. */
  activated_at: string | null;
  /** ISO-8601 UTC, end of the grant. */
  expires_at: string | null;
}

/** One approval of a break-glass request; primary key (request_id, approver). */
export interface BreakGlassApprovalTable {
  request_id: string;
  /** Identity name of the approver. */
  approver: string;
  /** ISO-8601 UTC. */
  approved_at: string;
}

/** A member out of rotation for maintenance (migration 0012_member_maintenance). */
export interface MemberMaintenanceTable {
  /** Member name; primary key (one open maintenance per member). */
  member: string;
  /** ISO-8601 UTC: the window's start; the member leaves rotation when the row is written. */
  window_start: string;
  /** ISO-8601 UTC: the window's planned end; the member stays out until `maintenance end`. */
  window_end: string;
  reason: string;
  /** JSON of the maintenance checklist that admitted it. */
  plan: string;
  /** Actor who planned it. */
  created_by: string;
  created_at: string;
}
