import { and, eq } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import type { Platform } from '../../platform.js';
import { sha256Hex } from '../../lib/crypto.js';
import { AppError } from '../../lib/errors.js';
import { canonicalJson } from '../audit/chain.js';
import { idempotencyKeys } from './schema.js';

/**
 * Stripe-style idempotency for retriable writes. The key is claimed inside the
 * write's own transaction and the response stored in it, so "done" and "key
 * used" commit together: a retry after a crash either finds the stored
 * response or finds nothing and runs again, never half of each.
 */
export function createIdempotency(p: Platform) {
  const hashOf = (request: unknown) => sha256Hex(canonicalJson(request));

  /** The stored response for this key, or null to go ahead. Refuses the same key with different parameters. */
  async function lookup(db: DbOrTx, scope: string, key: string, request: unknown): Promise<{ statusCode: number; body: unknown } | null> {
    const [row] = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
    if (!row) return null;
    if (row.requestHash !== hashOf(request)) throw new AppError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used with different parameters', [{ field: 'Idempotency-Key', message: 'reused with different parameters' }]);
    return { statusCode: row.statusCode ?? 200, body: row.responseBody };
  }

  /** Records the response in the caller's transaction; a concurrent twin fails on the primary key and rolls back. */
  async function store(db: DbOrTx, scope: string, key: string, request: unknown, statusCode: number, body: unknown): Promise<void> {
    await db.insert(idempotencyKeys).values({ scope, key, requestHash: hashOf(request), statusCode, responseBody: body as Record<string, unknown>, createdAt: p.clock.now() });
  }

  return { lookup, store };
}

export type Idempotency = ReturnType<typeof createIdempotency>;
