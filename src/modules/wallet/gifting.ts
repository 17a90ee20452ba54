import { createHmac } from 'node:crypto';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';
import { sha256Hex } from '../../lib/crypto.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { createIdempotency } from '../orders/idempotency.js';
import { lockOwnedCode } from './ownership.js';

export interface GiftingSettings {
  /** how long a claim token stays valid */
  giftTtlHours: number;
  /** where claim links point (the mini-program or web page that posts the claim) */
  publicUrl: string;
}

export type GiftStatus = 'pending' | 'claimed' | 'cancelled' | 'expired' | 'void';

export interface GiftView {
  id: string;
  code_id: string;
  status: GiftStatus;
  message: string | null;
  expires_at: string;
  created_at: string;
  claimed_at: string | null;
  cancelled_at: string | null;
}

/** A new gift as its giver sees it: the only time (besides a replay of the same Idempotency-Key) the token is shown. */
export interface GiftCard extends GiftView {
  token: string;
  claim_url: string;
  card_text: string;
  product_name: string;
  sku_name: string;
}

interface GiftRow {
  id: string;
  code_id: string;
  giver_id: string;
  status: GiftStatus;
  message: string | null;
  expires_at: string;
  created_at: string;
  claimed_by: string | null;
  claimed_at: string | null;
  cancelled_at: string | null;
}

const iso = (v: string | null) => (v ? new Date(v).toISOString() : null);
const toView = (g: GiftRow): GiftView => ({ id: g.id, code_id: g.code_id, status: g.status, message: g.message, expires_at: iso(g.expires_at)!, created_at: iso(g.created_at)!, claimed_at: iso(g.claimed_at), cancelled_at: iso(g.cancelled_at) });
const giftColumns = 'id, code_id, giver_id, status, message, expires_at, created_at, claimed_by, claimed_at, cancelled_at';

/**
 * Gifting an unrevealed code. The giver gets a single-use claim token (256
 * bits; only its SHA-256 is stored); the friend who presents it first becomes
 * the owner, in one transaction that locks the code row and moves the gift
 * from pending to claimed with a conditional UPDATE: of many claimers exactly
 * one wins. Until then the code stays the giver's: cancelling or letting the
 * gift expire changes nothing else.
 */
