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

// An agent sells when it is the order's agent or when it buys on its own prepaid balance (and resells).
const SELLER = `(o.agent_id = $1 or (o.buyer_type = 'agent' and o.buyer_id = $1))`;
// Period labels in China time, computed by the database so grouping and labels agree.
const chinaLabel = (column: string, period: 'day' | 'month') => `to_char((${column} at time zone 'UTC') + interval '8 hours', '${period === 'day' ? 'YYYY-MM-DD' : 'YYYY-MM'}')`;

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

export function createAgentBackOffice(p: Platform, deps: { agents: AgentService; ledger: LedgerService; catalog: CatalogService; vault: { availableBySku(skuIds: string[]): Promise<Map<string, number>> }; audit: AuditService; customers: CustomerService }) {
  async function summary(agentId: string) {
    const agent = await deps.agents.get(agentId);
    const upline = agent.parent_id ? await deps.agents.get(agent.parent_id) : null;
    const [prepaid, pending, available] = [
      await deps.ledger.balance(accounts.agentBalance(agentId).id),
      await deps.ledger.balance(accounts.commissionPending(agentId).id),
      await deps.ledger.balance(accounts.commissionAvailable(agentId).id),
    ];
    const [withdrawn] = await queryRows<{ amount: string | null; fee: string | null }>(
      p.db,
      `select sum(amount_fen)::text as amount, sum(fee_fen)::text as fee from withdrawals where agent_id = $1 and status = 'paid'`,
      [agentId],
    );
    const now = p.clock.now();
    const today = chinaDayStart(chinaDay(now))!;
    const month = chinaMonthStart(now);
    const [sales] = await queryRows<Record<string, unknown>>(
      p.db,
      `select count(*) filter (where o.created_at >= $3)::int as today_orders,
              coalesce(sum(o.delivered_quantity) filter (where o.created_at >= $3), 0)::text as today_units,
              coalesce(sum(o.amount_fen - o.refunded_fen) filter (where o.created_at >= $3), 0)::text as today_amount,
              count(*)::int as month_orders,
              coalesce(sum(o.delivered_quantity), 0)::text as month_units,
              coalesce(sum(o.amount_fen - o.refunded_fen), 0)::text as month_amount
       from orders o where ${SELLER} and o.status = any($2::text[]) and o.created_at >= $4 and o.created_at <= $5`,
      [agentId, SOLD_STATUSES, today.toISOString(), month.toISOString(), now.toISOString()],
    );
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
        withdrawn_fen: num(withdrawn?.amount),
        withdrawal_fees_fen: num(withdrawn?.fee),
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

    const orderRows = await queryRows<{ period: string; orders: number; units: string; amount: string; refunded: string }>(
      p.db,
      `select ${chinaLabel('o.created_at', q.period)} as period, count(*)::int as orders, coalesce(sum(o.delivered_quantity), 0)::text as units,
              coalesce(sum(o.amount_fen), 0)::text as amount, coalesce(sum(o.refunded_fen), 0)::text as refunded
       from orders o where ${SELLER} and o.status = any($2::text[]) and o.created_at >= $3 and o.created_at < $4
       group by 1`,
      [agentId, SOLD_STATUSES, from.toISOString(), end.toISOString()],
    );
    const commissionRows = await queryRows<{ period: string; earned: string }>(
      p.db,
      `select ${chinaLabel('c.created_at', q.period)} as period, coalesce(sum(c.amount_fen - c.reversed_fen), 0)::text as earned
       from commissions c where c.agent_id = $1 and c.created_at >= $2 and c.created_at < $3 group by 1`,
      [agentId, from.toISOString(), end.toISOString()],
    );
    const byPeriod = new Map(orderRows.map((r) => [r.period, r]));
    const earned = new Map(commissionRows.map((r) => [r.period, num(r.earned)]));
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
    const rows = await queryRows<{ id: string; name: string; role: string; parent_id: string | null; depth: number; status: string; joined_at: string; month_sales: string }>(
      p.db,
      `select a.id, a.name, a.role, a.parent_id, a.depth - $2 as depth, a.status,
              to_char(a.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as joined_at,
              (select coalesce(sum(o.amount_fen - o.refunded_fen), 0) from orders o
                where (o.agent_id = a.id or (o.buyer_type = 'agent' and o.buyer_id = a.id)) and o.status = any($3::text[]) and o.created_at >= $4)::text as month_sales
       from agents a where a.path like $1 and ($5::text is null or a.id < $5)
       order by a.id desc limit $6`,
      [`${me.path}/%`, me.depth, SOLD_STATUSES, chinaMonthStart(p.clock.now()).toISOString(), q.cursor ?? null, q.limit + 1],
    );
    return toPage(
      rows.map((r) => ({ id: r.id, name: r.name, role: r.role, parent_id: r.parent_id, depth: num(r.depth), status: r.status, joined_at: r.joined_at, month_sales_fen: num(r.month_sales) })),
      q.limit,
    );
  }

  /** SKUs on sale, at the agent's price (its level's price, else retail), with the codes available now. */
  async function products(agentId: string, q: { limit: number; cursor?: string }): Promise<PageResult<AgentProduct>> {
    const agent = await deps.agents.get(agentId);
    const rows = await queryRows<{ id: string; product_id: string; product_name: string; name: string; face_value_fen: number; retail_price_fen: number; agent_prices: Record<string, number> | string; min_per_order: number; max_per_order: number }>(
      p.db,
      `select s.id, s.product_id, pr.name as product_name, s.name, s.face_value_fen, s.retail_price_fen, s.agent_prices, s.min_per_order, s.max_per_order
       from skus s join products pr on pr.id = s.product_id
       where s.on_sale and ($1::text is null or s.id < $1) order by s.id desc limit $2`,
      [q.cursor ?? null, q.limit + 1],
    );
    const page = toPage(rows, q.limit);
    const stock = await deps.vault.availableBySku(page.data.map((r) => r.id));
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
          price_fen: deps.catalog.priceFor({ agentPrices, retailPriceFen: retail }, agent.depth),
          min_per_order: num(r.min_per_order),
          max_per_order: num(r.max_per_order),
          available: stock.get(r.id) ?? 0,
        };
      }),
    };
  }

  async function referral(agentId: string) {
    const agent = await deps.agents.get(agentId);
    const link = `${p.config.publicUrl.replace(/\/+$/, '')}/join/${agent.referral_code}`;
    const qrPng = await QRCode.toDataURL(link, { type: 'image/png', errorCorrectionLevel: 'M', margin: 2, width: 256 });
    return { referral_code: agent.referral_code, link, qr_png: qrPng };
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

  return { summary, sales, team, products, referral, joinByReferral, createByStaff };
}

export type AgentBackOffice = ReturnType<typeof createAgentBackOffice>;
