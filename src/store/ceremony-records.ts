import type { Kysely } from 'kysely';
import { HsmError } from '../errors/index.js';
import type { Database } from './schema.js';

/** A registered custodian. */
export interface CustodianRecord {
  name: string;
  /** SHA-256 hex of the DER SubjectPublicKeyInfo. */
  fingerprint: string;
  publicKeyPem: string;
  createdAt: string;
}

/** Status of a ceremony run. */
export type CeremonyStatus = 'running' | 'completed' | 'aborted';

/** A ceremony run. */
export interface CeremonyRunRecord {
  id: string;
  type: string;
  scriptSha256: string;
  status: CeremonyStatus;
  startedAt: string;
  updatedAt: string;
  transcript?: string;
}

/** Status of a ceremony step. */
export type CeremonyStepStatus = 'awaiting_approval' | 'running' | 'done';

/** The persisted state of a step; JSON columns parsed. */
export interface CeremonyStepRecord {
  ceremonyId: string;
  step: number;
  status: CeremonyStepStatus;
  challenge?: unknown;
  approvals?: unknown;
  progress: Record<string, unknown>;
  result?: unknown;
  updatedAt: string;
}

const now = () => new Date().toISOString();
const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = (v: string | null) => (v === null ? undefined : JSON.parse(v));

/** Reads and writes the ceremony tables of migration 0004_ceremony. Failures are HSM_ERR_STORE. */
export class CeremonyRepository {
  readonly #db: Kysely<Database>;

