import QRCode from 'qrcode';
import type { Platform } from '../../platform.js';
import { queryRows } from '../../db/raw.js';
import { AppError, invalidField } from '../../lib/errors.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { accounts } from '../ledger/accounts.js';
import type { LedgerService } from '../ledger/service.js';
import type { CatalogService } from '../catalog/service.js';
import type { AuditService } from '../audit/service.js';
import type { CustomerService } from '../customers/service.js';
import type { AgentRole, AgentService, AgentView } from './service.js';
import type { InventoryService } from '../inventory/service.js';
import type { OrderReports } from '../orders/reports.js';
import type { CommissionService } from '../commissions/service.js';
import type { WithdrawalService } from '../withdrawals/service.js';
import { joinLink, renderPoster } from './poster.js';
import { scopesByAgent } from './product-scope.js';

/**
 * The agent back office: what one agent sees of itself (balances, sales,
 * team, products at its price, referral link), for the bots, the
 * mini-program and the panel. Read-only aggregates in plain SQL, plus the
 * onboarding of new agents under a referral code.
 */

// Orders that count as sold: the same set the commission rules count for monthly volume.
const SOLD_STATUSES = ['delivered', 'partially_delivered', 'partially_refunded'];
// The business day and month are China's (UTC+8).
const TZ_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
export const MAX_SALES_RANGE_DAYS = 366;

// Which orders are an agent's, and the China-time period labels, are the orders module's reports (orders/reports.ts).

export interface SalesFigures {
  orders: number;
  units: number;
  /** net of refunds */
  amount_fen: number;
}

export interface SalesRow {
  period: string;
  orders: number;
  units: number;
  amount_fen: number;
  refunded_fen: number;
  net_fen: number;
  commission_fen: number;
}

export interface TeamMember {
  id: string;
  name: string;
  role: string;
  parent_id: string | null;
  depth: number;
  status: string;
  joined_at: string;
  month_sales_fen: number;
}

export interface AgentProduct {
  id: string;
  product_id: string;
  product_name: string;
  name: string;
  face_value_fen: number;
  retail_price_fen: number;
  price_fen: number;
  min_per_order: number;
  max_per_order: number;
  available: number;
  /** What is left of the agent's quota (its own allocation, else its nearest upline's), claimed first. */
  quota_available: number;
  /** The free pool, claimed after the quota. */
  free_available: number;
}

/** The instant a China-time day "YYYY-MM-DD" starts; null when it is not a real date. */
function chinaDayStart(day: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const utc = Date.UTC(y, mo - 1, d);
  const back = new Date(utc);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return new Date(utc - TZ_OFFSET_MS);
}

const chinaDay = (at: Date) => new Date(at.getTime() + TZ_OFFSET_MS).toISOString().slice(0, 10);

/** Start of the China-time month that `at` falls in. */
function chinaMonthStart(at: Date): Date {
  const local = new Date(at.getTime() + TZ_OFFSET_MS);
  return new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1) - TZ_OFFSET_MS);
}

/** Every period label from..to (inclusive, China days), so a report has a row for quiet days too. */
function periodLabels(from: Date, to: Date, period: 'day' | 'month'): string[] {
  const out: string[] = [];
  for (let t = from.getTime(); t <= to.getTime(); t += DAY_MS) {
    const label = chinaDay(new Date(t)).slice(0, period === 'day' ? 10 : 7);
    if (out.at(-1) !== label) out.push(label);
  }
  return out;
}

const num = (v: unknown) => Number(v ?? 0);

