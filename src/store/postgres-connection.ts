import pg from 'pg';

/** Connections of one store process to PostgreSQL (pool size); serve's request concurrency fits in it. */
export const POSTGRES_POOL_SIZE = 10;

/** How long a query waits for a free pooled connection, or for a new connection to open (ms). */
export const POSTGRES_CONNECT_TIMEOUT_MS = 5000;

// pg returns bigint (int8) columns as strings, since they may exceed 2^53. The store's bigint
// columns (audit seq, archive through_seq) are sequence numbers far below that; the repositories
// convert with Number() anyway, so this only makes rows look the same on both dialects.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * A pg pool for `url`. A connection that breaks (server restart, network) emits 'error' on its
 * client, and an idle one on the pool too; without listeners Node would crash the process. The
 * events are dropped here: a query running on the connection fails with the error itself, pg-pool
 * discards the broken connection on release, and the next query opens a new one.
 */
export function createPostgresPool(url: string, max = POSTGRES_POOL_SIZE): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: 'hsmkit',
  });
  pool.on('error', () => undefined);
  // pg-pool listens on a client only while it is idle; Kysely holds clients checked out.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** A single dedicated connection (advisory session locks live as long as it does). */
export function createPostgresClient(url: string): pg.Client {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
    application_name: 'hsmkit-coordinator',
  });
  return client;
}

/**
 * Removes the connection URL, its password and user-info from a driver message. pg and
 * pg-connection-string can quote the connection string (e.g. on a malformed URL); a message
 * that reaches an error, a log line or an audit record must never carry the password.
 */
export function scrubConnectionSecrets(message: string, url: string): string {
  let out = message;
  const secrets = new Set<string>([url]);
  try {
    const u = new URL(url);
    if (u.password) {
      secrets.add(u.password);
      secrets.add(decodeURIComponent(u.password));
    }
  } catch {
    // Not a URL at all: the whole text is what must not show.
  }
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length > 0) out = out.split(s).join('[redacted]');
  }
  // Any other postgres URL with user-info (e.g. a normalised copy of ours).
  return out.replace(/(postgres(?:ql)?:\/\/)[^@\s/]*@/gi, '$1[redacted]@');
}
