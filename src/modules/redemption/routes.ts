import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import QRCode from 'qrcode';
import { Page, PageQuery } from '../../lib/pagination.js';
import { AppError, notFound } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { identityProviders, type CustomerService } from '../customers/service.js';
import { redemptionView, type RedemptionService } from './service.js';
import { QR_TTL_MS } from './qr-token.js';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Cursor = (prefix: string) => Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id(prefix)) });
const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }) });
const CustomerRef = Strict({ provider: Type.Union(identityProviders.map((x) => Type.Literal(x))), external_id: Type.String({ minLength: 1, maxLength: 128 }) }, { description: 'the customer who owns the code' });
const CodeInput = Strict({ code: Type.String({ minLength: 4, maxLength: 256, description: 'the code as typed or scanned, or the QR token (KQR1.…) the customer shows' }) });

const Merchant = Type.Object({ id: Type.String(), name: Type.String(), status: Type.String(), product_ids: Type.Array(Type.String()), created_at: Type.String() });
const Store = Type.Object({ id: Type.String(), merchant_id: Type.String(), name: Type.String(), address: Nullable(Type.String()), status: Type.String(), created_at: Type.String() });
const Staff = Type.Object({ id: Type.String(), store_id: Type.String(), merchant_id: Type.String(), name: Type.String(), api_key_id: Type.String(), disabled: Type.Boolean(), created_at: Type.String() });
const Redemption = Type.Object({
  id: Type.String(),
  code_id: Type.String(),
  sku_id: Type.String(),
  product_id: Type.String(),
  merchant_id: Type.String(),
  store_id: Type.String(),
  staff_id: Type.String(),
  face_value_fen: Type.Integer(),
  via: Type.String({ description: 'code or qr' }),
  redeemed_at: Type.String(),
});
const CheckedCode = Type.Object({
  id: Type.String(),
  sku_id: Type.String(),
  product_id: Type.String(),
  product_name: Type.String(),
  sku_name: Type.String(),
  face_value_fen: Type.Integer(),
  secret_masked: Type.String({ description: 'last 4 characters only' }),
  state: Type.String(),
  expires_at: Nullable(Type.String()),
});
const Verified = Type.Object({
  redeemable: Type.Boolean(),
  reason: Nullable(Type.String({ description: 'NOT_ACCEPTED_HERE | ALREADY_REDEEMED | NOT_DELIVERED | EXPIRED | VOIDED' })),
  message: Nullable(Type.String()),
  via: Type.String(),
  code: CheckedCode,
  redeemed: Nullable(Type.Object({ redemption_id: Type.String(), store_id: Type.String(), redeemed_at: Type.String() })),
});
const QrToken = Type.Object({ token: Type.String({ description: 'KQR1.…: show as a QR code' }), code_id: Type.String(), expires_at: Type.String() });
const MpQrToken = Type.Object({ ...QrToken.properties, expires_in_seconds: Type.Integer({ description: 'seconds until expires_at (the token was issued just now)' }), qr_png: Type.String({ description: 'data:image/png;base64,… of the token' }) });
const ProductIds = Type.Array(Id('prd'), { maxItems: 500, uniqueItems: true });

