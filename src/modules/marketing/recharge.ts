import { and, desc, eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { LedgerService } from '../ledger/service.js';
import type { CustomerService } from '../customers/service.js';
import { accounts } from '../ledger/accounts.js';
import { createIdempotency } from '../orders/idempotency.js';
import { rechargeBonusRules, recharges, type RechargeTier } from './points-schema.js';
import { bonusFor, checkTiers } from './recharge-tiers.js';

export interface RechargeRuleView {
  id: string;
  name: string;
  campaign_id: string | null;
  tiers: RechargeTier[];
  starts_at: string;
  ends_at: string | null;
  per_customer_limit: number | null;
  status: string;
  created_at: string;
}

export interface RechargeView {
  id: string;
  customer_id: string;
  amount_fen: number;
  bonus_fen: number;
  rule_id: string | null;
  campaign_id: string | null;
  source: string;
  reference: string;
  recorded_by: string;
  ledger_transaction_id: string;
  created_at: string;
}

type Actor = { id: string; ip?: string };
const ruleView = (r: typeof rechargeBonusRules.$inferSelect): RechargeRuleView => ({
  id: r.id,
  name: r.name,
  campaign_id: r.campaignId,
  tiers: [...r.tiers].sort((a, b) => a.min_fen - b.min_fen),
  starts_at: r.startsAt.toISOString(),
  ends_at: r.endsAt?.toISOString() ?? null,
  per_customer_limit: r.perCustomerLimit,
  status: r.status,
  created_at: r.createdAt.toISOString(),
});
const rechargeView = (r: typeof recharges.$inferSelect): RechargeView => ({
  id: r.id,
  customer_id: r.customerId,
  amount_fen: r.amountFen,
  bonus_fen: r.bonusFen,
  rule_id: r.ruleId,
  campaign_id: r.campaignId,
  source: r.source,
  reference: r.reference,
  recorded_by: r.recordedBy,
  ledger_transaction_id: r.ledgerTransactionId,
  created_at: r.createdAt.toISOString(),
});

/**
 * 充值满赠: a confirmed customer top-up of X fen credits X to the customer's
 * balance and, under the best active rule the customer may still use, a
 * bonus Y to its promotional balance, in ONE ledger transaction
 * (cash -X, customer balance +X, promotion expense -Y, customer promo +Y).
 * The promotional balance is spent before cash by orders and never paid out.
 */
export function createRechargeService(p: Platform, deps: { ledger: LedgerService; audit: AuditService; customers: Pick<CustomerService, 'get'> }) {
  const idempotency = createIdempotency(p);

  async function createRule(input: { name: string; campaignId?: string | null; tiers: RechargeTier[]; startsAt?: Date; endsAt?: Date | null; perCustomerLimit?: number | null }, actor: Actor): Promise<RechargeRuleView> {
    const problem = checkTiers(input.tiers);
    if (problem) throw new AppError('VALIDATION_FAILED', `${problem.field}: ${problem.message}`, [problem]);
    const now = p.clock.now();
    const startsAt = input.startsAt ?? now;
    if (input.endsAt && input.endsAt <= startsAt) throw new AppError('VALIDATION_FAILED', 'ends_at: must be after starts_at', [{ field: 'ends_at', message: 'must be after starts_at' }]);
    const id = newId('rcb', now);
    await p.db.transaction(async (tx) => {
      await tx.insert(rechargeBonusRules).values({ id, name: input.name, campaignId: input.campaignId ?? null, tiers: input.tiers, startsAt, endsAt: input.endsAt ?? null, perCustomerLimit: input.perCustomerLimit ?? null, status: 'active', createdBy: actor.id, createdAt: now });
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'recharge.rule_create', targetType: 'recharge_bonus_rule', targetId: id, ip: actor.ip, details: { tiers: input.tiers, per_customer_limit: input.perCustomerLimit ?? null, campaign_id: input.campaignId ?? null } }, tx);
    });
    return getRule(id);
  }

  async function getRule(id: string): Promise<RechargeRuleView> {
    const [r] = await p.db.select().from(rechargeBonusRules).where(eq(rechargeBonusRules.id, id));
    if (!r) throw notFound('recharge bonus rule', id);
    return ruleView(r);
  }

  async function listRules(q: { limit: number; cursor?: string; status?: string }): Promise<PageResult<RechargeRuleView>> {
    const rows = await p.db.select().from(rechargeBonusRules).where(pageFilter(rechargeBonusRules.id, q.cursor, q.status ? eq(rechargeBonusRules.status, q.status) : undefined)).orderBy(desc(rechargeBonusRules.id)).limit(q.limit + 1);
    return toPage(rows.map(ruleView), q.limit);
  }

  async function endRule(id: string, actor: Actor): Promise<RechargeRuleView> {
    await p.db.transaction(async (tx) => {
      const rows = await tx.update(rechargeBonusRules).set({ status: 'ended' }).where(eq(rechargeBonusRules.id, id)).returning({ id: rechargeBonusRules.id });
      if (rows.length === 0) throw notFound('recharge bonus rule', id);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'recharge.rule_end', targetType: 'recharge_bonus_rule', targetId: id, ip: actor.ip }, tx);
    });
    return getRule(id);
  }

  /**
   * Records a confirmed top-up (finance staff, after the money arrived).
   * The Idempotency-Key makes a retry replay it; one customer's recharges are
   * recorded one at a time (advisory lock), so the per-customer limit holds.
   */
  async function record(input: { customerId: string; amountFen: number; reference: string; key: string; source?: string }, actor: Actor): Promise<{ status: 200 | 201; recharge: RechargeView }> {
    if (!Number.isSafeInteger(input.amountFen) || input.amountFen <= 0) throw new AppError('VALIDATION_FAILED', 'amount_fen: must be a positive whole number of fen', [{ field: 'amount_fen', message: 'must be positive' }]);
    await deps.customers.get(input.customerId);
    const now = p.clock.now();
    const id = newId('rcg', now);
    const result = await p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, 'recharges', input.key, { customer_id: input.customerId, amount_fen: input.amountFen, reference: input.reference }, { statusCode: 201, body: { recharge_id: id } });
      if (prior) return { status: 200 as const, id: (prior.body as { recharge_id: string }).recharge_id };
      await queryRows(tx, 'select pg_advisory_xact_lock(hashtext($1))', [`recharge:${input.customerId}`]);
      const rules = await queryRows<{ id: string; campaign_id: string | null; tiers: RechargeTier[] | string; per_customer_limit: number | null; used: number }>(
        tx,
        `select r.id, r.campaign_id, r.tiers, r.per_customer_limit,
                (select count(*)::int from recharges g where g.customer_id = $1 and g.rule_id = r.id) as used
         from recharge_bonus_rules r
         where r.status = 'active' and r.starts_at <= $2::timestamptz and (r.ends_at is null or r.ends_at > $2::timestamptz)
         order by r.id`,
        [input.customerId, now.toISOString()],
      );
      let best: { ruleId: string; campaignId: string | null; bonus: number } | null = null;
      for (const r of rules) {
        if (r.per_customer_limit !== null && Number(r.used) >= r.per_customer_limit) continue;
        const tiers = typeof r.tiers === 'string' ? (JSON.parse(r.tiers) as RechargeTier[]) : r.tiers;
        const bonus = bonusFor(tiers, input.amountFen);
        if (bonus > 0 && (!best || bonus > best.bonus)) best = { ruleId: r.id, campaignId: r.campaign_id, bonus };
      }
      const bonus = best?.bonus ?? 0;
      const ledgerId = await deps.ledger.post(tx, {
        kind: 'recharge',
        refType: 'recharge',
        refId: id,
        campaignId: best?.campaignId ?? null,
        postings: [
          { account: accounts.cash, amountFen: -input.amountFen },
          { account: accounts.customerBalance(input.customerId), amountFen: input.amountFen },
          ...(bonus > 0 ? [{ account: accounts.promotionExpense, amountFen: -bonus }, { account: accounts.customerPromo(input.customerId), amountFen: bonus }] : []),
        ],
      });
      await tx.insert(recharges).values({ id, customerId: input.customerId, amountFen: input.amountFen, bonusFen: bonus, ruleId: best?.ruleId ?? null, campaignId: best?.campaignId ?? null, source: input.source ?? 'staff', reference: input.reference, recordedBy: actor.id, ledgerTransactionId: ledgerId, createdAt: now });
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'recharge.record', targetType: 'customer', targetId: input.customerId, ip: actor.ip, details: { recharge_id: id, amount_fen: input.amountFen, bonus_fen: bonus, rule_id: best?.ruleId ?? null, reference: input.reference } }, tx);
      return { status: 201 as const, id };
    });
    return { status: result.status, recharge: await get(result.id) };
  }

  async function get(id: string): Promise<RechargeView> {
    const [r] = await p.db.select().from(recharges).where(eq(recharges.id, id));
    if (!r) throw notFound('recharge', id);
    return rechargeView(r);
  }

  async function list(q: { limit: number; cursor?: string; customerId?: string }): Promise<PageResult<RechargeView>> {
    const rows = await p.db.select().from(recharges).where(pageFilter(recharges.id, q.cursor, and(q.customerId ? eq(recharges.customerId, q.customerId) : undefined))).orderBy(desc(recharges.id)).limit(q.limit + 1);
    return toPage(rows.map(rechargeView), q.limit);
  }

  return { createRule, getRule, listRules, endRule, record, get, list };
}

export type RechargeService = ReturnType<typeof createRechargeService>;
