import type { FastifyInstance } from 'fastify';
import { AppError } from '../lib/errors.js';

/**
 * PostgreSQL text cannot hold U+0000: a NUL that reaches a query fails there
 * (a 500, and only on PostgreSQL, not on the embedded database). No field of
 * ours has a use for it, so a NUL in the path, the query string or any JSON
 * string is refused at the door with 400.
 */
export const NUL_IN_URL = 'the URL contains a NUL character (%00)';
export const NUL_IN_BODY = 'body: text must not contain a NUL character (\\u0000)';

export function installNulGuard(app: FastifyInstance) {
  app.addHook('onRequest', async (request) => {
    if (request.url.includes('%00')) throw new AppError('VALIDATION_FAILED', NUL_IN_URL, [{ field: 'url', message: 'must not contain %00' }]);
  });
}

/** Whether a parsed JSON value holds a NUL in any string or key. */
export function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 256 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => containsNul(v, depth + 1));
  return Object.entries(value).some(([k, v]) => k.includes('\u0000') || containsNul(v, depth + 1));
}