export function createAgentBackOffice(p: Platform, deps: { agents: AgentService; ledger: LedgerService; catalog: CatalogService; vault: { availableBySku(skuIds: string[]): Promise<Map<string, number>> }; audit: AuditService; customers: CustomerService; inventory: Pick<InventoryService, 'agentStock'>; orderReports: Pick<OrderReports, 'agentSalesFigures' | 'agentSalesByPeriod' | 'netSalesOfAgentsSince'>; commissions: Pick<CommissionService, 'earnedByPeriod' | 'outstandingClawback'>; withdrawals: Pick<WithdrawalService, 'paidTotals'> }) {
  async function summary(agentId: string) {
    const agent = await deps.agents.get(agentId);
    const upline = agent.parent_id ? await deps.agents.get(agent.parent_id) : null;
    const [prepaid, pending, available] = [
      await deps.ledger.balance(accounts.agentBalance(agentId).id),
      await deps.ledger.balance(accounts.commissionPending(agentId).id),
      await deps.ledger.balance(accounts.commissionAvailable(agentId).id),
    ];
    const withdrawn = await deps.withdrawals.paidTotals(agentId);
    const clawbackDue = await deps.commissions.outstandingClawback(agentId);
    const now = p.clock.now();
    const today = chinaDayStart(chinaDay(now))!;
    const month = chinaMonthStart(now);
    const sales = await deps.orderReports.agentSalesFigures(agentId, { statuses: SOLD_STATUSES, todayStart: today, monthStart: month, now });
    const [team] = await queryRows<{ n: number }>(p.db, `select count(*)::int as n from agents where path like $1`, [`${await pathOf(agentId)}/%`]);
    return {
      agent,
      level: agent.depth,
      upline: upline ? { id: upline.id, name: upline.name } : null,
      balances: {
        prepaid_fen: prepaid,
        commission_pending_fen: pending,
        commission_available_fen: available,
        // Paid withdrawals, gross (what left the commission account, fee included).
        withdrawn_fen: withdrawn.amountFen,
        withdrawal_fees_fen: withdrawn.feeFen,
        // Reversed commission the agent had already withdrawn: taken from its next available commission.
        clawback_due_fen: clawbackDue,
      },
      sales: {
        today: { orders: num(sales?.today_orders), units: num(sales?.today_units), amount_fen: num(sales?.today_amount) } satisfies SalesFigures,
        month: { orders: num(sales?.month_orders), units: num(sales?.month_units), amount_fen: num(sales?.month_amount) } satisfies SalesFigures,
      },
      team_size: num(team?.n),
    };
  }

  async function pathOf(agentId: string): Promise<string> {
    const [row] = await queryRows<{ path: string }>(p.db, 'select path from agents where id = $1', [agentId]);
    if (!row) throw new AppError('NOT_FOUND', `agent ${agentId} not found`);
    return row.path;
  }

  /**
   * Sales per China day or month over whole days from..to (at most 366):
   * orders sold (by creation time), units delivered, amount, refunds, and
   * the commission the agent earned on orders created in the period
   * (net of reversals).
   */
  async function sales(agentId: string, q: { period: 'day' | 'month'; from?: string; to?: string }): Promise<{ period: 'day' | 'month'; from: string; to: string; rows: SalesRow[]; totals: Omit<SalesRow, 'period'> }> {
    await deps.agents.get(agentId);
    const todayLabel = chinaDay(p.clock.now());
    const toLabel = q.to ?? todayLabel;
    const to = chinaDayStart(toLabel);
    if (!to) throw invalidField('to', 'not a valid date (YYYY-MM-DD)');
    let fromLabel = q.from;
    if (!fromLabel) {
      // Defaults: the last 30 days, or the last 12 calendar months.
      fromLabel = q.period === 'day' ? chinaDay(new Date(to.getTime() - 29 * DAY_MS)) : (() => {
        const [y, m] = [Number(toLabel.slice(0, 4)), Number(toLabel.slice(5, 7))];
        return new Date(Date.UTC(y, m - 12, 1)).toISOString().slice(0, 10);
      })();
    }
    const from = chinaDayStart(fromLabel);
    if (!from) throw invalidField('from', 'not a valid date (YYYY-MM-DD)');
    if (from > to) throw invalidField('from', 'must not be after to');
    const days = Math.round((to.getTime() - from.getTime()) / DAY_MS) + 1;
    if (days > MAX_SALES_RANGE_DAYS) throw invalidField('to', `the range is ${days} days; at most ${MAX_SALES_RANGE_DAYS}`);
    const end = new Date(to.getTime() + DAY_MS);

    const orderRows = await deps.orderReports.agentSalesByPeriod(agentId, { statuses: SOLD_STATUSES, period: q.period, from, end });
    const earned = await deps.commissions.earnedByPeriod(agentId, { period: q.period, from, end });
    const byPeriod = new Map(orderRows.map((r) => [r.period, r]));
    const rows = periodLabels(from, to, q.period).map((period): SalesRow => {
      const r = byPeriod.get(period);
      const amount = num(r?.amount);
      const refunded = num(r?.refunded);
      return { period, orders: num(r?.orders), units: num(r?.units), amount_fen: amount, refunded_fen: refunded, net_fen: amount - refunded, commission_fen: earned.get(period) ?? 0 };
    });
    const totals = rows.reduce(
      (s, r) => ({ orders: s.orders + r.orders, units: s.units + r.units, amount_fen: s.amount_fen + r.amount_fen, refunded_fen: s.refunded_fen + r.refunded_fen, net_fen: s.net_fen + r.net_fen, commission_fen: s.commission_fen + r.commission_fen }),
      { orders: 0, units: 0, amount_fen: 0, refunded_fen: 0, net_fen: 0, commission_fen: 0 },
    );
    return { period: q.period, from: fromLabel, to: toLabel, rows, totals };
  }

  /** The whole downline (direct and indirect), newest first, with depth relative to the caller and this month's net sales. */
  async function team(agentId: string, q: { limit: number; cursor?: string }): Promise<PageResult<TeamMember>> {
    const [me] = await queryRows<{ path: string; depth: number }>(p.db, 'select path, depth from agents where id = $1', [agentId]);
    if (!me) throw new AppError('NOT_FOUND', `agent ${agentId} not found`);
    const rows = await queryRows<{ id: string; name: string; role: string; parent_id: string | null; depth: number; status: string; joined_at: string }>(
      p.db,
      `select a.id, a.name, a.role, a.parent_id, a.depth - $2 as depth, a.status,
              to_char(a.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as joined_at
       from agents a where a.path like $1 and ($3::text is null or a.id < $3)
       order by a.id desc limit $4`,
      [`${me.path}/%`, me.depth, q.cursor ?? null, q.limit + 1],
    );
    const page = toPage(rows, q.limit);
    const monthSales = await deps.orderReports.netSalesOfAgentsSince(page.data.map((r) => r.id), { statuses: SOLD_STATUSES, since: chinaMonthStart(p.clock.now()) });
    return {
      ...page,
      data: page.data.map((r) => ({ id: r.id, name: r.name, role: r.role, parent_id: r.parent_id, depth: num(r.depth), status: r.status, joined_at: r.joined_at, month_sales_fen: monthSales.get(r.id) ?? 0 })),
    };
  }

  /**
   * SKUs on sale that the agent may sell (every product scope on its chain covers them), at its price (its level's
   * explicit price, else the markup rules, else retail), with stock: every code available, its quota left (its own
   * allocation or its nearest upline's, claimed first) and the free pool (what it can buy beyond the quota).
   */
  async function products(agentId: string, q: { limit: number; cursor?: string }): Promise<PageResult<AgentProduct>> {
    const agent = await deps.agents.seller(agentId);
    const values: unknown[] = [q.cursor ?? null, q.limit + 1];
    const inScope = [...scopesByAgent(agent.scopes).values()].map((scope) => {
      values.push(scope.filter((e) => e.type === 'sku').map((e) => e.ref), scope.filter((e) => e.type === 'category').map((e) => e.ref));
      return ` and (s.id = any($${values.length - 1}::text[]) or pr.category = any($${values.length}::text[]))`;
    });
    const rows = await queryRows<{ id: string; product_id: string; product_name: string; category: string; name: string; face_value_fen: number; cost_fen: number; retail_price_fen: number; agent_prices: Record<string, number> | string; min_per_order: number; max_per_order: number }>(
      p.db,
      `select s.id, s.product_id, pr.name as product_name, pr.category, s.name, s.face_value_fen, s.cost_fen, s.retail_price_fen, s.agent_prices, s.min_per_order, s.max_per_order
       from skus s join products pr on pr.id = s.product_id
       where s.on_sale and ($1::text is null or s.id < $1)${inScope.join('')} order by s.id desc limit $2`,
      values,
    );
    const page = toPage(rows, q.limit);
    const ids = page.data.map((r) => r.id);
    const stock = await deps.vault.availableBySku(ids);
    const quotas = await deps.inventory.agentStock(ids, agent.path);
    const levelRules = await deps.catalog.levelRules();
    return {
      ...page,
      data: page.data.map((r) => {
        const agentPrices = (typeof r.agent_prices === 'string' ? JSON.parse(r.agent_prices) : r.agent_prices) as Record<string, number>;
        const retail = num(r.retail_price_fen);
        return {
          id: r.id,
          product_id: r.product_id,
          product_name: r.product_name,
          name: r.name,
          face_value_fen: num(r.face_value_fen),
          retail_price_fen: retail,
          price_fen: deps.catalog.priceFor({ agentPrices, retailPriceFen: retail, costFen: num(r.cost_fen), category: r.category, levelRules }, agent.depth),
          min_per_order: num(r.min_per_order),
          max_per_order: num(r.max_per_order),
          available: stock.get(r.id) ?? 0,
          quota_available: quotas.get(r.id)?.quota ?? 0,
          free_available: quotas.get(r.id)?.free ?? 0,
        };
      }),
    };
  }

  async function referral(agentId: string) {
    const agent = await deps.agents.get(agentId);
    const link = joinLink(p.config.publicUrl, agent.referral_code);
    const qrPng = await QRCode.toDataURL(link, { type: 'image/png', errorCorrectionLevel: 'M', margin: 2, width: 256 });
    return { referral_code: agent.referral_code, link, qr_png: qrPng };
  }

  /** The agent's promotion poster (SVG): its name, referral code, join link and a QR code of the link. */
  async function poster(agentId: string): Promise<string> {
    const agent = await deps.agents.get(agentId);
    return renderPoster({ displayName: agent.name, referralCode: agent.referral_code, link: joinLink(p.config.publicUrl, agent.referral_code) });
  }

  /**
   * A new agent under the owner of a referral code. Binding rule: the first
   * code an agent joins with binds it for good; nothing here moves an
   * existing agent to another upline (each call creates a new agent).
   */
  async function joinByReferral(input: { referralCode: string; name: string; role: AgentRole; customerId?: string }): Promise<AgentView> {
    const upline = await deps.agents.byReferralCode(input.referralCode);
    if (!upline) throw new AppError('NOT_FOUND', `referral_code: no agent has the code ${input.referralCode}`, [{ field: 'referral_code', message: 'unknown code' }]);
    if (upline.status !== 'active') throw new AppError('UNPROCESSABLE', 'referral_code: the code\'s agent is frozen and cannot take new agents', [{ field: 'referral_code', message: 'upline frozen' }]);
    if (input.customerId) await deps.customers.get(input.customerId);
    return deps.agents.create({ name: input.name, role: input.role, parentId: upline.id, customerId: input.customerId });
  }

  /** Staff onboarding: a top-level agent, or one under an upline given by id or by its referral code (audited). */
  async function createByStaff(input: { name: string; role: AgentRole; referralCode?: string; parentId?: string }, actor: { id: string; ip?: string }): Promise<AgentView> {
    if (input.referralCode && input.parentId) throw invalidField('parent_id', 'give referral_code or parent_id, not both');
    let created: AgentView;
    if (input.referralCode) created = await joinByReferral({ referralCode: input.referralCode, name: input.name, role: input.role });
    else {
      if (input.parentId) {
        const [parent] = await queryRows<{ status: string }>(p.db, 'select status from agents where id = $1', [input.parentId]);
        if (!parent) throw new AppError('NOT_FOUND', `parent_id: agent ${input.parentId} not found`, [{ field: 'parent_id', message: 'unknown agent' }]);
        if (parent.status !== 'active') throw new AppError('UNPROCESSABLE', 'parent_id: the upline agent is frozen', [{ field: 'parent_id', message: 'upline frozen' }]);
      }
      created = await deps.agents.create({ name: input.name, role: input.role, parentId: input.parentId });
    }
    await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'agent.create', targetType: 'agent', targetId: created.id, ip: actor.ip, details: { parent_id: created.parent_id, via: input.referralCode ? 'referral_code' : input.parentId ? 'parent_id' : 'top_level' } });
    return created;
  }

  return { summary, sales, team, products, referral, poster, joinByReferral, createByStaff };
}

export type AgentBackOffice = ReturnType<typeof createAgentBackOffice>;
