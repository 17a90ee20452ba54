import { and, eq, isNull } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { hmacSha256Hex } from '../../lib/crypto.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId, randomToken } from '../../lib/ids.js';
import type { AuditEntry, AuditService } from '../audit/service.js';
import type { VaultService } from '../vault/service.js';
import type { TransitionContext } from '../vault/stock.js';
import { orders, revealTokens } from './schema.js';
import type { DeliveredCode } from './service.js';

/** The longest a link may stay valid: a week covers "forward it to the buyer tomorrow". */
export const MAX_REVEAL_TTL_MINUTES = 7 * 24 * 60;

/** 32 random bytes, base64url: 43 characters, 256 bits. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Unknown, expired, used and malformed tokens all get this one answer, so a
 * guesser learns nothing about which tokens exist.
 */
export const REVEAL_LINK_GONE = 'This link is invalid, has expired or was already used.';
const gone = () => new AppError('NOT_FOUND', REVEAL_LINK_GONE);

/** Who asks for a link: audited with the link's id (never the token). */
export interface RevealLinkIssuer {
  actorType: 'staff' | 'api_key' | 'system';
  actorId: string;
  ip?: string;
  /** For an API key: the owner ("partner:p1", "agent:agt_…") that must have placed the order; anybody else gets 404. */
  apiKeyOwner?: string;
}

export interface IssuedRevealLink {
  tokenId: string;
  /** The clear token: returned once, never stored. */
  token: string;
  url: string;
  expiresAt: Date;
}

export interface RevealedOrder {
  order: { id: string; sku_id: string; quantity: number; delivered_at: string | null };
  codes: DeliveredCode[];
}

export interface RevealTokenDeps {
  audit: AuditService;
  vault: VaultService;
}

/** States whose codes belong to the buyer and may be shown. */
const showable = (state: string) => state === 'delivered' || state === 'revealed';

/**
 * The order's delivered codes, in the caller's transaction: first-time ones
 * move to `revealed` (recorded in each code's history), all are decrypted.
 * The owner check is the caller's (a redeemed token, a signed request).
 */
export async function revealOrderCodes(deps: Pick<RevealTokenDeps, 'vault'>, tx: Tx, orderId: string, ctx: TransitionContext): Promise<DeliveredCode[]> {
  const held = (await deps.vault.codesOfOrder(orderId, tx)).filter((c) => showable(c.state));
  const firstTime = held.filter((c) => c.state === 'delivered').map((c) => c.id);
  if (firstTime.length) await deps.vault.transition(firstTime, 'reveal', ctx, tx);
  const plain = await deps.vault.openCodes(held.map((c) => c.id), tx);
  return held.map((c) => ({ code_id: c.id, card_number: plain.get(c.id)?.cardNumber ?? null, secret: plain.get(c.id)!.secret }));
}

/**
 * One-time links that show an order's codes to whoever holds them (the
 * buyer, or the customer a partner forwards the link to). Only a keyed hash
 * of the token is stored, so neither the database nor its backups can
 * reveal anything; redeeming locks the token row, so of two simultaneous
 * redeems exactly one gets the codes.
 */
