import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Strict, errorResponses } from '../../http/schemas.js';
import { sessionToken } from '../../http/auth.js';
import { Page } from '../../lib/pagination.js';
import type { AuthService } from '../auth/service.js';
import type { CampaignService } from '../marketing/campaign-service.js';
import type { CampaignRoiService } from '../marketing/campaign-roi.js';
import { CampaignRoi } from '../marketing/campaign-roi-routes.js';
import { salesGroups, type AnalyticsService } from './service.js';
import type { LiveHub } from './live.js';

const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD, a calendar day of REPORT_TIMEZONE (default Asia/Shanghai)' });
const Range = { from: Type.Optional(Day), to: Type.Optional(Day) };
const Int = Type.Integer();
const Figures = { orders: Int, units: Int, gmv_fen: Int, refunds_fen: Int, net_sales_fen: Int, cost_fen: Int, gross_profit_fen: Type.Integer({ description: 'net sales - cost of goods still sold' }) };
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const Dashboard = Type.Object({
  at: Type.String({ format: 'date-time' }),
  today: Type.Object({ orders: Int, gmv_fen: Int, gross_profit_fen: Int, refunds_fen: Type.Integer({ description: "refunded on today's orders" }), customers_new: Type.Integer({ description: 'customers whose first paid order is today' }) }),
  orders_per_minute: Type.Array(Type.Object({ minute: Type.String({ format: 'date-time' }), orders: Int, gmv_fen: Int }), { description: 'the last 60 minutes, oldest first, zero-filled' }),
  stock_alerts: Type.Array(Type.Object({ sku_id: Type.String(), sku_name: Type.String(), available: Int, threshold: Int })),
  risk_alerts: Type.Array(Type.Object({ id: Type.String(), kind: Type.String(), message: Type.String(), at: Type.String() }), { description: 'open, newest first, max 20' }),
  supplier_failures: Type.Array(Type.Object({ supplier_id: Type.String(), supplier_name: Type.String(), failures_1h: Int, last_error: Nullable(Type.String()), at: Nullable(Type.String()) })),
});

const SalesReport = Type.Object({
  from: Day,
  to: Day,
  group_by: Type.String(),
  rows: Type.Array(Type.Object({ key: Type.String(), name: Type.String(), ...Figures })),
  totals: Type.Object(Figures),
  series: Type.Array(Type.Object({ day: Day, ...Figures }), { description: 'every day of the range, zero-filled' }),
});

const Leaderboard = Type.Object({
  from: Day,
  to: Day,
  data: Type.Array(Type.Object({ rank: Int, agent_id: Type.String(), name: Type.String(), level: Int, ...Figures, commission_fen: Type.Integer({ description: "commissions on the range's orders, net of reversals and clawbacks" }) })),
});

const Cohorts = Type.Object({
  from: Day,
  to: Day,
  period: Type.String(),
  data: Type.Array(
    Type.Object({
      cohort: Day,
      customers: Type.Integer({ description: 'customers whose first paid order fell in this period' }),
      retention: Type.Array(Type.Object({ offset: Type.Integer({ description: 'periods after the first' }), customers: Int, share: Type.Number() })),
    }),
  ),
});

const Stock = Type.Object({
  from: Day,
  to: Day,
  data: Type.Array(
    Type.Object({ sku_id: Type.String(), sku_name: Type.String(), units_sold: Int, daily_demand: Type.Number(), available: Int, on_order: Int, turnover: Nullable(Type.Number()), days_of_cover: Nullable(Type.Number()) }),
  ),
});

const Forecast = Type.Object({
  history_from: Day,
  history_to: Day,
  data: Type.Array(
    Type.Object({
      sku_id: Type.String(),
      sku_name: Type.String(),
      supplier_id: Nullable(Type.String()),
      method: Type.String({ description: 'holt_winters (weekly season), holt, or mean for very short histories' }),
      params: Type.Object({ alpha: Type.Number(), beta: Type.Number(), gamma: Type.Number() }),
      history: Type.Optional(Type.Array(Type.Number(), { description: 'daily units sold, oldest first (with sku_id only)' })),
      forecast: Type.Array(Type.Number(), { description: 'daily units from tomorrow' }),
      lead_time_days: Int,
      safety_days: Int,
      available: Int,
      on_order: Int,
      demand_over_horizon: Type.Number(),
      safety_stock: Int,
      reorder_quantity: Int,
    }),
  ),
});

