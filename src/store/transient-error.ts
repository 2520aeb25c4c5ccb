/**
 * True for driver errors that mean "the database was unreachable or went away" (a retry may
 * succeed): connection refused/reset, PostgreSQL shutting down or starting up, pool timeouts.
 * Decided by error codes (SQLSTATE class 08, 57P01-57P03, Node errno codes); only the two pg
 * errors that carry no code at all are recognised by their fixed text.
 */
export function isTransientPostgresError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') {
    // pg's pool reports "timeout exceeded when trying to connect" and a client ended under a
    // query as plain Errors without a code.
    return (
      err instanceof Error &&
      /Connection terminated|timeout exceeded when trying to connect/.test(err.message)
    );
  }
  return (
    code.startsWith('08') ||
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now (starting up / shutting down)
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ETIMEDOUT'
  );
}
