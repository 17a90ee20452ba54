import type { DbOrTx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';

/** A code with what decides who owns it: a wallet holding (a claimed gift) or else its order's buyer. */
export interface OwnedCode {
  id: string;
  state: string;
  sku_id: string;
  expires_at: Date | null;
  order_id: string | null;
  /** the current owner (a customer id), or null when no customer owns it */
  owner: string | null;
  /** whether the owner got it as a gift (then its order is somebody else's) */
  gifted: boolean;
}

/**
 * Who owns a code, as SQL over CODE_OWNERSHIP_JOIN (codes c, its order o, its
 * wallet holding h): a claimed gift's receiver, else the order's customer
 * buyer. Every wallet query asks it this one way.
 */
export const CODE_OWNER = `coalesce(h.customer_id, case when o.buyer_type = 'customer' then o.buyer_id end)`;
export const CODE_OWNERSHIP_JOIN = `codes c left join orders o on o.id = c.order_id left join wallet_holdings h on h.code_id = c.id`;

/**
 * Reads a code and its current owner, locking the code row (FOR UPDATE OF c)
 * so a gift, a claim and a reveal of the same code run one after the other.
 */
export async function lockOwnedCode(db: DbOrTx, codeId: string): Promise<OwnedCode | null> {
  const [r] = await queryRows<{ id: string; state: string; sku_id: string; expires_at: Date | string | null; order_id: string | null; owner: string | null; gifted: boolean }>(
    db,
    `select c.id, c.state, c.sku_id, c.expires_at, c.order_id, ${CODE_OWNER} as owner, h.customer_id is not null as gifted
       from ${CODE_OWNERSHIP_JOIN}
      where c.id = $1 for update of c`,
    [codeId],
  );
  if (!r) return null;
  return { ...r, expires_at: r.expires_at ? new Date(r.expires_at) : null };
}

/** Codes of these that left their order's buyer (a claimed gift) or are promised to a friend (a pending, unexpired gift). */
export async function codesInWalletHands(db: DbOrTx, codeIds: string[], now: Date): Promise<Set<string>> {
  if (codeIds.length === 0) return new Set();
  const rows = await queryRows<{ code_id: string }>(
    db,
    `select code_id from wallet_holdings where code_id = any($1::text[])
     union select code_id from wallet_gifts where code_id = any($1::text[]) and status = 'pending' and expires_at > $2::timestamptz`,
    [codeIds, now.toISOString()],
  );
  return new Set(rows.map((r) => r.code_id));
}
