import { index, integer, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

export const orders = pgTable(
  'orders',
  {
    id: text('id').primaryKey(),
    /** customer (a consumer) or agent (buying on its prepaid balance) */
    buyerType: text('buyer_type').notNull(),
    buyerId: text('buyer_id').notNull(),
    /** The API key (partner or agent) that placed it, if any: only it may read the order through the open API. */
    apiKeyOwner: text('api_key_owner'),
    skuId: text('sku_id').notNull(),
    quantity: integer('quantity').notNull(),
    unitPriceFen: integer('unit_price_fen').notNull(),
    discountFen: integer('discount_fen').notNull().default(0),
    amountFen: integer('amount_fen').notNull(),
    /** Where the order came from and where its codes go: api, telegram, wechat, miniprogram, admin */
    channel: text('channel').notNull(),
    agentId: text('agent_id'),
    couponId: text('coupon_id'),
    /** A marketing offer that priced the order (flash_sale, group_buy, cdk, points, ...) and its id; its campaign, for ROI. */
    offerKind: text('offer_kind'),
    offerId: text('offer_id'),
    campaignId: text('campaign_id'),
    /** Of a customer's balance payment, the part taken from the promotional balance (given back there on refunds). */
    promoPaidFen: integer('promo_paid_fen').notNull().default(0),
    status: text('status').notNull(),
    paymentProvider: text('payment_provider'),
    paymentDeadline: tstz('payment_deadline').notNull(),
    /** For paid_awaiting_stock: what the buyer chose (wait for restock, or refund to balance). */
    awaitingChoice: text('awaiting_choice'),
    deliveredQuantity: integer('delivered_quantity').notNull().default(0),
    refundedFen: integer('refunded_fen').notNull().default(0),
    /** Channel address for delivery (chat id, openid...), never a secret. */
    deliveryTarget: jsonb('delivery_target').$type<Record<string, unknown>>(),
    failureReason: text('failure_reason'),
    createdAt: createdAt(),
    updatedAt: tstz('updated_at').notNull(),
    paidAt: tstz('paid_at'),
    deliveredAt: tstz('delivered_at'),
  },
  (t) => [index('orders_buyer_idx').on(t.buyerType, t.buyerId, t.status), index('orders_status_deadline_idx').on(t.status, t.paymentDeadline), index('orders_agent_idx').on(t.agentId), index('orders_delivered_at_idx').on(t.deliveredAt), index('orders_offer_idx').on(t.offerKind, t.offerId), index('orders_campaign_idx').on(t.campaignId)],
);

/** Stored responses of retriable writes, replayed for the same key (Stripe-style). Kept at least 90 days. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    statusCode: integer('status_code'),
    responseBody: jsonb('response_body'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);

/** One-time tokens that show an order's codes to its owner (a link in a bot message). */
export const revealTokens = pgTable('reveal_tokens', {
  id: text('id').primaryKey(),
  orderId: text('order_id').notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  expiresAt: tstz('expires_at').notNull(),
  usedAt: tstz('used_at'),
  createdAt: createdAt(),
});