/** Admin set-up and reports under /admin; staff verify and redeem on the open API with a store staff key; partners issue QR tokens. */
export async function redemptionRoutes(fastify: FastifyInstance, opts: { redemptions: RedemptionService; customers: Pick<CustomerService, 'find'> }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { redemptions: svc } = opts;
  const tags = ['admin: redemption'];
  const staffPrincipal = (request: FastifyRequest) => svc.principalOf(request.apiKey!);

  app.post(
    '/admin/merchants',
    { config: { permission: 'redemption:manage' }, schema: { tags, summary: 'Create a merchant (offline redemption) with the products whose codes it accepts', body: Strict({ name: Type.String({ minLength: 1, maxLength: 100 }), product_ids: ProductIds }), response: { 201: Merchant, ...errorResponses } } },
    async (request, reply) => reply.code(201).send(await svc.createMerchant({ name: request.body.name, productIds: request.body.product_ids }, staffOf(request))),
  );
  app.get(
    '/admin/merchants',
    { config: { permission: 'redemption:read' }, schema: { tags, summary: 'Merchants, newest first', querystring: Cursor('mch'), response: { 200: Page(Merchant), ...errorResponses } } },
    async (request) => svc.listMerchants(request.query),
  );
  app.put(
    '/admin/merchants/:id/products',
    { config: { permission: 'redemption:manage' }, schema: { tags, summary: 'Replace the products whose codes the merchant accepts', params: IdParams('mch'), body: Strict({ product_ids: ProductIds }), response: { 200: Merchant, ...errorResponses } } },
    async (request) => svc.setMerchantProducts(request.params.id, request.body.product_ids, staffOf(request)),
  );
  app.post(
    '/admin/merchants/:id/stores',
    { config: { permission: 'redemption:manage' }, schema: { tags, summary: 'Open a store of the merchant', params: IdParams('mch'), body: Strict({ name: Type.String({ minLength: 1, maxLength: 100 }), address: Type.Optional(Type.String({ maxLength: 300 })) }), response: { 201: Store, ...errorResponses } } },
    async (request, reply) => reply.code(201).send(await svc.createStore({ merchantId: request.params.id, name: request.body.name, address: request.body.address }, staffOf(request))),
  );
  app.get(
    '/admin/stores',
    { config: { permission: 'redemption:read' }, schema: { tags, summary: 'Stores, newest first', querystring: Strict({ ...Cursor('sto').properties, merchant_id: Type.Optional(Id('mch')) }), response: { 200: Page(Store), ...errorResponses } } },
    async (request) => svc.listStores({ limit: request.query.limit, cursor: request.query.cursor, merchantId: request.query.merchant_id }),
  );
  app.post(
    '/admin/stores/:id/staff',
    {
      config: { permission: 'redemption:manage' },
      schema: {
        tags,
        summary: "Add a staff member to a store and issue the staff member's signing key (owner_type store_staff); the secret is in this response only",
        params: IdParams('sto'),
        body: Strict({ name: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 201: Type.Object({ staff: Staff, api_key: Type.Object({ id: Type.String(), secret: Type.String() }) }), ...errorResponses },
      },
    },
    async (request, reply) => reply.code(201).header('cache-control', 'no-store').send(await svc.createStaff({ storeId: request.params.id, name: request.body.name }, staffOf(request))),
  );
  app.get(
    '/admin/stores/:id/staff',
    { config: { permission: 'redemption:read' }, schema: { tags, summary: "A store's staff", params: IdParams('sto'), querystring: Cursor('sst'), response: { 200: Page(Staff), ...errorResponses } } },
    async (request) => svc.listStaff({ storeId: request.params.id, ...request.query }),
  );
  app.get(
    '/admin/redemptions',
    { config: { permission: 'redemption:read' }, schema: { tags, summary: 'Redemptions, newest first', querystring: Strict({ ...Cursor('rdm').properties, store_id: Type.Optional(Id('sto')) }), response: { 200: Page(Redemption), ...errorResponses } } },
    async (request) => svc.listRedemptions({ limit: request.query.limit, cursor: request.query.cursor, storeId: request.query.store_id }),
  );
  app.get(
    '/admin/redemptions/report',
    {
      config: { permission: 'redemption:read' },
      schema: {
        tags,
        summary: 'Redemptions per day (UTC) and SKU: counts and face value, for one store or one merchant, in [from, to) (default: the last 30 days; at most 366)',
        querystring: Strict({ store_id: Type.Optional(Id('sto')), merchant_id: Type.Optional(Id('mch')), from: Type.Optional(Type.String({ format: 'date-time' })), to: Type.Optional(Type.String({ format: 'date-time' })) }),
        response: {
          200: Type.Object({
            store_id: Nullable(Type.String()),
            merchant_id: Nullable(Type.String()),
            from: Type.String(),
            to: Type.String(),
            rows: Type.Array(Type.Object({ day: Type.String(), sku_id: Type.String(), count: Type.Integer(), face_value_fen: Type.Integer() })),
            total: Type.Object({ count: Type.Integer(), face_value_fen: Type.Integer() }),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const q = request.query;
      if (!q.store_id && !q.merchant_id) throw new AppError('VALIDATION_FAILED', 'store_id: give store_id or merchant_id', [{ field: 'store_id', message: 'store_id or merchant_id is required' }]);
      const to = q.to ? new Date(q.to) : new Date();
      const from = q.from ? new Date(q.from) : new Date(to.getTime() - 30 * 86_400_000);
      return svc.report({ storeId: q.store_id, merchantId: q.merchant_id, from, to });
    },
  );

  // ---- store staff (signed with a store staff key) ----
  const openTags = ['open api: redemption'];
  app.post(
    '/open/v1/redemptions/verify',
    {
      config: { signed: true, storeStaff: true },
      schema: { tags: openTags, summary: "Store staff: can this code (or the customer's QR token) be redeemed at my store? Never shows the secret; changes nothing. 429 (Retry-After) after too many unknown or not-accepted codes per staff member or store", body: CodeInput, response: { 200: Verified, ...errorResponses } },
    },
    async (request, reply) => reply.header('cache-control', 'no-store').send(await svc.verify(await staffPrincipal(request), request.body.code)),
  );
  app.post(
    '/open/v1/redemptions',
    {
      config: { signed: true, storeStaff: true },
      schema: {
        tags: openTags,
        summary: 'Store staff: redeem a code (or QR token) at my store, once (Idempotency-Key required). 409 ALREADY_REDEEMED when it was redeemed before; 422 with details.reason when it cannot be redeemed here',
        headers: IdempotencyHeaders,
        body: CodeInput,
        response: { 201: Redemption, 200: Redemption, ...errorResponses },
      },
    },
    async (request, reply) => {
      const r = await svc.redeem(await staffPrincipal(request), request.body.code, request.headers['idempotency-key']);
      return reply.code(r.statusCode).send(redemptionView(r.redemption));
    },
  );
  app.get(
    '/open/v1/redemptions',
    { config: { signed: true, storeStaff: true }, schema: { tags: openTags, summary: "Store staff: my store's redemptions, newest first", querystring: Cursor('rdm'), response: { 200: Page(Redemption), ...errorResponses } } },
    async (request) => svc.listRedemptions({ ...request.query, storeId: (await staffPrincipal(request)).storeId }),
  );

  // ---- the code's owner, through a partner ----
  app.post(
    '/open/v1/redemptions/qr-token',
    {
      config: { signed: true },
      schema: {
        tags: openTags,
        summary: "A token the customer's wallet shows as a QR code at the store instead of the code: valid 5 minutes, works once. 404 unless the customer owns the code",
        body: Strict({ customer: CustomerRef, code_id: Id('cod') }),
        response: { 201: QrToken, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const customerId = await opts.customers.find({ provider: b.customer.provider, externalId: b.customer.external_id });
      if (!customerId) throw notFound('code', b.code_id);
      const issued = await svc.issueQrToken({ customerId, codeId: b.code_id, issuedFor: `${request.apiKey!.ownerType}:${request.apiKey!.ownerId}` });
      return reply.code(201).header('cache-control', 'no-store').send(issued);
    },
  );

  // ---- the code's owner, in the mini-program (customer session) ----
  app.post(
    '/mp/v1/redemptions/qr-token',
    {
      config: { customer: true },
      schema: {
        tags: ['mini-program'],
        summary: 'A token to show as a QR code at the store instead of one of my codes: valid 5 minutes, works once; with the QR image and the seconds left (a countdown that does not trust the phone\'s clock)',
        body: Strict({ code_id: Id('cod') }),
        response: { 201: MpQrToken, ...errorResponses },
      },
    },
    async (request, reply) => {
      if (!request.customer) throw new AppError('UNAUTHENTICATED', 'log in first (POST /mp/v1/login)');
      const issued = await svc.issueQrToken({ customerId: request.customer.customerId, codeId: request.body.code_id, issuedFor: 'miniprogram' });
      const qr_png = await QRCode.toDataURL(issued.token, { type: 'image/png', errorCorrectionLevel: 'M', margin: 2, width: 256 });
      return reply.code(201).header('cache-control', 'no-store').send({ ...issued, expires_in_seconds: QR_TTL_MS / 1000, qr_png });
    },
  );
}
