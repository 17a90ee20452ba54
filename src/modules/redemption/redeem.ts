import { and, eq, isNull, gt } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Tx } from '../../db/client.js';
import { pgErrorCode } from '../agents/bindings.js';
import { createIdempotency } from '../orders/idempotency.js';
import type { CatalogService } from '../catalog/service.js';
import type { VaultService } from '../vault/service.js';
import { canTransition, type CodeState } from '../vault/code-state.js';
import { merchantProducts, redemptionQrTokens, redemptions } from './schema.js';
import { QR_TTL_MS, checkQrToken, looksLikeQrToken, signQrToken } from './qr-token.js';
import type { StoreStaffPrincipal } from './service.js';

/** Who owns a code now (a customer id), or null: today the buyer of its order; the wallet's gifting may override it. */
export type CodeOwnerLookup = (code: { id: string; orderId: string | null }) => Promise<string | null>;

export type RefusalReason = 'NOT_ACCEPTED_HERE' | 'ALREADY_REDEEMED' | 'NOT_DELIVERED' | 'EXPIRED' | 'VOIDED';

export interface CodeCheck {
  code: { id: string; sku_id: string; product_id: string; product_name: string; sku_name: string; face_value_fen: number; secret_masked: string; state: string; expires_at: string | null };
  redeemable: boolean;
  reason: RefusalReason | null;
  via: 'code' | 'qr';
}

const refusalMessages: Record<RefusalReason, string> = {
  NOT_ACCEPTED_HERE: 'this merchant does not accept this product',
  ALREADY_REDEEMED: 'this code was already redeemed',
  NOT_DELIVERED: 'this code has not been sold to anybody',
  EXPIRED: 'this code has expired',
  VOIDED: 'this code was voided',
};

/**
 * Verify and redeem at a store. A code is found by the keyed hash of its
 * secret (never by decrypting anything) or through a QR token; answers never
 * carry the secret. Redeeming is one transaction: the vault's 'redeem'
 * transition only moves a code still delivered or revealed (row locked), and
 * the unique redemption row per code backs it up, so of any number of racing
 * staff exactly one succeeds.
 */
