import { and, desc, eq, type SQL } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import type { LedgerService } from '../ledger/service.js';
import type { AgentService } from '../agents/service.js';
import type { OrderReports } from '../orders/reports.js';
import { accounts, type Posting } from '../ledger/accounts.js';
import { commissionRuleSets, commissionRuleVersions, commissions } from './schema.js';
export type { CommissionView, RuleSetView, RuleVersionView, LevelView, PreviewLevel } from './views.js';
import { toCommissionView, toRuleSetView, toVersionView, type CommissionView, type PreviewLevel, type RuleSetView, type RuleVersionView } from './views.js';
import { checkProfitGuard, checkRuleShape, computeCommissions, DEFAULT_MAX_LEVELS, type ChainMember, type LevelRule, type PricePoint } from './rules.js';

export const ruleScopes = ['all', 'product', 'category'] as const;
export type RuleScopeType = (typeof ruleScopes)[number];
export interface RuleScope {
  type: RuleScopeType;
  /** product id for 'product', category name for 'category' */
  value?: string;
}

export interface CommissionDeps {
  audit: AuditService;
  ledger: LedgerService;
  catalog: CatalogService;
  agents: AgentService;
  /** the orders module's read-only reports (the order service itself is created after this one) */
  orderReports: Pick<OrderReports, 'deliveredSalesOfAgent' | 'deliveredAwaitingAccrual' | 'lockForAccrual'>;
}

export interface CommissionSettings {
  /** Days an accrued commission stays pending (refund window) before it becomes available. */
  holdDays: number;
}

/** The fields of an order that commissions need (a row of the orders table fits). */
export interface AccruableOrder {
  id: string;
  skuId: string;
  quantity: number;
  unitPriceFen: number;
  agentId: string | null;
  buyerType: string;
  buyerId: string;
}

type Actor = { id: string; ip?: string };

// Orders that count towards an agent's monthly sales volume (tiered levels).
const SOLD_STATUSES = ['delivered', 'partially_delivered', 'partially_refunded'];
// Calendar months are China's (UTC+8), the platform's business day.
const BUSINESS_TZ_OFFSET_MS = 8 * 3_600_000;

/** Start of the calendar month (UTC+8) that `at` falls in, as an instant. */
export function monthStart(at: Date): Date {
  const local = new Date(at.getTime() + BUSINESS_TZ_OFFSET_MS);
  return new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1) - BUSINESS_TZ_OFFSET_MS);
}

/**
 * Multi-level commissions: versioned rules (append-only versions), accrual
 * in the order's transaction, proportional reversal on refunds, and the
 * settlement job that makes pending commissions available after the hold.
 *
 * Ledger: accrual  commission_expense -x / commission_pending(agent) +x;
 *         settle   commission_pending -x / commission_available +x;
 *         reverse  commission_pending (or _available) -x / commission_expense +x;
 *         recover  commission_available -c / commission_expense +c.
 * commission_available is guarded (never below 0): what an agent already
 * withdrew cannot be taken back from it, so that part of a reversal is kept
 * on the commission row as clawback_due_fen. The settlement job (and any
 * later reversal) recovers it from the agent's available commission,
 * c = min(clawback due, available), oldest rows first (clawback_due_fen ->
 * reversed_fen), in the same ledger transaction.
 */
