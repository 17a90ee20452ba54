import type { Tx } from '../../db/client.js';
import { AppError } from '../../lib/errors.js';
import { accounts } from '../ledger/accounts.js';
import type { LedgerService } from '../ledger/service.js';
import type { CdkReward } from './cdk-schema.js';

/**
 * The services a CDK or referral reward goes through, as narrow as the
 * marketing contract states them (coupons and points are other slices; the
 * product reward is an order paid by the promotion budget).
 */
export interface CouponGranter {
  grant(tx: Tx, input: { templateId: string; customerId: string; source: string; sourceRef: string }): Promise<{ couponId: string; created: boolean }>;
}
export interface PointsAwarder {
  award(tx: Tx, input: { customerId: string; points: number; reason: string; refType: string; refId: string; expiresAt?: Date }): Promise<{ created: boolean }>;
}
export interface DeliveredCode {
  code_id: string;
  card_number: string | null;
  secret: string;
}
export interface PromotionOrders {
  createOrder(
    input: {
      buyer: { type: 'customer'; id: string };
      skuId: string;
      quantity: number;
      channel: string;
      payment: 'balance';
      paidBy: 'promotion';
      offer: { kind: 'cdk'; id: string; unitPriceFen: number; campaignId?: string | null };
      apiKeyOwner?: string;
      revealNow?: boolean;
    },
    tx: Tx,
  ): Promise<{ id: string; status: string; deliveredCodes?: DeliveredCode[] }>;
}

export interface RewardDeps {
  ledger: Pick<LedgerService, 'post'>;
  coupons?: CouponGranter;
  points?: PointsAwarder;
  orders?: PromotionOrders;
  /** A product reward's codes again, for a replayed redemption (orders.revealCodes: the key that placed the order sees them). */
  revealCodes?: (orderId: string, viewer: { apiKeyOwner: string }) => Promise<DeliveredCode[]>;
  /** The SKU's retail price (the product reward's order is priced at it), read in the caller's transaction. */
  retailPriceOf?: (skuId: string, tx: Tx) => Promise<number>;
}

export interface GrantedReward {
  kind: CdkReward['kind'];
  /** the order, coupon, ledger transaction or points ref */
  ref: string;
  order_id?: string;
  coupon_id?: string;
  amount_fen?: number;
  points?: number;
  codes?: DeliveredCode[];
}

/** Refuses, at configuration time, a reward whose service this installation does not have yet. */
export function assertRewardAvailable(deps: RewardDeps, kind: CdkReward['kind'], field: string): void {
  const missing = (kind === 'coupon' && !deps.coupons) || (kind === 'points' && !deps.points) || (kind === 'product' && (!deps.orders || !deps.retailPriceOf));
  if (missing) throw new AppError('UNPROCESSABLE', `${field}: ${kind} rewards are not available on this installation`, [{ field, message: `${kind} rewards not available` }]);
}

/** Promotional balance from the promotion budget: one balanced ledger transaction. */
export async function creditPromo(deps: RewardDeps, tx: Tx, to: { type: 'customer' | 'agent'; id: string }, amountFen: number, ref: { refType: string; refId: string; campaignId?: string | null }): Promise<string> {
  const account = to.type === 'agent' ? accounts.agentBalance(to.id) : accounts.customerPromo(to.id);
  return deps.ledger.post(tx, {
    kind: 'promotion_credit',
    refType: ref.refType,
    refId: ref.refId,
    campaignId: ref.campaignId ?? null,
    postings: [
      { account: accounts.promotionExpense, amountFen: -amountFen },
      { account, amountFen },
    ],
  });
}

/** Grants one CDK reward to a customer in the caller's transaction (a failure rolls the redemption back). */
export async function grantCdkReward(
  deps: RewardDeps,
  tx: Tx,
  reward: CdkReward,
  ctx: { customerId: string; redemptionId: string; batchId: string; campaignId: string | null; apiKeyOwner?: string },
): Promise<GrantedReward> {
  switch (reward.kind) {
    case 'balance': {
      const ltx = await creditPromo(deps, tx, { type: 'customer', id: ctx.customerId }, reward.amount_fen, { refType: 'cdk', refId: ctx.redemptionId, campaignId: ctx.campaignId });
      return { kind: 'balance', ref: ltx, amount_fen: reward.amount_fen };
    }
    case 'points': {
      assertRewardAvailable(deps, 'points', 'reward.kind');
      await deps.points!.award(tx, { customerId: ctx.customerId, points: reward.points, reason: 'cdk_redeem', refType: 'cdk', refId: ctx.redemptionId });
      return { kind: 'points', ref: ctx.redemptionId, points: reward.points };
    }
    case 'coupon': {
      assertRewardAvailable(deps, 'coupon', 'reward.kind');
      const c = await deps.coupons!.grant(tx, { templateId: reward.template_id, customerId: ctx.customerId, source: 'cdk', sourceRef: ctx.redemptionId });
      return { kind: 'coupon', ref: c.couponId, coupon_id: c.couponId };
    }
    case 'product': {
      assertRewardAvailable(deps, 'product', 'reward.kind');
      const unitPriceFen = await deps.retailPriceOf!(reward.sku_id, tx);
      const order = await deps.orders!.createOrder(
        {
          buyer: { type: 'customer', id: ctx.customerId },
          skuId: reward.sku_id,
          quantity: reward.quantity,
          channel: 'cdk',
          payment: 'balance',
          paidBy: 'promotion',
          offer: { kind: 'cdk', id: ctx.batchId, unitPriceFen, campaignId: ctx.campaignId },
          apiKeyOwner: ctx.apiKeyOwner,
          revealNow: true,
        },
        tx,
      );
      return { kind: 'product', ref: order.id, order_id: order.id, codes: order.deliveredCodes ?? [] };
    }
  }
}
