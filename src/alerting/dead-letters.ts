import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { ServiceAlert } from './alert.js';

/** One alert that no attempt could deliver to a webhook. */
export interface DeadLetter {
  id: string;
  alertId: string;
  kind: string;
  target: string;
  payload: unknown;
  attempts: number;
  lastError: string;
  createdAt: string;
}

/** Dead-letter records of webhook delivery (table `alert_dead_letter`, migration 0006_alerting). */
export class DeadLetterRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records that `alert` could not be delivered to `target` after `attempts` tries. */
  async add(alert: ServiceAlert, target: string, attempts: number, lastError: string): Promise<void> {
    await this.db
      .insertInto('alert_dead_letter')
      .values({
        id: randomUUID(),
        alert_id: alert.id,
        kind: alert.kind,
        target: redactUrl(target),
        payload: JSON.stringify(alert),
        attempts,
        last_error: lastError.slice(0, 1000),
        created_at: new Date().toISOString(),
      })
      .execute();
  }

  /** The newest `limit` dead letters, newest first. */
  async list(limit = 100): Promise<DeadLetter[]> {
    const rows = await this.db
      .selectFrom('alert_dead_letter')
      .selectAll()
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      alertId: r.alert_id,
      kind: r.kind,
      target: r.target,
      payload: JSON.parse(r.payload) as unknown,
      attempts: r.attempts,
      lastError: r.last_error,
      createdAt: r.created_at,
    }));
  }
}

/** A webhook URL fit for logs and the store: no userinfo, query or fragment (they may hold tokens). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