export async function analyticsRoutes(fastify: FastifyInstance, opts: { analytics: AnalyticsService; live: LiveHub; auth: AuthService; campaigns: CampaignService; roi: CampaignRoiService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['admin: analytics'];
  const config = { permission: 'analytics:read' as const };
  const { analytics } = opts;

  app.get('/admin/analytics/dashboard', { config, schema: { tags, summary: "Today's figures, orders per minute, low-stock (inventory's alerts), risk and supplier alerts", response: { 200: Dashboard, ...errorResponses } } }, () => analytics.dashboard());

  app.get(
    '/admin/analytics/sales',
    { config, schema: { tags, summary: 'Sales and gross profit by product, SKU, category, supplier or channel, with a daily series', querystring: Strict({ group_by: Type.Union(salesGroups.map((g) => Type.Literal(g))), ...Range }), response: { 200: SalesReport, ...errorResponses } } },
    (request) => analytics.sales(request.query),
  );

  app.get(
    '/admin/analytics/agents',
    { config, schema: { tags, summary: 'Agent leaderboard: net sales, orders and commission over a range (top N)', querystring: Strict({ ...Range, limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }) }), response: { 200: Leaderboard, ...errorResponses } } },
    (request) => analytics.agentLeaderboard(request.query),
  );

  app.get(
    '/admin/analytics/cohorts',
    { config, schema: { tags, summary: 'Repurchase and retention: customers by first-order week or month, and the share ordering again later', querystring: Strict({ period: Type.Union([Type.Literal('week'), Type.Literal('month')], { default: 'month' }), ...Range }), response: { 200: Cohorts, ...errorResponses } } },
    (request) => analytics.cohorts(request.query),
  );

  app.get(
    '/admin/analytics/stock',
    { config, schema: { tags, summary: 'Stock turnover and days of cover per SKU', querystring: Strict(Range), response: { 200: Stock, ...errorResponses } } },
    (request) => analytics.stockTurnover(request.query),
  );

  app.get(
    '/admin/analytics/forecast',
    {
      config,
      schema: {
        tags,
        summary: 'Demand forecast per SKU (Holt-Winters on daily sales) and reorder suggestions covering the supplier lead time',
        querystring: Strict({ sku_id: Type.Optional(Type.String({ pattern: '^sku_[0-9A-HJKMNP-TV-Z]{26}$' })), history_days: Type.Integer({ minimum: 14, maximum: 366, default: 56 }), safety_days: Type.Integer({ minimum: 0, maximum: 60, default: 3 }) }),
        response: { 200: Forecast, ...errorResponses },
      },
    },
    (request) => analytics.forecast(request.query),
  );

  // Campaign ROI is the marketing module's figure; shown here for analytics readers.
  app.get(
    '/admin/analytics/campaigns',
    { config, schema: { tags, summary: 'Campaign ROI (the marketing module’s figures), newest campaigns first', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Type.String({ pattern: '^cmp_[0-9A-HJKMNP-TV-Z]{26}$' })) }), response: { 200: Page(CampaignRoi), ...errorResponses } } },
    async (request) => {
      const page = await opts.campaigns.list(request.query);
      return { ...page, data: await opts.roi.of(page.data) };
    },
  );

  // Browsers cannot set headers on a WebSocket: the session cookie or ?token= authenticates, checked here so a refusal is a close code (4401/4403).
  app.get(
    '/admin/live',
    // logLevel warn: the request line (which may carry ?token=) is never logged.
    { websocket: true, logLevel: 'warn', config: { public: true }, schema: { tags, summary: 'Live dashboard (WebSocket): snapshot, order and alert messages', querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) }) } },
    async (socket, request) => {
      const token = (request.query as { token?: string }).token || sessionToken(request);
      const staff = token ? await opts.auth.authenticate(token).catch(() => null) : null;
      if (!staff) return socket.close(4401, 'log in first');
      if (!opts.auth.can(staff, 'analytics:read')) return socket.close(4403, `role ${staff.role} may not analytics:read`);
      let leave: (() => void) | null = null;
      let closed = false;
      socket.on('close', () => {
        closed = true;
        leave?.();
      });
      try {
        leave = await opts.live.join({ send: (text) => socket.send(text) });
        if (closed) leave();
      } catch (err) {
        request.log.warn({ err }, 'live: join failed');
        socket.close(1011, 'unavailable');
      }
    },
  );

  app.addHook('onClose', async () => opts.live.close());
}
