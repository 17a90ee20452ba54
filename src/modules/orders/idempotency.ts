import type { DbOrTx } from '../../db/client.js';
import { queryRows, type Statement } from '../../db/raw.js';
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
    const st = claimStatement(scope, key, request, response);
    return settleClaim(db, await queryRows(db, st.text, st.values), scope, key, request);
  }

  /** The claim as a statement, to run together with the write's first read (see runTogether). */
  function claimStatement(scope: string, key: string, request: unknown, response: StoredResponse): Statement {
    return {
      text: `insert into idempotency_keys (scope, key, request_hash, status_code, response_body, created_at) values ($1, $2, $3, $4, $5::jsonb, $6::timestamptz)
             on conflict (scope, key) do nothing returning key`,
      values: [scope, key, hashOf(request), response.statusCode, JSON.stringify(response.body), p.clock.now().toISOString()],
    };
  }

  /** What the claim statement's rows mean: null to go ahead, or the stored response (refusing other parameters). */
  async function settleClaim(db: DbOrTx, inserted: unknown[], scope: string, key: string, request: unknown): Promise<StoredResponse | null> {
    if (inserted.length) return null;
    const [row] = await queryRows<{ request_hash: string; status_code: number | null; response_body: unknown }>(db, 'select request_hash, status_code, response_body from idempotency_keys where scope = $1 and key = $2', [scope, key]);
    if (!row) throw new AppError('CONFLICT', 'this Idempotency-Key is being used by another request; retry', [{ field: 'Idempotency-Key', message: 'in use' }]);
    if (row.request_hash !== hashOf(request)) throw new AppError('IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was used with different parameters', [{ field: 'Idempotency-Key', message: 'reused with different parameters' }]);
    return { statusCode: row.status_code ?? 200, body: row.response_body };
  }

  return { claim, claimStatement, settleClaim };
}

export type Idempotency = ReturnType<typeof createIdempotency>;
