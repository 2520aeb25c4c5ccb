import { createHash } from 'node:crypto';
import type pg from 'pg';
import { HsmError } from '../errors/index.js';
import { createPostgresClient, scrubConnectionSecrets } from './postgres-connection.js';

/** A lead held by this process; lost when released or when the connection holding it dies. */
export interface Leadership {
  readonly name: string;
  /** False once released or lost (PostgreSQL: the session that held the advisory lock ended). */
  readonly held: boolean;
  /** Gives the lead up; idempotent. */
  release(): Promise<void>;
}

/**
 * Decides which instance of a cluster does a once-per-cluster duty (alert evaluation, job
 * recovery, CRL refresh, backup drills). A lead is a named lock that is not waited for: the
 * instance that gets it works, the others skip and try again later.
 */
export interface Coordinator {
  /** Takes the named lead if no one (in any process) holds it; undefined otherwise. */
  tryLead(name: string): Promise<Leadership | undefined>;
  /** Runs `fn` holding the named lead, then releases it; `{ ran: false }` when someone else holds it. */
  runExclusive<T>(name: string, fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
  /** Releases every lead and the connection. */
  close(): Promise<void>;
}

abstract class CoordinatorBase implements Coordinator {
  abstract tryLead(name: string): Promise<Leadership | undefined>;
  abstract close(): Promise<void>;

  async runExclusive<T>(
    name: string,
    fn: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }> {
    const lead = await this.tryLead(name);
    if (!lead) return { ran: false };
    try {
      return { ran: true, value: await fn() };
    } finally {
      await lead.release();
    }
  }
}

class HeldLead implements Leadership {
  #held = true;
  constructor(
    readonly name: string,
    private readonly onRelease: () => Promise<void>,
  ) {}
  get held(): boolean {
    return this.#held;
  }
  lose(): void {
    this.#held = false;
  }
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await this.onRelease();
  }
}

/** SQLite: one process serves the store, so leads are plain in-process locks. */
export class LocalCoordinator extends CoordinatorBase {
  readonly #held = new Map<string, HeldLead>();

  async tryLead(name: string): Promise<Leadership | undefined> {
    if (this.#held.has(name)) return undefined;
    const lead = new HeldLead(name, async () => {
      this.#held.delete(name);
    });
    this.#held.set(name, lead);
    return lead;
  }

  async close(): Promise<void> {
    for (const lead of [...this.#held.values()]) await lead.release();
  }
}

/** The 64-bit advisory lock key of a lead name (stable across processes and versions). */
export function advisoryKey(name: string): bigint {
  const digest = createHash('sha256').update(`hsmkit:lead:${name}`).digest();
  return digest.readBigInt64BE(0);
}

/**
 * PostgreSQL: each lead is a session advisory lock (`pg_try_advisory_lock`) on one dedicated
 * connection, so a process that dies or loses its connection loses its leads at once and
 * another instance can take them. The connection is reopened on the next call after a loss.
 */
export class PostgresCoordinator extends CoordinatorBase {
  readonly #url: string;
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;
  readonly #held = new Map<string, HeldLead>();
  #closed = false;

  constructor(url: string) {
    super();
    this.#url = url;
  }

  async tryLead(name: string): Promise<Leadership | undefined> {
    if (this.#closed) throw new HsmError('HSM_ERR_STORE', 'the coordinator is closed');
    // Advisory locks are re-entrant per session: without this check a second tryLead in the
    // same process would "succeed" too.
    if (this.#held.get(name)?.held) return undefined;
    const client = await this.#connection();
    const key = advisoryKey(name).toString();
    const got = await this.#query(client, 'select pg_try_advisory_lock($1::bigint) as ok', [key]);
    if (got.rows[0]?.ok !== true) return undefined;
    const lead = new HeldLead(name, async () => {
      this.#held.delete(name);
      if (this.#client === client) {
        await this.#query(client, 'select pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
      }
    });
    this.#held.set(name, lead);
    return lead;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = this.#client;
    this.#dropConnection();
    // Ending the session releases every advisory lock it held.
    await client?.end().catch(() => undefined);
  }

  async #connection(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    this.#connecting ??= (async () => {
      const client = createPostgresClient(this.#url);
      // A dead connection means its advisory locks are gone: every lead held on it is lost.
      client.on('error', () => this.#lost(client));
      client.on('end', () => this.#lost(client));
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => undefined);
        throw this.#error('cannot connect the coordinator', err);
      }
      this.#client = client;
      return client;
    })().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#dropConnection();
    client.end().catch(() => undefined);
  }

  #dropConnection(): void {
    this.#client = undefined;
    for (const lead of this.#held.values()) lead.lose();
    this.#held.clear();
  }

  async #query(client: pg.Client, text: string, values: unknown[]): Promise<pg.QueryResult> {
    try {
      return await client.query(text, values);
    } catch (err) {
      this.#lost(client);
      throw this.#error('coordinator query failed', err);
    }
  }

  #error(what: string, err: unknown): HsmError {
    const msg = err instanceof Error ? err.message : String(err);
    return new HsmError('HSM_ERR_STORE', `${what}: ${scrubConnectionSecrets(msg, this.#url)}`);
  }
}

/** A duty that runs on one instance of the cluster at a time. */
export interface LeaderDuty {
  /** Whether this instance is doing the duty now. */
  readonly leading: boolean;
  /** Stops the duty (if running here), releases the lead and stops trying. */
  close(): Promise<void>;
}

/**
 * Keeps trying (every `pollMs`, default 5 s) to lead `name`; while leading, the duty runs
 * (`start` once on taking the lead, `stop` on losing it). When the leading instance dies or
 * loses its connection to PostgreSQL, another instance takes over within one poll.
 */
export function leadDuty(
  coordinator: Coordinator,
  name: string,
  duty: { start(): void | Promise<void>; stop(): void | Promise<void> },
  pollMs = 5000,
): LeaderDuty {
  let lead: Leadership | undefined;
  let closed = false;
  let busy: Promise<void> = Promise.resolve();
  const tick = async () => {
    if (closed) return;
    if (lead && !lead.held) {
      lead = undefined;
      await duty.stop();
    }
    if (!lead) {
      const got = await coordinator.tryLead(name).catch(() => undefined);
      if (closed) {
        await got?.release();
        return;
      }
      if (got) {
        lead = got;
        await duty.start();
      }
    }
  };
  const kick = () => {
    busy = busy.then(tick).catch(() => undefined);
  };
  const timer = setInterval(kick, pollMs);
  timer.unref();
  kick();
  return {
    get leading() {
      return lead?.held === true;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await busy;
      if (lead) {
        const l = lead;
        lead = undefined;
        await duty.stop();
        await l.release();
      }
    },
  };
}