export function createGifting(p: Platform, settings: GiftingSettings) {
  const idempotency = createIdempotency(p);
  // The token is derived from the gift id (a ULID with 80 random bits) under the server's HMAC key, so a retry with
  // the same Idempotency-Key can show it again without the token ever being stored; the database alone cannot rebuild it.
  const tokenOf = (giftId: string) => createHmac('sha256', p.hmacKey).update(`wallet-gift-token:${giftId}`).digest('base64url');
  const hashOf = (token: string) => sha256Hex(`wallet-gift:${token}`);

  async function card(db: DbOrTx, g: GiftRow): Promise<GiftCard> {
    const [names] = await queryRows<{ sku_name: string; product_name: string }>(db, 'select s.name as sku_name, pr.name as product_name from codes c join skus s on s.id = c.sku_id join products pr on pr.id = s.product_id where c.id = $1', [g.code_id]);
    const token = tokenOf(g.id);
    const claimUrl = `${settings.publicUrl.replace(/\/$/, '')}/wallet/claim?token=${token}`;
    const what = `${names?.product_name ?? ''} ${names?.sku_name ?? ''}`.trim();
    const until = iso(g.expires_at)!.slice(0, 16).replace('T', ' ');
    const cardText = [
      `🎁 送你一份礼物：${what}。请在 ${until} (UTC) 前领取：${claimUrl} ，或向机器人发送“领取 ${token}”。`,
      `🎁 A gift for you: ${what}. Claim it before ${until} UTC: ${claimUrl} or send "claim ${token}" to our bot.`,
      ...(g.message ? [`“${g.message}”`] : []),
    ].join('\n');
    return { ...toView(g), token, claim_url: claimUrl, card_text: cardText, product_name: names?.product_name ?? '', sku_name: names?.sku_name ?? '' };
  }

  /**
   * The owner gifts one of its unrevealed codes. Refused: 404 not its code,
   * 409 revealed (CODE_REVEALED) or otherwise not deliverable, 409 already in
   * an open gift, 422 expired. Idempotent on the key when one is given.
   */
  async function give(input: { codeId: string; giverId: string; message?: string; ttlHours?: number; idempotency?: { scope: string; key: string } }): Promise<{ statusCode: 200 | 201; gift: GiftCard }> {
    return p.db.transaction(async (tx) => {
      const now = p.clock.now();
      const giftId = newId('gft', now);
      const ttlHours = input.ttlHours ?? settings.giftTtlHours;
      if (input.idempotency) {
        const request = { code_id: input.codeId, giver: input.giverId, message: input.message ?? null, ttl_hours: ttlHours };
        const prior = await idempotency.claim(tx, input.idempotency.scope, input.idempotency.key, request, { statusCode: 201, body: { gift_id: giftId } });
        if (prior) return { statusCode: 200, gift: await card(tx, await giftRow(tx, (prior.body as { gift_id: string }).gift_id)) };
      }
      const code = await lockOwnedCode(tx, input.codeId);
      if (!code || code.owner !== input.giverId) throw notFound('code', input.codeId);
      if (code.state === 'revealed') throw new AppError('CONFLICT', 'a revealed code cannot be gifted: its secret has been seen', { code: 'CODE_REVEALED' });
      if (code.state !== 'delivered') throw new AppError('CONFLICT', `the code is ${code.state}; only an unrevealed code can be gifted`, { code: 'CODE_NOT_GIFTABLE', state: code.state });
      if (code.expires_at && code.expires_at <= now) throw new AppError('UNPROCESSABLE', 'the code has expired', { code: 'CODE_EXPIRED' });
      // A lapsed gift of this code no longer holds it (and must not block the unique index of open gifts).
      await queryRows(tx, `update wallet_gifts set status = 'expired' where code_id = $1 and status = 'pending' and expires_at <= $2::timestamptz`, [input.codeId, now.toISOString()]);
      const open = await pendingOf([input.codeId], tx);
      if (open.size) throw new AppError('CONFLICT', 'this code is already in an open gift; cancel it first', { code: 'GIFT_PENDING', gift_id: open.get(input.codeId)!.id });
      const expiresAt = new Date(now.getTime() + ttlHours * 3_600_000);
      const [row] = await queryRows<GiftRow>(
        tx,
        `insert into wallet_gifts (id, code_id, giver_id, token_hash, status, message, expires_at, created_at) values ($1, $2, $3, $4, 'pending', $5, $6::timestamptz, $7::timestamptz) returning ${giftColumns}`,
        [giftId, input.codeId, input.giverId, hashOf(tokenOf(giftId)), input.message ?? null, expiresAt.toISOString(), now.toISOString()],
      );
      return { statusCode: 201, gift: await card(tx, row!) };
    });
  }

  async function giftRow(db: DbOrTx, giftId: string): Promise<GiftRow> {
    const [g] = await queryRows<GiftRow>(db, `select ${giftColumns} from wallet_gifts where id = $1`, [giftId]);
    if (!g) throw notFound('gift', giftId);
    return g;
  }

  /**
   * The friend claims with the token. The code row is locked first (the same
   * order as a gift and a reveal take), then the gift moves pending -> claimed
   * only if it still is pending and unexpired: a racing claimer finds it
   * claimed and is refused (409 GIFT_CLAIMED). If the code left the giver
   * meanwhile (refunded, revealed), the gift is voided and nothing moves.
   */
  async function claim(token: string, customerId: string): Promise<{ gift: GiftView; code_id: string }> {
    const hash = hashOf(token);
    const out = await p.db.transaction(async (tx): Promise<{ gift: GiftView; code_id: string } | AppError> => {
      const now = p.clock.now();
      const [found] = await queryRows<GiftRow>(tx, `select ${giftColumns} from wallet_gifts where token_hash = $1`, [hash]);
      if (!found) throw notFound('gift');
      const code = await lockOwnedCode(tx, found.code_id);
      const [won] = await queryRows<GiftRow>(
        tx,
        `update wallet_gifts set status = 'claimed', claimed_by = $2, claimed_at = $3::timestamptz
          where id = $1 and status = 'pending' and expires_at > $3::timestamptz and giver_id <> $2 returning ${giftColumns}`,
        [found.id, customerId, now.toISOString()],
      );
      if (!won) return refusal(tx, await giftRow(tx, found.id), customerId, now);
      if (!code || code.owner !== won.giver_id || code.state !== 'delivered') {
        // Committed as void (not rolled back): the token is dead for good, and the reason is kept.
        await queryRows(tx, `update wallet_gifts set status = 'void', claimed_by = null, claimed_at = null where id = $1`, [won.id]);
        return new AppError('CONFLICT', 'this gift can no longer be claimed: the code has changed hands or been used', { code: 'GIFT_VOID' });
      }
      await queryRows(
        tx,
        `insert into wallet_holdings (code_id, customer_id, gift_id, acquired_at) values ($1, $2, $3, $4::timestamptz)
         on conflict (code_id) do update set customer_id = excluded.customer_id, gift_id = excluded.gift_id, acquired_at = excluded.acquired_at`,
        [won.code_id, customerId, won.id, now.toISOString()],
      );
      return { gift: toView(won), code_id: won.code_id };
    });
    if (out instanceof AppError) throw out;
    return out;
  }

  /** Why a claim did not win, as an error; a pending gift found past its expiry is marked expired on the way (committed). */
  async function refusal(tx: Tx, g: GiftRow, customerId: string, now: Date): Promise<AppError> {
    if (g.status === 'pending' && g.giver_id === customerId) return new AppError('UNPROCESSABLE', 'you cannot claim your own gift; cancel it instead', { code: 'OWN_GIFT' });
    if (g.status === 'pending' && new Date(g.expires_at) <= now) {
      await queryRows(tx, `update wallet_gifts set status = 'expired' where id = $1 and status = 'pending'`, [g.id]);
      return new AppError('CONFLICT', 'this gift has expired; the code went back to the giver', { code: 'GIFT_EXPIRED' });
    }
    const code = { claimed: 'GIFT_CLAIMED', cancelled: 'GIFT_CANCELLED', expired: 'GIFT_EXPIRED', void: 'GIFT_VOID', pending: 'GIFT_CLAIMED' }[g.status];
    return new AppError('CONFLICT', `this gift is ${g.status === 'pending' ? 'being claimed' : g.status}`, { code });
  }

  /** The giver takes an open gift back; the token stops working at once. */
  async function cancel(giftId: string, giverId: string): Promise<GiftView> {
    const [row] = await queryRows<GiftRow>(p.db, `update wallet_gifts set status = 'cancelled', cancelled_at = $3::timestamptz where id = $1 and giver_id = $2 and status = 'pending' returning ${giftColumns}`, [giftId, giverId, p.clock.now().toISOString()]);
    if (row) return toView(row);
    const [g] = await queryRows<GiftRow>(p.db, `select ${giftColumns} from wallet_gifts where id = $1`, [giftId]);
    if (!g || g.giver_id !== giverId) throw notFound('gift', giftId);
    throw new AppError('CONFLICT', `this gift is ${g.status}; it cannot be cancelled`, { code: `GIFT_${g.status.toUpperCase()}` });
  }

  /** The open (pending, unexpired) gift of each of these codes. */
  async function pendingOf(codeIds: string[], db: DbOrTx = p.db): Promise<Map<string, { id: string; expiresAt: Date }>> {
    if (codeIds.length === 0) return new Map();
    const rows = await queryRows<{ id: string; code_id: string; expires_at: string }>(db, `select id, code_id, expires_at from wallet_gifts where code_id = any($1::text[]) and status = 'pending' and expires_at > $2::timestamptz`, [codeIds, p.clock.now().toISOString()]);
    return new Map(rows.map((r) => [r.code_id, { id: r.id, expiresAt: new Date(r.expires_at) }]));
  }

  /** Marks lapsed gifts expired (the codes never left their givers; this only tidies the status). */
  async function expireDue(limit = 1000): Promise<number> {
    const rows = await queryRows(p.db, `update wallet_gifts set status = 'expired' where id in (select id from wallet_gifts where status = 'pending' and expires_at <= $1::timestamptz order by expires_at limit $2) and status = 'pending' returning id`, [p.clock.now().toISOString(), limit]);
    return rows.length;
  }

  async function getGift(giftId: string, giverId: string): Promise<GiftView> {
    const [g] = await queryRows<GiftRow>(p.db, `select ${giftColumns} from wallet_gifts where id = $1`, [giftId]);
    if (!g || g.giver_id !== giverId) throw notFound('gift', giftId);
    return toView(g);
  }

  return { give, claim, cancel, pendingOf, expireDue, getGift };
}
