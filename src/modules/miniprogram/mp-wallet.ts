import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { walletGroups, type WalletService } from '../wallet/service.js';
import { Gift, GiftCard, Revealed, WalletItem, WalletPage } from '../wallet/routes.js';

const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }) });

const customerIdOf = (request: FastifyRequest) => {
  if (!request.customer) throw new AppError('UNAUTHENTICATED', 'log in first (POST /mp/v1/login)');
  return request.customer.customerId;
};

/** A wallet item in the mini-program also says whether a store can redeem it (the "show QR to the store" action). */
const MpWalletPage = Type.Object({
  ...WalletPage.properties,
  data: Type.Array(Type.Object({ ...WalletItem.properties, store_redeemable: Type.Boolean({ description: 'a store accepts this product: show it with POST /mp/v1/redemptions/qr-token' }) })),
});

export interface MpWalletDeps {
  wallet: WalletService;
  /** Of these SKUs, those a store can redeem (the redemption service's answer). */
  storeRedeemableSkus: (skuIds: string[]) => Promise<Set<string>>;
}

/** My asset pack: the open-API wallet calls with the session's customer in place of a partner-named one. */
export async function mpWalletRoutes(fastify: FastifyInstance, opts: MpWalletDeps) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { wallet } = opts;
  const tags = ['mini-program'];

  app.get(
    '/mp/v1/wallet',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: 'My asset pack: every code I own (purchases not given away, plus gifts received), newest first, with the count of each group; codes masked',
        querystring: Strict({
          state: Type.Optional(Type.Union(walletGroups.map((g) => Type.Literal(g)), { description: 'one group only' })),
          expiring_within_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, description: 'what counts as expiring soon (default 7 days)' })),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ pattern: '^cod_[0-9A-HJKMNP-TV-Z]{26}$', description: 'next_cursor of the previous page' })),
        }),
        response: { 200: MpWalletPage, ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await wallet.list(customerIdOf(request), { limit: q.limit, cursor: q.cursor, state: q.state, expiringSoonDays: q.expiring_within_days });
      const atStores = await opts.storeRedeemableSkus(page.data.map((c) => c.sku_id));
      return { ...page, data: page.data.map((c) => ({ ...c, store_redeemable: atStores.has(c.sku_id) })) };
    },
  );

  app.post(
    '/mp/v1/wallet/codes/:id/reveal',
    {
      config: { customer: true },
      schema: { tags, summary: 'Tap to reveal one of my codes (marked revealed, recorded in its history). 404 not mine; 409 GIFT_PENDING while in an open gift', params: IdParams('cod'), response: { 200: Revealed, ...errorResponses } },
    },
    async (request, reply) => reply.header('cache-control', 'no-store').send(await wallet.reveal(request.params.id, customerIdOf(request))),
  );

  app.post(
    '/mp/v1/wallet/codes/:id/gift',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: 'Gift one of my unrevealed codes (Idempotency-Key required): a single-use claim token, link and card text. 404 not mine; 409 CODE_REVEALED, GIFT_PENDING; 422 CODE_EXPIRED. A replay with the same key shows the same gift',
        params: IdParams('cod'),
        headers: IdempotencyHeaders,
        body: Strict({ message: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a note for the friend' })), expires_in_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 720 })) }),
        response: { 201: GiftCard, 200: GiftCard, ...errorResponses },
      },
    },
    async (request, reply) => {
      const giverId = customerIdOf(request);
      const b = request.body;
      const done = await wallet.give({ codeId: request.params.id, giverId, message: b.message, ttlHours: b.expires_in_hours, idempotency: { scope: `customer:${giverId}:wallet_gifts`, key: request.headers['idempotency-key'] } });
      return reply.code(done.statusCode).header('cache-control', 'no-store').send(done.gift);
    },
  );

  app.post(
    '/mp/v1/wallet/gifts/claim',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: 'Claim a gift with its token: the code becomes mine atomically (of racing claimers exactly one wins). 404 unknown token; 409 GIFT_CLAIMED, GIFT_CANCELLED, GIFT_EXPIRED, GIFT_VOID; 422 OWN_GIFT',
        body: Strict({ token: Type.String({ minLength: 20, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }) }),
        response: { 200: Type.Object({ gift: Gift, code_id: Type.String() }), ...errorResponses },
      },
    },
    async (request) => wallet.claim(request.body.token, customerIdOf(request)),
  );

  app.post(
    '/mp/v1/wallet/gifts/:id/cancel',
    {
      config: { customer: true },
      schema: { tags, summary: 'Cancel a gift of mine not yet claimed; its token stops working. 404 not mine; 409 already claimed, cancelled or expired', params: IdParams('gft'), response: { 200: Gift, ...errorResponses } },
    },
    async (request) => wallet.cancel(request.params.id, customerIdOf(request)),
  );
}
