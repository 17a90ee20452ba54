import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { notFound } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { identityProviders, type CustomerService, type IdentityProvider } from '../customers/service.js';
import { walletGroups, type WalletService } from './service.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Provider = Type.Union(identityProviders.map((x) => Type.Literal(x)));
const Customer = Strict({ provider: Provider, external_id: Type.String({ minLength: 1, maxLength: 128 }) }, { description: 'the end customer' });
const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }) });

export const WalletItem = Type.Object({
  id: Type.String({ description: 'the code id' }),
  group: Type.Union(walletGroups.map((g) => Type.Literal(g)), { description: 'ready | revealed | redeemed | expiring_soon | expired' }),
  state: Type.String({ description: "the code's vault state" }),
  sku_id: Type.String(),
  sku_name: Type.String(),
  product_name: Type.String(),
  usage_instructions: Type.String(),
  expires_at: Nullable(Type.String()),
  secret_masked: Type.String({ description: 'the last 4 characters only' }),
  acquired: Type.Union([Type.Literal('purchase'), Type.Literal('gift')]),
  order_id: Nullable(Type.String()),
  activation: Type.Union([Type.Object({ kind: Type.Literal('url'), redeem_url: Type.String({ description: '{code} is filled in by reveal (activation_url)' }) }), Type.Null()]),
  giftable: Type.Boolean(),
  pending_gift: Type.Union([Type.Object({ id: Type.String(), expires_at: Type.String() }), Type.Null()]),
});
const Counts = Type.Object(Object.fromEntries(walletGroups.map((g) => [g, Type.Integer()])) as Record<(typeof walletGroups)[number], ReturnType<typeof Type.Integer>>);
export const WalletPage = Type.Object({ ...Page(WalletItem).properties, counts: Counts });
export const Revealed = Type.Object({ code_id: Type.String(), card_number: Nullable(Type.String()), secret: Type.String(), usage_instructions: Type.String(), activation_url: Nullable(Type.String()) });
const GiftFields = {
  id: Type.String(),
  code_id: Type.String(),
  status: Type.String({ description: 'pending | claimed | cancelled | expired | void' }),
  message: Nullable(Type.String()),
  expires_at: Type.String(),
  created_at: Type.String(),
  claimed_at: Nullable(Type.String()),
  cancelled_at: Nullable(Type.String()),
};
export const Gift = Type.Object(GiftFields);
export const GiftCard = Type.Object({
  ...GiftFields,
  token: Type.String({ description: 'single-use claim token: give it (or claim_url / card_text) to the friend only' }),
  claim_url: Type.String(),
  card_text: Type.String({ description: 'ready-to-send text (zh-CN and English)' }),
  product_name: Type.String(),
  sku_name: Type.String(),
});

const ownerOf = (request: FastifyRequest) => `${request.apiKey!.ownerType}:${request.apiKey!.ownerId}`;

/** The wallet on the open API: a partner acts for its end customers, named by identity. */
export async function walletRoutes(fastify: FastifyInstance, opts: { wallet: WalletService; customers: CustomerService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { wallet, customers } = opts;
  const tags = ['open api'];
  /** A known customer (never created by these calls: a stranger owns nothing). */
  const known = async (c: { provider: IdentityProvider; external_id: string }) => customers.find({ provider: c.provider, externalId: c.external_id });

  app.get(
    '/open/v1/wallet',
    {
      config: { signed: true },
      schema: {
        tags,
        summary: "A customer's asset pack: every code it owns (its purchases not given away, plus gifts received), newest first, with the count of each group; codes masked",
        querystring: Strict({
          provider: Provider,
          external_id: Type.String({ minLength: 1, maxLength: 128 }),
          state: Type.Optional(Type.Union(walletGroups.map((g) => Type.Literal(g)), { description: 'one group only' })),
          expiring_within_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, description: 'what counts as expiring soon (default 7 days)' })),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ pattern: '^cod_[0-9A-HJKMNP-TV-Z]{26}$', description: 'next_cursor of the previous page' })),
        }),
        response: { 200: WalletPage, ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const customerId = await known(q);
      if (!customerId) return { data: [], has_more: false, next_cursor: null, counts: Object.fromEntries(walletGroups.map((g) => [g, 0])) as Record<(typeof walletGroups)[number], number> };
      return wallet.list(customerId, { limit: q.limit, cursor: q.cursor, state: q.state, expiringSoonDays: q.expiring_within_days });
    },
  );

  app.post(
    '/open/v1/wallet/codes/:id/reveal',
    {
      config: { signed: true },
      schema: {
        tags,
        summary: 'The owner sees one code in clear (marked revealed, recorded in the code history). 404 for anybody else; 409 GIFT_PENDING while it is in an open gift',
        params: IdParams('cod'),
        body: Strict({ customer: Customer }),
        response: { 200: Revealed, ...errorResponses },
      },
    },
    async (request) => {
      const customerId = await known(request.body.customer);
      if (!customerId) throw notFound('code', request.params.id);
      return wallet.reveal(request.params.id, customerId, { apiKeyOwner: ownerOf(request) });
    },
  );

  app.post(
    '/open/v1/wallet/codes/:id/gift',
    {
      config: { signed: true },
      schema: {
        tags,
        summary: 'The owner gifts an unrevealed code (Idempotency-Key required): a single-use claim token, link and card text, valid 72 h unless said. 404 not its code; 409 CODE_REVEALED, GIFT_PENDING; 422 CODE_EXPIRED. A replay with the same key shows the same gift',
        params: IdParams('cod'),
        headers: IdempotencyHeaders,
        body: Strict({
          customer: Customer,
          message: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a note for the friend' })),
          expires_in_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 720 })),
        }),
        response: { 201: GiftCard, 200: GiftCard, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const giverId = await known(b.customer);
      if (!giverId) throw notFound('code', request.params.id);
      const done = await wallet.give({ codeId: request.params.id, giverId, message: b.message, ttlHours: b.expires_in_hours, idempotency: { scope: `${ownerOf(request)}:wallet_gifts`, key: request.headers['idempotency-key'] } });
      return reply.code(done.statusCode).send(done.gift);
    },
  );

  app.post(
    '/open/v1/wallet/gifts/claim',
    {
      config: { signed: true },
      schema: {
        tags,
        summary: 'A friend claims a gift with its token: the code moves to the friend atomically (of racing claimers exactly one wins). 404 unknown token; 409 GIFT_CLAIMED, GIFT_CANCELLED, GIFT_EXPIRED, GIFT_VOID; 422 OWN_GIFT',
        body: Strict({ token: Type.String({ minLength: 20, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }), customer: Customer }),
        response: { 200: Type.Object({ gift: Gift, code_id: Type.String() }), ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      // The friend may be new here: claiming is how it arrives.
      const { customerId } = await customers.resolve({ identity: { provider: b.customer.provider, externalId: b.customer.external_id } });
      return wallet.claim(b.token, customerId);
    },
  );

  app.post(
    '/open/v1/wallet/gifts/:id/cancel',
    {
      config: { signed: true },
      schema: {
        tags,
        summary: 'The giver cancels a gift not yet claimed; its token stops working. 404 not its gift; 409 already claimed, cancelled or expired',
        params: IdParams('gft'),
        body: Strict({ customer: Customer }),
        response: { 200: Gift, ...errorResponses },
      },
    },
    async (request) => {
      const giverId = await known(request.body.customer);
      if (!giverId) throw notFound('gift', request.params.id);
      return wallet.cancel(request.params.id, giverId);
    },
  );
}