export function createRedeemer(p: Platform, deps: { vault: VaultService; catalog: CatalogService; ownerOfCode: CodeOwnerLookup }) {
  const idempotency = createIdempotency(p);

  /** The code behind what staff typed or scanned; a QR token's use is checked here only for verify (redeem consumes it atomically). */
  async function find(input: string, opts: { requireUnusedQr: boolean }): Promise<{ codeId: string; qrTokenId: string | null }> {
    if (looksLikeQrToken(input)) {
      const check = checkQrToken(p.hmacKey, input, p.clock.now());
      if (!check.ok) {
        if (check.reason === 'expired') throw new AppError('UNPROCESSABLE', 'this QR code has expired: ask the customer to refresh it', { reason: 'QR_EXPIRED' });
        throw new AppError('NOT_FOUND', 'this QR code is not valid', { reason: 'QR_INVALID' });
      }
      const [row] = await p.db.select().from(redemptionQrTokens).where(eq(redemptionQrTokens.id, check.id));
      if (!row) throw new AppError('NOT_FOUND', 'this QR code is not valid', { reason: 'QR_INVALID' });
      if (opts.requireUnusedQr && row.usedAt) throw new AppError('CONFLICT', 'this QR code was already used', { reason: 'QR_USED' });
      return { codeId: row.codeId, qrTokenId: row.id };
    }
    const [hit] = await deps.vault.findLeaked({ secrets: [input] });
    const match = hit?.matches[0];
    if (!match) throw new AppError('NOT_FOUND', 'no such code', { reason: 'UNKNOWN_CODE' });
    return { codeId: match.id, qrTokenId: null };
  }

  async function check(staff: StoreStaffPrincipal, input: string, opts: { requireUnusedQr: boolean }): Promise<CodeCheck & { codeId: string; qrTokenId: string | null }> {
    const found = await find(input.trim(), opts);
    const code = await deps.vault.getCode(found.codeId);
    const sku = await deps.catalog.getSku(code.sku_id);
    const product = await deps.catalog.getProduct(sku.productId);
    const [accepted] = await p.db
      .select({ productId: merchantProducts.productId })
      .from(merchantProducts)
      .where(and(eq(merchantProducts.merchantId, staff.merchantId), eq(merchantProducts.productId, sku.productId)));
    const state = code.state as CodeState;
    const expired = state === 'expired' || (code.expires_at !== null && new Date(code.expires_at) <= p.clock.now());
    const reason: RefusalReason | null = !accepted
      ? 'NOT_ACCEPTED_HERE'
      : state === 'redeemed'
        ? 'ALREADY_REDEEMED'
        : expired
          ? 'EXPIRED'
          : state === 'voided' || state === 'recycled'
            ? 'VOIDED'
            : !canTransition(state, 'redeem')
              ? 'NOT_DELIVERED'
              : null;
    return {
      codeId: found.codeId,
      qrTokenId: found.qrTokenId,
      via: found.qrTokenId ? 'qr' : 'code',
      redeemable: reason === null,
      reason,
      code: { id: code.id, sku_id: code.sku_id, product_id: sku.productId, product_name: product.name, sku_name: sku.name, face_value_fen: sku.faceValueFen, secret_masked: code.secret_masked, state: code.state, expires_at: code.expires_at },
    };
  }

  /** Says whether the code can be redeemed at this staff member's store, and why not. */
  async function verify(staff: StoreStaffPrincipal, input: string) {
    const c = await check(staff, input, { requireUnusedQr: true });
    return { redeemable: c.redeemable, reason: c.reason, message: c.reason ? refusalMessages[c.reason] : null, via: c.via, code: c.code, redeemed: c.reason === 'ALREADY_REDEEMED' ? await redemptionOfCode(c.codeId) : null };
  }

  async function redemptionOfCode(codeId: string, db: Tx | Platform['db'] = p.db) {
    const [r] = await db.select().from(redemptions).where(eq(redemptions.codeId, codeId));
    return r ? { redemption_id: r.id, store_id: r.storeId, redeemed_at: r.redeemedAt.toISOString() } : null;
  }

  const alreadyRedeemed = (details: unknown) => new AppError('CONFLICT', refusalMessages.ALREADY_REDEEMED, { reason: 'ALREADY_REDEEMED', redeemed: details });

  /** Redeems once (Idempotency-Key per staff member): 201 the first time, 200 with the same answer on a retry with the same key. */
  async function redeem(staff: StoreStaffPrincipal, input: string, idempotencyKey: string): Promise<{ statusCode: number; redemption: typeof redemptions.$inferSelect }> {
    const c = await check(staff, input, { requireUnusedQr: false });
    // Already redeemed is decided inside the transaction: a retry of our own success must replay, not fail.
    if (c.reason && c.reason !== 'ALREADY_REDEEMED') throw new AppError('UNPROCESSABLE', refusalMessages[c.reason], { reason: c.reason });
    const id = newId('rdm', p.clock.now());
    const request = { code: deps.vault.secretHmac(input.trim()) };
    const outcome = await p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, `store_staff:${staff.staffId}:redemption`, idempotencyKey, request, { statusCode: 201, body: { redemption_id: id } });
      if (prior) return { priorId: (prior.body as { redemption_id: string }).redemption_id };
      if (c.reason === 'ALREADY_REDEEMED') throw alreadyRedeemed(await redemptionOfCode(c.codeId, tx));
      const now = p.clock.now();
      if (c.qrTokenId) {
        const used = await tx
          .update(redemptionQrTokens)
          .set({ usedAt: now })
          .where(and(eq(redemptionQrTokens.id, c.qrTokenId), isNull(redemptionQrTokens.usedAt), gt(redemptionQrTokens.expiresAt, now)))
          .returning({ id: redemptionQrTokens.id });
        if (used.length === 0) throw new AppError('CONFLICT', 'this QR code was already used or has expired', { reason: 'QR_USED' });
      }
      try {
        await deps.vault.transition([c.codeId], 'redeem', { actorType: 'store_staff', actorId: staff.staffId, ref: id }, tx);
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'CONFLICT')) throw err;
        // Lost a race: to another redemption (the usual case), or to a void or expiry that came in between.
        const state = (err.details as { refused?: { state: string }[] } | null)?.refused?.[0]?.state;
        if (state && state !== 'redeemed') throw new AppError('UNPROCESSABLE', 'this code can no longer be redeemed', { reason: state === 'expired' ? 'EXPIRED' : 'VOIDED', state });
        throw alreadyRedeemed(await redemptionOfCode(c.codeId, tx));
      }
      try {
        await tx.insert(redemptions).values({ id, codeId: c.codeId, skuId: c.code.sku_id, productId: c.code.product_id, merchantId: staff.merchantId, storeId: staff.storeId, staffId: staff.staffId, faceValueFen: c.code.face_value_fen, via: c.via, qrTokenId: c.qrTokenId, redeemedAt: now });
      } catch (err) {
        if (pgErrorCode(err) === '23505') throw alreadyRedeemed(null);
        throw err;
      }
      return { priorId: null };
    });
    const redemptionId = outcome.priorId ?? id;
    const [row] = await p.db.select().from(redemptions).where(eq(redemptions.id, redemptionId));
    if (!row) throw notFound('redemption', redemptionId);
    return { statusCode: outcome.priorId ? 200 : 201, redemption: row };
  }

  /** A token the code's owner shows instead of the code; works once, for QR_TTL_MS. */
  async function issueQrToken(input: { customerId: string; codeId: string; issuedFor: string }) {
    let code: Awaited<ReturnType<VaultService['getCode']>>;
    try {
      code = await deps.vault.getCode(input.codeId);
    } catch {
      throw notFound('code', input.codeId);
    }
    // Somebody else's code: answered as if it did not exist.
    if ((await deps.ownerOfCode({ id: code.id, orderId: code.order_id })) !== input.customerId) throw notFound('code', input.codeId);
    const state = code.state as CodeState;
    if (state === 'redeemed') throw new AppError('CONFLICT', refusalMessages.ALREADY_REDEEMED, { reason: 'ALREADY_REDEEMED' });
    if (!canTransition(state, 'redeem') || (code.expires_at !== null && new Date(code.expires_at) <= p.clock.now())) {
      throw new AppError('UNPROCESSABLE', 'this code cannot be redeemed any more', { reason: state === 'voided' ? 'VOIDED' : 'EXPIRED', state });
    }
    const now = p.clock.now();
    const id = newId('rqt', now);
    const expiresAt = new Date(now.getTime() + QR_TTL_MS);
    await p.db.insert(redemptionQrTokens).values({ id, codeId: code.id, customerId: input.customerId, issuedFor: input.issuedFor, expiresAt, createdAt: now });
    return { token: signQrToken(p.hmacKey, id, expiresAt), code_id: code.id, expires_at: expiresAt.toISOString() };
  }

  return { verify, redeem, issueQrToken };
}
