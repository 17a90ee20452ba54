import type { DbOrTx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';
import type { Platform } from '../../platform.js';
import { sha256Hex } from '../../lib/crypto.js';
import { AppError } from '../../lib/errors.js';
import { canonicalJson } from '../audit/chain.js';

export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

/**
 * Stripe-style idempotency for retriable writes. The key is claimed first,
 * inside the write's own transaction, together with the response it will
 * give (known up front: the id of what is being created), so "done" and
 * "key used" commit together: a retry after a crash either finds the stored
 * response or finds nothing and runs again, never half of each. A twin
 * request with the same key waits on the first one's uncommitted key row,
 * then replays its response (or goes ahead if the first one failed).
 */
export function createIdempotency(p: Platform) {
  const hashOf = (request: unknown) => sha256Hex(canonicalJson(request));

  /**
   * Claims the key for this request: null means go ahead (and the stored
   * response becomes `response` when the caller's transaction commits);
   * otherwise the response stored for the key. The same key with different
   * parameters is refused.
   */
  async function claim(db: DbOrTx, scope: string, key: string, request: unknown, response: StoredResponse): Promise<StoredResponse | null> {
    const requestHash = hashOf(request);
    const inserted = await queryRows<{ key: string }>(
      db,
      `insert into idempotency_keys (scope, key, request_hash, status_code, response_body, created_at) values ($1, $2, $3, $4, $5::jsonb, $6::timestamptz)
       on conflict (scope, key) do nothing returning key`,
      [scope, key, requestHash, response.statusCode, JSON.stringify(response.body), p.clock.now().toISOString()],
    );
    if (inserted.length) return null;
    const [row] = await queryRows<{ request_hash: string; status_code: number | null; response_body: unknown }>(db, 'select request_hash, status_code, response_body from idempotency_keys where scope = $1 and key = $2', [scope, key]);
    if (!row) throw new AppError('CONFLICT', 'this Idempotency-Key is being used by another request; retry', [{ field: 'Idempotency-Key', message: 'in use' }]);
    if (row.request_hash !== requestHash) throw new AppError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used with different parameters', [{ field: 'Idempotency-Key', message: 'reused with different parameters' }]);
    return { statusCode: row.status_code ?? 200, body: row.response_body };
  }

  return { claim };
}

export type Idempotency = ReturnType<typeof createIdempotency>;
