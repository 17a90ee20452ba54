import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import type { PageResult } from '../../lib/pagination.js';
import type { VaultService } from '../vault/service.js';
import { CODE_OWNER, CODE_OWNERSHIP_JOIN, codesInWalletHands, lockOwnedCode } from './ownership.js';
import { createGifting, type GiftingSettings } from './gifting.js';

export const walletGroups = ['ready', 'revealed', 'redeemed', 'expiring_soon', 'expired'] as const;
export type WalletGroup = (typeof walletGroups)[number];

export interface WalletItem {
  id: string;
  group: WalletGroup;
  state: string;
  sku_id: string;
  sku_name: string;
  product_name: string;
  usage_instructions: string;
  expires_at: string | null;
  secret_masked: string;
  /** how the customer got it: its own purchase (order_id set) or a gift */
  acquired: 'purchase' | 'gift';
  order_id: string | null;
  /** one-tap activation: the brand's redemption page (the code is filled in when revealed) */
  activation: { kind: 'url'; redeem_url: string } | null;
  /** an unrevealed code with no open gift, not expired */
  giftable: boolean;
  pending_gift: { id: string; expires_at: string } | null;
}

export interface RevealedCode {
  code_id: string;
  card_number: string | null;
  secret: string;
  usage_instructions: string;
  /** the brand's redemption URL with this code filled in ({code}), when the SKU has one */
  activation_url: string | null;
}

/** A code's current owner as the wallet defines it (see ownership.ts). */
export interface CodeOwnership {
  id: string;
  state: string;
  order_id: string | null;
  owner: string | null;
  /** the owner got it as a gift: its order (and the money paid) is the giver's */
  gifted: boolean;
}

export interface WalletSettings extends GiftingSettings {
  /** a code expiring within this many days is "expiring soon" */
  expiringSoonDays: number;
}

const DAY_MS = 86_400_000;

/**
 * The wallet (资产包): every code a customer owns, i.e. the codes of its own
 * orders that it has not given away, plus the codes it received as gifts.
 * Ownership moves only through a claimed gift (gifting.ts), which writes a
 * wallet_holdings row in the claim's transaction; without one, a code belongs
 * to its order's buyer. Secrets leave only through `reveal`, to the owner.
 */