  /** Wraps a migrated store database. */
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Registers a custodian; HSM_ERR_INVALID_INPUT when the name or the key is taken. */
  async addCustodian(rec: Omit<CustodianRecord, 'createdAt'>): Promise<CustodianRecord> {
    const taken = await this.#run(() =>
      this.#db
        .selectFrom('ceremony_custodian')
        .select(['name'])
        .where((eb) => eb.or([eb('name', '=', rec.name), eb('fingerprint', '=', rec.fingerprint)]))
        .executeTakeFirst(),
    );
    if (taken)
      throw new HsmError('HSM_ERR_INVALID_INPUT', `custodian name or key already registered (${taken.name})`);
    const createdAt = now();
    await this.#run(() =>
      this.#db
        .insertInto('ceremony_custodian')
        .values({
          name: rec.name,
          fingerprint: rec.fingerprint,
          public_key_pem: rec.publicKeyPem,
          created_at: createdAt,
        })
        .execute(),
    );
    return { ...rec, createdAt };
  }

  /** Every registered custodian, by name. */
  async listCustodians(): Promise<CustodianRecord[]> {
    const rows = await this.#run(() =>
      this.#db.selectFrom('ceremony_custodian').selectAll().orderBy('name').execute(),
    );
    return rows.map((r) => ({
      name: r.name,
      fingerprint: r.fingerprint,
      publicKeyPem: r.public_key_pem,
      createdAt: r.created_at,
    }));
  }

  /** The run with this id, if any. */
  async getRun(id: string): Promise<CeremonyRunRecord | undefined> {
    const r = await this.#run(() =>
      this.#db.selectFrom('ceremony_run').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    if (!r) return undefined;
    const rec: CeremonyRunRecord = {
      id: r.id,
      type: r.type,
      scriptSha256: r.script_sha256,
      status: r.status as CeremonyStatus,
      startedAt: r.started_at,
      updatedAt: r.updated_at,
    };
    if (r.transcript !== null) rec.transcript = r.transcript;
    return rec;
  }

  /** The newest runs first (without transcripts), at most `limit`. */
  async listRuns(limit = 100): Promise<CeremonyRunRecord[]> {
    const rows = await this.#run(() =>
      this.#db
        .selectFrom('ceremony_run')
        .select(['id', 'type', 'script_sha256', 'status', 'started_at', 'updated_at'])
        .orderBy('started_at', 'desc')
        .limit(limit)
        .execute(),
    );
    return rows.map((r) => ({
      id: r.id,
      type: r.type,
      scriptSha256: r.script_sha256,
      status: r.status as CeremonyStatus,
      startedAt: r.started_at,
      updatedAt: r.updated_at,
    }));
  }

  /** Records a new run. */
  async startRun(id: string, type: string, scriptSha256: string): Promise<CeremonyRunRecord> {
    const t = now();
    await this.#run(() =>
      this.#db
        .insertInto('ceremony_run')
        .values({
          id,
          type,
          script_sha256: scriptSha256,
          status: 'running',
          started_at: t,
          updated_at: t,
          transcript: null,
        })
        .execute(),
    );
    return { id, type, scriptSha256, status: 'running', startedAt: t, updatedAt: t };
  }

  /** Sets a run's status (and its transcript on completion). */
  async finishRun(id: string, status: CeremonyStatus, transcript?: string): Promise<void> {
    await this.#run(() =>
      this.#db
        .updateTable('ceremony_run')
        .set({ status, updated_at: now(), ...(transcript === undefined ? {} : { transcript }) })
        .where('id', '=', id)
        .execute(),
    );
  }

  /** Every step record of a run, by step number. */
  async listSteps(id: string): Promise<CeremonyStepRecord[]> {
    const rows = await this.#run(() =>
      this.#db
        .selectFrom('ceremony_step')
        .selectAll()
        .where('ceremony_id', '=', id)
        .orderBy('step')
        .execute(),
    );
    return rows.map((r) => {
      const rec: CeremonyStepRecord = {
        ceremonyId: r.ceremony_id,
        step: r.step,
        status: r.status as CeremonyStepStatus,
        progress: JSON.parse(r.progress) as Record<string, unknown>,
        updatedAt: r.updated_at,
      };
      if (r.challenge !== null) rec.challenge = parse(r.challenge);
      if (r.approvals !== null) rec.approvals = parse(r.approvals);
      if (r.result !== null) rec.result = parse(r.result);
      return rec;
    });
  }

  /** Writes a step's state (insert or replace); called after every phase of a step. */
  async saveStep(rec: Omit<CeremonyStepRecord, 'updatedAt'>): Promise<void> {
    const values = {
      ceremony_id: rec.ceremonyId,
      step: rec.step,
      status: rec.status,
      challenge: json(rec.challenge),
      approvals: json(rec.approvals),
      progress: JSON.stringify(rec.progress),
      result: json(rec.result),
      updated_at: now(),
    };
    await this.#run(() =>
      this.#db
        .insertInto('ceremony_step')
        .values(values)
        .onConflict((oc) =>
          oc.columns(['ceremony_id', 'step']).doUpdateSet({
            status: values.status,
            challenge: values.challenge,
            approvals: values.approvals,
            progress: values.progress,
            result: values.result,
            updated_at: values.updated_at,
          }),
        )
        .execute(),
    );
  }

  /** Records an issued challenge nonce. */
  async issueNonce(nonce: string, ceremonyId: string, step: number): Promise<void> {
    await this.#run(() =>
      this.#db
        .insertInto('ceremony_nonce')
        .values({ nonce, ceremony_id: ceremonyId, step, issued_at: now(), used_at: null })
        .execute(),
    );
  }

  /** The nonce's record, if it was ever issued. */
  async getNonce(nonce: string): Promise<{ ceremonyId: string; step: number; usedAt?: string } | undefined> {
    const r = await this.#run(() =>
      this.#db.selectFrom('ceremony_nonce').selectAll().where('nonce', '=', nonce).executeTakeFirst(),
    );
    if (!r) return undefined;
    return { ceremonyId: r.ceremony_id, step: r.step, ...(r.used_at === null ? {} : { usedAt: r.used_at }) };
  }

  /** Marks a nonce consumed; false when it already was (a concurrent consumer won). */
  async consumeNonce(nonce: string): Promise<boolean> {
    const r = await this.#run(() =>
      this.#db
        .updateTable('ceremony_nonce')
        .set({ used_at: now() })
        .where('nonce', '=', nonce)
        .where('used_at', 'is', null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof HsmError) throw err;
      throw new HsmError('HSM_ERR_STORE', `ceremony store: ${(err as Error).message}`, { cause: err });
    }
  }
}