export function createCommissionService(p: Platform, deps: CommissionDeps, settings: CommissionSettings) {
  // Read before the rule's transaction opens (the embedded database has one connection).
  async function pricePoints(scope: RuleScope): Promise<PricePoint[]> {
    const skus =
      scope.type === 'product'
        ? (await deps.catalog.getProduct(scope.value!)).skus
        : scope.type === 'category'
          ? await deps.catalog.listSkusOfCategory(scope.value!)
          : await deps.catalog.listSkus();
    return skus.flatMap((s) => {
      const prices = new Set([s.retail_price_fen, ...Object.values(s.agent_prices)]);
      return [...prices].map((price) => ({ skuId: s.id, unitPriceFen: price, unitCostFen: s.cost_fen }));
    });
  }

  /** Shape, then the profit guard at the scope's current prices and costs. */
  async function checkRule(levels: LevelRule[], maxLevels: number, scope: RuleScope) {
    const shape = checkRuleShape({ levels }, maxLevels);
    if (shape) throw new AppError('VALIDATION_FAILED', `${shape.field}: ${shape.message}`, [shape]);
    const violation = checkProfitGuard({ levels }, await pricePoints(scope));
    if (violation) throw new AppError('UNPROCESSABLE', `${violation.field}: ${violation.message}`, [violation]);
  }

  async function createRuleSet(input: { name: string; scope: RuleScope; maxLevels?: number; levels: LevelRule[] }, actor: Actor): Promise<RuleSetView> {
    const { scope } = input;
    if (scope.type === 'all' && scope.value) throw new AppError('VALIDATION_FAILED', 'scope_value: must be empty for scope all', [{ field: 'scope_value', message: 'must be empty for scope all' }]);
    if (scope.type !== 'all' && !scope.value) throw new AppError('VALIDATION_FAILED', `scope_value: required for scope ${scope.type}`, [{ field: 'scope_value', message: `required for scope ${scope.type}` }]);
    const maxLevels = input.maxLevels ?? DEFAULT_MAX_LEVELS;
    const now = p.clock.now();
    const id = newId('crs', now);
    await checkRule(input.levels, maxLevels, scope);
    await p.db.transaction(async (tx) => {
      await tx.insert(commissionRuleSets).values({ id, name: input.name, scopeType: scope.type, scopeValue: scope.type === 'all' ? null : scope.value!, createdBy: actor.id, createdAt: now });
      const versionId = await insertVersion(tx, id, 1, maxLevels, input.levels, actor.id);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'commissions.rule_create', targetType: 'commission_rule_set', targetId: id, ip: actor.ip, details: { name: input.name, scope_type: scope.type, scope_value: scope.value ?? null, version_id: versionId, levels: input.levels } }, tx);
    });
    return getRuleSet(id);
  }

  async function insertVersion(tx: Tx, ruleSetId: string, version: number, maxLevels: number, levels: LevelRule[], actorId: string): Promise<string> {
    const id = newId('crv', p.clock.now());
    await tx.insert(commissionRuleVersions).values({ id, ruleSetId, version, maxLevels, levels, createdBy: actorId, createdAt: p.clock.now() });
    return id;
  }

  /** A new version of a rule set; earlier versions (and the commissions computed with them) stay as they were. */
  async function addVersion(ruleSetId: string, input: { maxLevels?: number; levels: LevelRule[] }, actor: Actor): Promise<RuleSetView> {
    const current = await getRuleSet(ruleSetId);
    const maxLevels = input.maxLevels ?? current.current_version.max_levels;
    await checkRule(input.levels, maxLevels, { type: current.scope_type as RuleScopeType, value: current.scope_value ?? undefined });
    await p.db.transaction(async (tx) => {
      // The set's row lock numbers concurrent versions one after the other.
      await tx.select().from(commissionRuleSets).where(eq(commissionRuleSets.id, ruleSetId)).for('update');
      const latest = await latestVersion(ruleSetId, tx);
      const version = (latest?.version ?? 0) + 1;
      const versionId = await insertVersion(tx, ruleSetId, version, maxLevels, input.levels, actor.id);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'commissions.rule_version', targetType: 'commission_rule_set', targetId: ruleSetId, ip: actor.ip, details: { version, version_id: versionId, levels: input.levels } }, tx);
    });
    return getRuleSet(ruleSetId);
  }

  async function latestVersion(ruleSetId: string, db: DbOrTx) {
    const [v] = await db.select().from(commissionRuleVersions).where(eq(commissionRuleVersions.ruleSetId, ruleSetId)).orderBy(desc(commissionRuleVersions.version)).limit(1);
    return v;
  }

  async function getRuleSet(id: string, db: DbOrTx = p.db): Promise<RuleSetView> {
    const [set] = await db.select().from(commissionRuleSets).where(eq(commissionRuleSets.id, id));
    if (!set) throw notFound('commission rule set', id);
    const v = await latestVersion(id, db);
    return toRuleSetView(set, v!);
  }

  async function listRuleSets(q: { limit: number; cursor?: string }): Promise<PageResult<RuleSetView>> {
    const rows = await p.db.select().from(commissionRuleSets).where(pageFilter(commissionRuleSets.id, q.cursor)).orderBy(desc(commissionRuleSets.id)).limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    const data: RuleSetView[] = [];
    for (const set of page.data) data.push(toRuleSetView(set, (await latestVersion(set.id, p.db))!));
    return { ...page, data };
  }

  async function listVersions(ruleSetId: string): Promise<RuleVersionView[]> {
    await getRuleSet(ruleSetId);
    const rows = await p.db.select().from(commissionRuleVersions).where(eq(commissionRuleVersions.ruleSetId, ruleSetId)).orderBy(desc(commissionRuleVersions.version));
    return rows.map(toVersionView);
  }

  /**
   * The rule that applies to a SKU: the most specific scope (product, then
   * category, then all), the newest rule set among equals, its latest version.
   */
  async function ruleFor(db: DbOrTx, productId: string, category: string) {
    const [row] = await queryRows<{ rule_set_id: string; version_id: string; levels: LevelRule[] }>(
      db,
      `select s.id as rule_set_id, v.id as version_id, v.levels
       from commission_rule_sets s
       join lateral (select id, levels from commission_rule_versions where rule_set_id = s.id order by version desc limit 1) v on true
       where s.scope_type = 'all' or (s.scope_type = 'product' and s.scope_value = $1) or (s.scope_type = 'category' and s.scope_value = $2)
       order by case s.scope_type when 'product' then 0 when 'category' then 1 else 2 end, s.id desc
       limit 1`,
      [productId, category],
    );
    if (!row) return null;
    const levels = typeof row.levels === 'string' ? (JSON.parse(row.levels) as LevelRule[]) : row.levels;
    return { ruleSetId: row.rule_set_id, versionId: row.version_id, levels };
  }

  /** The agent an order's commissions start from: the order's agent, else the buyer when it is an agent. */
  const sellerOf = (o: Pick<AccruableOrder, 'agentId' | 'buyerType' | 'buyerId'>): string | null => o.agentId ?? (o.buyerType === 'agent' ? o.buyerId : null);

  /** An agent's sales (paid, not refunded) in the current calendar month, before `exceptOrderId`. */
  async function monthVolume(db: DbOrTx, agentId: string, exceptOrderId: string | null): Promise<number> {
    return deps.orderReports.deliveredSalesOfAgent(db, agentId, { statuses: SOLD_STATUSES, from: monthStart(p.clock.now()), to: p.clock.now(), exceptOrderId });
  }

  /** Level 1 is the seller, level 2 its parent...; frozen agents are left out (their level earns nothing). */
  async function chainOf(db: DbOrTx, sellerId: string, levels: LevelRule[], exceptOrderId: string | null) {
    // Walked up one parent at a time, only as far as the rule has levels.
    const ancestry: { id: string; status: string }[] = [];
    for (let next: string | null = sellerId; next && ancestry.length < levels.length; ) {
      const agent = await deps.agents.get(next, db);
      ancestry.push(agent);
      next = agent.parent_id;
    }
    const chain: ChainMember[] = [];
    const frozen: { agentId: string; level: number }[] = [];
    for (let i = 0; i < ancestry.length; i++) {
      const a = ancestry[i]!;
      if (a.status !== 'active') {
        frozen.push({ agentId: a.id, level: i + 1 });
        continue;
      }
      const volume = levels[i]?.kind === 'tiered' ? await monthVolume(db, a.id, exceptOrderId) : 0;
      chain.push({ agentId: a.id, level: i + 1, monthVolumeFen: volume });
    }
    return { chain, frozen };
  }

  /** What each level would earn if `agentId` sold the SKU now (no writes). */
  async function preview(input: { skuId: string; quantity: number; agentId: string; unitPriceFen?: number }) {
    const sku = await deps.catalog.getSku(input.skuId);
    const product = await deps.catalog.getProduct(sku.productId);
    await deps.agents.get(input.agentId);
    const unitPriceFen = input.unitPriceFen ?? sku.retailPriceFen;
    const rule = await ruleFor(p.db, sku.productId, product.category);
    const base = { sku_id: sku.id, quantity: input.quantity, unit_price_fen: unitPriceFen, unit_cost_fen: sku.costFen, margin_fen: Math.max(0, (unitPriceFen - sku.costFen) * input.quantity) };
    if (!rule) return { ...base, rule_set_id: null, rule_version_id: null, capped: false, total_fen: 0, levels: [] as PreviewLevel[] };
    const { chain, frozen } = await chainOf(p.db, input.agentId, rule.levels, null);
    const result = computeCommissions({ unitPriceFen, unitCostFen: sku.costFen, quantity: input.quantity, chain, rule: { levels: rule.levels } });
    const levels: PreviewLevel[] = [
      ...result.lines.map((l) => ({ level: l.level, agent_id: l.agentId, amount_fen: l.amountFen, skipped: null })),
      ...frozen.map((f) => ({ level: f.level, agent_id: f.agentId, amount_fen: 0, skipped: 'agent is frozen' })),
    ].sort((a, b) => a.level - b.level);
    return { ...base, rule_set_id: rule.ruleSetId, rule_version_id: rule.versionId, capped: result.capped, total_fen: result.totalFen, levels };
  }

  /**
   * Accrues an order's commissions, in the order's transaction, when it is
   * delivered: one ledger transaction (expense -> each agent's pending
   * account) and one row per earning level, naming the rule version used.
   * Idempotent: an order that already has commission rows gets nothing new.
   */
  async function accrue(tx: Tx, order: AccruableOrder): Promise<CommissionView[]> {
    const existing = await tx.select().from(commissions).where(eq(commissions.orderId, order.id));
    if (existing.length) return existing.map(toCommissionView);
    const seller = sellerOf(order);
    if (!seller) return [];
    const sku = await deps.catalog.getSku(order.skuId, tx);
    const product = await deps.catalog.getProduct(sku.productId, tx);
    const rule = await ruleFor(tx, sku.productId, product.category);
    if (!rule) return [];
    const { chain } = await chainOf(tx, seller, rule.levels, order.id);
    const result = computeCommissions({ unitPriceFen: order.unitPriceFen, unitCostFen: sku.costFen, quantity: order.quantity, chain, rule: { levels: rule.levels } });
    const earning = result.lines.filter((l) => l.amountFen > 0);
    if (earning.length === 0) return [];
    await deps.ledger.post(tx, {
      kind: 'commission_accrual',
      refType: 'order',
      refId: order.id,
      postings: [{ account: accounts.commissionExpense, amountFen: -result.totalFen }, ...earning.map((l) => ({ account: accounts.commissionPending(l.agentId), amountFen: l.amountFen }))],
    });
    const now = p.clock.now();
    const availableAt = new Date(now.getTime() + settings.holdDays * 86_400_000);
    const rows = await tx
      .insert(commissions)
      .values(earning.map((l) => ({ id: newId('com', now), orderId: order.id, agentId: l.agentId, level: l.level, amountFen: l.amountFen, ruleVersionId: rule.versionId, capped: result.capped, status: 'pending', availableAt, createdAt: now })))
      .returning();
    return rows.map(toCommissionView);
  }

  /**
   * The accrual job. Selling does not wait for commissions: delivered orders
   * are picked up here (within a minute), each in its own transaction that
   * locks the order, so a refund running at the same time comes before or
   * after, never in between. An order already partly refunded accrues what
   * its remaining amount earns; a wholly refunded one earns nothing. A
   * marker row per order makes every order accrue once, whichever instance
   * runs the job. Orders delivered within the hold window are considered.
   */
  async function accrueDelivered(limit = 200): Promise<number> {
    const since = new Date(p.clock.now().getTime() - Math.max(settings.holdDays, 1) * 86_400_000 - 86_400_000);
    const due = await deps.orderReports.deliveredAwaitingAccrual(since, limit);
    let accrued = 0;
    for (const id of due) {
      await p.db.transaction(async (tx) => {
        const o = await deps.orderReports.lockForAccrual(tx, id);
        if (!o) return;
        const marked = await queryRows(tx, 'insert into commission_accruals (order_id, total_fen, created_at) values ($1, 0, $2::timestamptz) on conflict (order_id) do nothing returning order_id', [id, p.clock.now().toISOString()]);
        if (marked.length === 0 || o.refunded_fen >= o.amount_fen) return;
        const rows = await accrue(tx, { id: o.id, skuId: o.sku_id, quantity: o.quantity, unitPriceFen: o.unit_price_fen, agentId: o.agent_id, buyerType: o.buyer_type, buyerId: o.buyer_id });
        if (o.refunded_fen > 0 && rows.length) await reverse(tx, o.id, { refundedFen: o.refunded_fen, amountFen: o.amount_fen, totalRefundedFen: o.refunded_fen });
        const total = rows.reduce((a, r) => a + r.amount_fen, 0);
        await queryRows(tx, 'update commission_accruals set total_fen = $2, rule_version_id = $3 where order_id = $1', [id, total, rows[0]?.rule_version_id ?? null]);
        if (rows.length) accrued++;
      });
    }
    return accrued;
  }

  /**
   * Reverses an order's commissions in proportion to a refund, in the refund's
   * transaction. `refund.refundedFen` is what this refund returned and
   * `refund.amountFen` the order's amount; the rows remember the refunds so
   * far, so partial refunds add up and a whole refund reverses exactly all.
   * Pass `totalRefundedFen` (the order's refunded_fen after this refund)
   * instead to make the call idempotent: the reversal then tops up to that
   * total, and a repeated call reverses nothing more.
   * Pending commissions come back from the pending account; available ones
   * from the available account up to its balance, the rest is recorded as
   * clawback_due_fen on the row.
   */
  async function reverse(tx: Tx, orderId: string, refund: { refundedFen: number; amountFen: number; totalRefundedFen?: number }): Promise<{ reversedFen: number; clawbackDueFen: number }> {
    const whole = (n: number | undefined) => n === undefined || (Number.isSafeInteger(n) && n >= 0);
    if (!whole(refund.refundedFen) || !whole(refund.totalRefundedFen) || !Number.isSafeInteger(refund.amountFen) || refund.amountFen <= 0) {
      throw new Error(`commission reversal of ${orderId}: refundedFen and totalRefundedFen must be >= 0 and amountFen > 0 (whole fen)`);
    }
    const rows = await tx.select().from(commissions).where(eq(commissions.orderId, orderId)).orderBy(commissions.level).for('update');
    const postings: Posting[] = [];
    let reversedFen = 0;
    let clawbackDueFen = 0;
    for (const r of rows) {
      const refunded = refund.totalRefundedFen ?? r.orderRefundedFen + refund.refundedFen;
      const target = refunded >= refund.amountFen ? r.amountFen : Number((BigInt(r.amountFen) * BigInt(refunded)) / BigInt(refund.amountFen));
      const x = Math.max(0, target - r.reversedFen - r.clawbackDueFen);
      let fromLedger = x;
      let clawback = 0;
      if (x > 0 && r.status === 'available') {
        const balance = await deps.ledger.balance(accounts.commissionAvailable(r.agentId).id, tx);
        fromLedger = Math.min(x, Math.max(0, balance));
        clawback = x - fromLedger;
      }
      if (fromLedger > 0) postings.push({ account: r.status === 'pending' ? accounts.commissionPending(r.agentId) : accounts.commissionAvailable(r.agentId), amountFen: -fromLedger });
      const nextReversed = r.reversedFen + fromLedger;
      const nextClawback = r.clawbackDueFen + clawback;
      const status = nextReversed + nextClawback >= r.amountFen ? 'reversed' : r.status;
      await tx.update(commissions).set({ orderRefundedFen: refunded, reversedFen: nextReversed, clawbackDueFen: nextClawback, status }).where(eq(commissions.id, r.id));
      reversedFen += fromLedger;
      clawbackDueFen += clawback;
    }
    // What the agents still owe from earlier reversals comes out of what is left in their available commission.
    const availableDebits = new Map<string, number>();
    for (const x of postings) if (x.account.kind === 'commission_available') availableDebits.set(x.account.ownerId!, (availableDebits.get(x.account.ownerId!) ?? 0) + x.amountFen);
    const recovery = await recoverClawback(tx, [...new Set(rows.map((r) => r.agentId))], availableDebits);
    if (reversedFen > 0 || recovery.recoveredFen > 0) {
      await deps.ledger.post(tx, {
        kind: 'commission_reversal',
        refType: 'order',
        refId: orderId,
        memo: recovery.recoveredFen > 0 ? `${recovery.recoveredFen} fen of earlier clawback recovered` : undefined,
        postings: [...postings, ...(reversedFen > 0 ? [{ account: accounts.commissionExpense, amountFen: reversedFen }] : []), ...recovery.postings],
      });
    }
    return { reversedFen, clawbackDueFen };
  }

  /**
   * Clawback recovery: for each agent (all agents owing when `agentIds` is
   * null) with clawback_due_fen outstanding, takes min(outstanding, its
   * available commission) back to commission expense and moves that amount
   * from clawback_due_fen to reversed_fen on its rows, oldest first.
   * `balanceChanges` are what the caller's own postings (in the same ledger
   * transaction, before these) do to the available accounts. Returns the
   * postings (available -c, expense +c) for the caller to post. Rows another
   * transaction holds are skipped (SKIP LOCKED): the next settlement run
   * recovers them, and no reversal waits on a settlement or the reverse.
   */
  async function recoverClawback(tx: Tx, agentIds: string[] | null, balanceChanges: Map<string, number>): Promise<{ postings: Posting[]; recoveredFen: number; firstRowId: string | null }> {
    if (agentIds && agentIds.length === 0) return { postings: [], recoveredFen: 0, firstRowId: null };
    const owing = await queryRows<{ id: string; agent_id: string; amount_fen: number; reversed_fen: number; clawback_due_fen: number; status: string }>(
      tx,
      `select id, agent_id, amount_fen, reversed_fen, clawback_due_fen, status from commissions
       where clawback_due_fen > 0 and ($1::text[] is null or agent_id = any($1::text[]))
       order by created_at, id for update skip locked`,
      [agentIds],
    );
    const byAgent = new Map<string, typeof owing>();
    for (const r of owing) byAgent.set(r.agent_id, [...(byAgent.get(r.agent_id) ?? []), r]);
    const postings: Posting[] = [];
    let recoveredFen = 0;
    for (const [agentId, list] of byAgent) {
      const outstanding = list.reduce((a, r) => a + Number(r.clawback_due_fen), 0);
      const balance = (await deps.ledger.balance(accounts.commissionAvailable(agentId).id, tx)) + (balanceChanges.get(agentId) ?? 0);
      let left = Math.min(outstanding, Math.max(0, balance));
      if (left <= 0) continue;
      postings.push({ account: accounts.commissionAvailable(agentId), amountFen: -left });
      recoveredFen += left;
      for (const r of list) {
        if (left === 0) break;
        const take = Math.min(left, Number(r.clawback_due_fen));
        const reversed = Number(r.reversed_fen) + take;
        const due = Number(r.clawback_due_fen) - take;
        const status = reversed >= Number(r.amount_fen) ? 'reversed' : r.status;
        await tx.update(commissions).set({ reversedFen: reversed, clawbackDueFen: due, status }).where(eq(commissions.id, r.id));
        left -= take;
      }
    }
    if (recoveredFen > 0) postings.push({ account: accounts.commissionExpense, amountFen: recoveredFen });
    return { postings, recoveredFen, firstRowId: owing[0]?.id ?? null };
  }

  /**
   * The settlement job: commissions past their hold move from pending to
   * available, a batch per transaction. Rows are claimed with FOR UPDATE SKIP
   * LOCKED, so concurrent runs settle each row once. In the same ledger
   * transaction, outstanding clawback (of every agent owing, not only those
   * settled now: a rejected withdrawal also brings money back) is recovered
   * from the available commission. Returns how many settled.
   */
  async function settleDue(limit = 200): Promise<number> {
    return p.db.transaction(async (tx) => {
      const now = p.clock.now();
      const due = await queryRows<{ id: string; agent_id: string; amount_fen: number; reversed_fen: number }>(
        tx,
        `select id, agent_id, amount_fen, reversed_fen from commissions
         where status = 'pending' and available_at <= $1::timestamptz
         order by available_at, id limit $2 for update skip locked`,
        [now.toISOString(), limit],
      );
      const byAgent = new Map<string, number>();
      for (const r of due) byAgent.set(r.agent_id, (byAgent.get(r.agent_id) ?? 0) + Number(r.amount_fen) - Number(r.reversed_fen));
      const settled = [...byAgent].filter(([, x]) => x > 0);
      const postings: Posting[] = settled.flatMap(([agentId, x]) => [
        { account: accounts.commissionPending(agentId), amountFen: -x },
        { account: accounts.commissionAvailable(agentId), amountFen: x },
      ]);
      if (due.length) await queryRows(tx, `update commissions set status = 'available', settled_at = $2::timestamptz where id = any($1::text[]) and status = 'pending'`, [due.map((r) => r.id), now.toISOString()]);
      const recovery = await recoverClawback(tx, null, new Map(settled));
      const memo = [postings.length ? `${due.length} commission(s) past their hold` : null, recovery.recoveredFen > 0 ? `${recovery.recoveredFen} fen of clawback recovered` : null].filter(Boolean).join('; ');
      if (postings.length || recovery.postings.length) {
        await deps.ledger.post(tx, {
          kind: postings.length ? 'commission_settlement' : 'commission_clawback_recovery',
          refType: 'commission',
          refId: due[0]?.id ?? recovery.firstRowId!,
          memo,
          postings: [...postings, ...recovery.postings],
        });
      }
      return due.length;
    });
  }

  async function listCommissions(q: { limit: number; cursor?: string; orderId?: string; agentId?: string; status?: string }): Promise<PageResult<CommissionView>> {
    const filters: (SQL | undefined)[] = [
      q.orderId ? eq(commissions.orderId, q.orderId) : undefined,
      q.agentId ? eq(commissions.agentId, q.agentId) : undefined,
      q.status ? eq(commissions.status, q.status) : undefined,
    ];
    const rows = await p.db.select().from(commissions).where(pageFilter(commissions.id, q.cursor, and(...filters.filter((f): f is SQL => f !== undefined)))).orderBy(desc(commissions.id)).limit(q.limit + 1);
    return toPage(rows.map(toCommissionView), q.limit);
  }

  /** What an agent still owes from reversals of commission it had already withdrawn (recovered from its later earnings). */
  async function outstandingClawback(agentId: string): Promise<number> {
    const [row] = await queryRows<{ s: string | null }>(p.db, 'select coalesce(sum(clawback_due_fen), 0)::text as s from commissions where agent_id = $1 and clawback_due_fen > 0', [agentId]);
    return Number(row?.s ?? 0);
  }

  /** Commission an agent earned (net of reversals) per China day or month of accrual, in [from, end). */
  async function earnedByPeriod(agentId: string, q: { period: 'day' | 'month'; from: Date; end: Date }): Promise<Map<string, number>> {
    const label = `to_char((c.created_at at time zone 'UTC') + interval '8 hours', '${q.period === 'day' ? 'YYYY-MM-DD' : 'YYYY-MM'}')`;
    const rows = await queryRows<{ period: string; earned: string }>(
      p.db,
      `select ${label} as period, coalesce(sum(c.amount_fen - c.reversed_fen), 0)::text as earned
       from commissions c where c.agent_id = $1 and c.created_at >= $2 and c.created_at < $3 group by 1`,
      [agentId, q.from.toISOString(), q.end.toISOString()],
    );
    return new Map(rows.map((r) => [r.period, Number(r.earned)]));
  }

  return { createRuleSet, addVersion, getRuleSet, listRuleSets, listVersions, preview, accrue, accrueDelivered, reverse, settleDue, recoverClawback, outstandingClawback, earnedByPeriod, listCommissions };
}

export type CommissionService = ReturnType<typeof createCommissionService>;