export function createWalletService(p: Platform, deps: { vault: Pick<VaultService, 'transition' | 'openCodes' | 'codesOfOrder'> }, settings: WalletSettings) {
  const gifting = createGifting(p, settings);

  /** One page of the customer's codes (newest code first), optionally one group; with the count of every group. */
  async function list(customerId: string, q: { limit: number; cursor?: string; state?: WalletGroup; expiringSoonDays?: number }): Promise<PageResult<WalletItem> & { counts: Record<WalletGroup, number> }> {
    const now = p.clock.now();
    const soon = new Date(now.getTime() + (q.expiringSoonDays ?? settings.expiringSoonDays) * DAY_MS);
    // The owned codes, each with its group; the two halves of `owned` each use an index (orders by buyer, holdings by customer).
    const base = `
      with owned as (
        select c.id, 'purchase' as via from orders o join codes c on c.order_id = o.id
         where o.buyer_type = 'customer' and o.buyer_id = $1 and not exists (select 1 from wallet_holdings h where h.code_id = c.id)
        union all
        select h.code_id, 'gift' from wallet_holdings h where h.customer_id = $1
      ), items as (
        select c.id, c.state, c.sku_id, c.last4, c.expires_at, c.order_id, w.via, s.name as sku_name, s.usage_instructions, s.redeem_url, pr.name as product_name,
               case when c.state = 'redeemed' then 'redeemed'
                    when c.expires_at is not null and c.expires_at <= $2::timestamptz then 'expired'
                    when c.expires_at is not null and c.expires_at <= $3::timestamptz then 'expiring_soon'
                    when c.state = 'revealed' then 'revealed'
                    else 'ready' end as grp
          from owned w join codes c on c.id = w.id join skus s on s.id = c.sku_id join products pr on pr.id = s.product_id
         where c.state in ('delivered', 'revealed', 'redeemed')
      )`;
    const params = [customerId, now.toISOString(), soon.toISOString()];
    const rows = await queryRows<{ id: string; state: string; sku_id: string; last4: string; expires_at: string | null; order_id: string | null; via: 'purchase' | 'gift'; sku_name: string; usage_instructions: string; redeem_url: string | null; product_name: string; grp: WalletGroup }>(
      p.db,
      `${base} select * from items where ($4::text is null or grp = $4) and ($5::text is null or id < $5) order by id desc limit $6`,
      [...params, q.state ?? null, q.cursor ?? null, q.limit + 1],
    );
    const countRows = await queryRows<{ grp: WalletGroup; n: number | string }>(p.db, `${base} select grp, count(*) as n from items group by grp`, params);
    const hasMore = rows.length > q.limit;
    const page = hasMore ? rows.slice(0, q.limit) : rows;
    const gifts = await gifting.pendingOf(page.map((r) => r.id));
    const counts = Object.fromEntries(walletGroups.map((g) => [g, 0])) as Record<WalletGroup, number>;
    for (const r of countRows) counts[r.grp] = Number(r.n);
    const data = page.map((r): WalletItem => {
      const gift = gifts.get(r.id);
      const expired = r.grp === 'expired';
      return {
        id: r.id,
        group: r.grp,
        state: r.state,
        sku_id: r.sku_id,
        sku_name: r.sku_name,
        product_name: r.product_name,
        usage_instructions: r.usage_instructions,
        expires_at: r.expires_at ? new Date(r.expires_at).toISOString() : null,
        secret_masked: `****${r.last4}`,
        acquired: r.via,
        // A gift's receiver does not see the giver's order.
        order_id: r.via === 'purchase' ? r.order_id : null,
        activation: r.redeem_url ? { kind: 'url', redeem_url: r.redeem_url } : null,
        giftable: r.state === 'delivered' && !gift && !expired,
        pending_gift: gift ? { id: gift.id, expires_at: gift.expiresAt.toISOString() } : null,
      };
    });
    return { data, has_more: hasMore, next_cursor: hasMore ? (data.at(-1)?.id ?? null) : null, counts };
  }

  /**
   * The owner sees one code in clear: marked revealed in the code's own
   * history (like orders.revealCodes). Anybody else is told it does not
   * exist; a code promised in an open gift stays hidden until the gift is
   * cancelled or expires (the friend would otherwise get a seen code).
   */
  async function reveal(codeId: string, customerId: string, actor: { apiKeyOwner?: string } = {}): Promise<RevealedCode> {
    return p.db.transaction(async (tx) => {
      const code = await lockOwnedCode(tx, codeId);
      if (!code || code.owner !== customerId) throw notFound('code', codeId);
      if (code.state !== 'delivered' && code.state !== 'revealed') throw new AppError('CONFLICT', `the code is ${code.state}; it cannot be shown`, { code: 'CODE_NOT_SHOWABLE', state: code.state });
      const pending = await gifting.pendingOf([codeId], tx);
      if (pending.size) throw new AppError('CONFLICT', 'this code is in an open gift: cancel the gift to see it', { code: 'GIFT_PENDING', gift_id: pending.get(codeId)!.id });
      if (code.state === 'delivered') await deps.vault.transition([codeId], 'reveal', { actorType: 'customer', actorId: customerId, ref: actor.apiKeyOwner ? `wallet via ${actor.apiKeyOwner}` : 'wallet' }, tx);
      const plain = (await deps.vault.openCodes([codeId], tx)).get(codeId)!;
      const [sku] = await queryRows<{ usage_instructions: string; redeem_url: string | null }>(tx, 'select usage_instructions, redeem_url from skus where id = $1', [code.sku_id]);
      const url = sku?.redeem_url ?? null;
      return {
        code_id: codeId,
        card_number: plain.cardNumber ?? null,
        secret: plain.secret,
        usage_instructions: sku?.usage_instructions ?? '',
        activation_url: url ? url.replaceAll('{code}', encodeURIComponent(plain.secret)) : null,
      };
    });
  }

  /**
   * The order's codes still in its buyer's hands: the vault's list without the
   * codes given away (or promised in an open gift). Handed to the orders module
   * in place of vault.codesOfOrder, so an order-level reveal or refund never
   * reaches a code that now belongs to somebody else.
   */
  async function codesOfOrderWithBuyer(orderId: string, db?: DbOrTx): Promise<{ id: string; state: string }[]> {
    const held = await deps.vault.codesOfOrder(orderId, db);
    // Only delivered codes can have been gifted: a sale in progress (reserved, sold) costs no extra query.
    const handed = held.filter((c) => c.state === 'delivered' || c.state === 'revealed' || c.state === 'redeemed');
    if (handed.length === 0) return held;
    const away = await codesInWalletHands(db ?? p.db, handed.map((c) => c.id), p.clock.now());
    return away.size ? held.filter((c) => !away.has(c.id)) : held;
  }

  /** The customer who owns a code now (a claimed gift's receiver, else its order's customer buyer), or null. */
  async function ownerOfCode(codeId: string, db: DbOrTx = p.db): Promise<string | null> {
    const [r] = await queryRows<{ owner: string | null }>(
      db,
      `select ${CODE_OWNER} as owner from ${CODE_OWNERSHIP_JOIN} where c.id = $1`,
      [codeId],
    );
    return r?.owner ?? null;
  }

  /**
   * Who holds each of these codes now (CODE_OWNER), with its order and state:
   * after-sales asks it so the current owner (a gift's receiver) reports a
   * code and the giver cannot. Unknown codes are absent from the map.
   */
  async function ownershipOfCodes(codeIds: string[], db: DbOrTx = p.db): Promise<Map<string, CodeOwnership>> {
    if (codeIds.length === 0) return new Map();
    const rows = await queryRows<CodeOwnership>(
      db,
      `select c.id, c.state, c.order_id, ${CODE_OWNER} as owner, h.customer_id is not null as gifted from ${CODE_OWNERSHIP_JOIN} where c.id = any($1::text[])`,
      [codeIds],
    );
    return new Map(rows.map((r) => [r.id, r]));
  }

  return { list, reveal, codesOfOrderWithBuyer, ownerOfCode, ownershipOfCodes, ...gifting };
}

export type WalletService = ReturnType<typeof createWalletService>;