export function createRevealTokenService(p: Platform, deps: RevealTokenDeps, settings: { publicUrl: string }) {
  const baseUrl = settings.publicUrl.replace(/\/+$/, '');
  // Keyed, so a copy of the table cannot even be checked against guessed tokens.
  const hashOf = (token: string) => hmacSha256Hex(p.hmacKey, `reveal-token:${token}`);

  async function lockOrder(tx: Tx, orderId: string) {
    const [o] = await tx.select().from(orders).where(eq(orders.id, orderId)).for('update');
    return o;
  }

  /** A new link for a delivered order. The clear token is in the answer only. */
  async function issue(orderId: string, opts: { ttlMinutes: number; issuedFor: RevealLinkIssuer }): Promise<IssuedRevealLink> {
    const { ttlMinutes, issuedFor } = opts;
    if (!Number.isInteger(ttlMinutes) || ttlMinutes < 1 || ttlMinutes > MAX_REVEAL_TTL_MINUTES) {
      throw new AppError('VALIDATION_FAILED', `ttl_minutes: must be 1-${MAX_REVEAL_TTL_MINUTES}`, [{ field: 'ttl_minutes', message: `must be 1-${MAX_REVEAL_TTL_MINUTES}` }]);
    }
    return p.db.transaction(async (tx) => {
      const o = await lockOrder(tx, orderId);
      // Not "forbidden": an order number alone must not even confirm that the order exists.
      if (!o || (issuedFor.apiKeyOwner !== undefined && o.apiKeyOwner !== issuedFor.apiKeyOwner)) throw notFound('order', orderId);
      const codes = (await deps.vault.codesOfOrder(orderId, tx)).filter((c) => showable(c.state));
      if (codes.length === 0) throw new AppError('CONFLICT', `order ${orderId} has no delivered codes to show (it is ${o.status})`, { status: o.status });
      const now = p.clock.now();
      const token = randomToken(32);
      const row = { id: newId('rvt', now), orderId, tokenHash: hashOf(token), expiresAt: new Date(now.getTime() + ttlMinutes * 60_000), createdAt: now };
      await tx.insert(revealTokens).values(row);
      await deps.audit.record(
        {
          actorType: issuedFor.actorType,
          actorId: issuedFor.actorId,
          action: 'order.reveal_link.issue',
          targetType: 'order',
          targetId: orderId,
          ip: issuedFor.ip,
          details: { token_id: row.id, expires_at: row.expiresAt.toISOString(), codes: codes.length },
        },
        tx,
      );
      return { tokenId: row.id, token, url: `${baseUrl}/r/${token}`, expiresAt: row.expiresAt };
    });
  }

  async function findLive(db: DbOrTx, token: string, lock: boolean) {
    if (!TOKEN_PATTERN.test(token)) return undefined;
    const q = db.select().from(revealTokens).where(eq(revealTokens.tokenHash, hashOf(token)));
    const [row] = lock ? await q.for('update') : await q;
    if (!row || row.usedAt || row.expiresAt.getTime() <= p.clock.now().getTime()) return undefined;
    return row;
  }

  /**
   * Whether a link would still work, without using it: the confirmation page
   * that link previews and scanners see, so they do not burn the link.
   */
  async function peek(token: string): Promise<{ expiresAt: Date }> {
    const row = await findLive(p.db, token, false);
    if (!row) throw gone();
    return { expiresAt: row.expiresAt };
  }

  /**
   * Uses a link: in one transaction the token row is locked and checked,
   * marked used, the order's codes revealed and the reveal audited (with the
   * link's id and the caller's IP, never the token). A link whose order has
   * no codes left to show (refunded meanwhile) is refused and not used up.
   */
  async function redeem(token: string, meta: { ip?: string; userAgent?: string }): Promise<RevealedOrder> {
    return p.db.transaction(async (tx) => {
      const row = await findLive(tx, token, true);
      if (!row) throw gone();
      const o = await lockOrder(tx, row.orderId);
      if (!o) throw gone();
      const now = p.clock.now();
      const used = await tx.update(revealTokens).set({ usedAt: now }).where(and(eq(revealTokens.id, row.id), isNull(revealTokens.usedAt))).returning({ id: revealTokens.id });
      if (used.length !== 1) throw gone();
      const codes = await revealOrderCodes(deps, tx, o.id, { actorType: 'customer', actorId: row.id, ref: o.id });
      if (codes.length === 0) throw gone();
      const entry: AuditEntry = {
        actorType: 'customer',
        actorId: row.id,
        action: 'order.codes.reveal',
        targetType: 'order',
        targetId: o.id,
        ip: meta.ip,
        details: { via: 'reveal_token', token_id: row.id, code_ids: codes.map((c) => c.code_id), user_agent: meta.userAgent?.slice(0, 200) ?? null },
      };
      await deps.audit.record(entry, tx);
      return { order: { id: o.id, sku_id: o.skuId, quantity: o.quantity, delivered_at: o.deliveredAt?.toISOString() ?? null }, codes };
    });
  }

  return { issue, peek, redeem };
}

export type RevealTokenService = ReturnType<typeof createRevealTokenService>;
