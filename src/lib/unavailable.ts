/**
 * Whether an error means a backing service (PostgreSQL, Redis) is out of
 * reach rather than a bug: the request is then refused with 503
 * SERVICE_UNAVAILABLE and Retry-After, which clients retry with the same
 * Idempotency-Key, instead of a 500 that reads like a defect.
 */
const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN']);
// PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now, connection_failure, connection_exception, too_many_connections.
const pgCodes = new Set(['57P01', '57P02', '57P03', '08006', '08001', '08000', '08003', '08004', '53300']);
const messages = [
  /Stream isn't writeable and enableOfflineQueue options is false/,
  /Connection is closed/,
  /Reached the max retries per request limit/,
  /Redis did not become ready/,
  /Connection terminated( unexpectedly| due to connection timeout)?/,
  /timeout exceeded when trying to connect/,
  /Client has encountered a connection error and is not queryable/,
  /the database system is (starting up|shutting down|in recovery mode)/,
  /terminating connection due to administrator command/,
];

export function isDependencyUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 3) return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && (networkCodes.has(e.code) || pgCodes.has(e.code))) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (typeof e.message === 'string' && messages.some((m) => m.test(e.message as string))) return true;
  // drizzle wraps driver errors ("Failed query: ...") with the original as the cause.
  return isDependencyUnavailable(e.cause, depth + 1);
}
