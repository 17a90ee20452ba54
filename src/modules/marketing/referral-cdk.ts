import { randomInt } from 'node:crypto';
import { and, desc, eq, sql } from 'drizzle-orm';
import QRCode from 'qrcode';
import type { Platform } from '../../platform.js';
import type { Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows, type Statement } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { AgentService } from '../agents/service.js';
import type { CustomerService } from '../customers/service.js';
import { pgErrorCode } from '../agents/bindings.js';
import { renderPoster } from '../agents/poster.js';
import { charsets } from '../vault/code-pattern.js';
import { createIdempotency } from '../orders/idempotency.js';
import { refuseUnlessPassed } from '../risk/gate-http.js';
import { assertRewardAvailable, creditPromo, type RewardDeps } from './cdk-rewards.js';
import { createRedeemLockout, type CdkRiskGate, type LockoutSettings } from './cdk-redeem.js';
import { referralCdkPrograms, referralCdkRedemptions, referralCdks, type ReferralRewards } from './cdk-schema.js';
import { referrerSignals, selfReferral } from './referral-cdk-signals.js';

export type Referrer = { type: 'agent' | 'customer'; id: string };

export interface ReferralDeps extends RewardDeps {
  audit: AuditService;
  agents: Pick<AgentService, 'get' | 'bindCustomer' | 'boundAgentOf'>;
  customers: Pick<CustomerService, 'get' | 'phoneHashOf'>;
  /** a customer's earlier orders (capped count), as a statement for the caller's transaction */
  priorOrdersStatement: (buyer: { type: 'customer'; id: string }) => Statement;
  risk?: CdkRiskGate;
}

export interface ProgramInput {
  rewards: ReferralRewards;
  perReferrerDailyCap: number;
  perReferrerTotalCap: number;
  campaignId?: string | null;
  enabled: boolean;
}

const CODE_LENGTH = 8;
const PROGRAM_ID = 'default';
const DEFAULT_PROGRAM = { rewards: { newCustomer: {}, referrer: {} } as ReferralRewards, perReferrerDailyCap: 20, perReferrerTotalCap: 1000, campaignId: null as string | null, enabled: true, updatedBy: null as string | null, updatedAt: new Date(0) };
/** How far back the devices a referrer used count for the self-referral check. */
const DEVICE_LOOKBACK_MS = 30 * 86_400_000;
const CHINA_OFFSET_MS = 8 * 3_600_000;

type Row = typeof referralCdks.$inferSelect;

/**
 * Referral codes: an agent (or a customer) has one personal code, a link and
 * a QR poster. A new customer who redeems it is bound to the agent's tree
 * (agents' referral bindings) and, when the customer is new (no orders, not
 * bound yet) and within the referrer's caps, both sides are rewarded, all in
 * one transaction. A customer who shares the referrer's account, phone or
 * device is refused (self-referral).
 */
export function createReferralCdkService(p: Platform, deps: ReferralDeps, settings: Partial<LockoutSettings> = {}) {
  const idempotency = createIdempotency(p);
  const lockout = createRedeemLockout(p, 'rfc:fail', { failuresPer10Minutes: settings.failuresPer10Minutes ?? 10, ipFailuresPer10Minutes: settings.ipFailuresPer10Minutes ?? 30 });
  const linkOf = (code: string) => `${p.config.publicUrl.replace(/\/+$/, '')}/invite/${encodeURIComponent(code)}`;

  async function assertReferrer(r: Referrer): Promise<string> {
    if (r.type === 'agent') {
      const a = await deps.agents.get(r.id);
      if (a.status !== 'active') throw new AppError('UNPROCESSABLE', 'owner_id: the agent is frozen', [{ field: 'owner_id', message: 'agent frozen' }]);
      return a.name;
    }
    return (await deps.customers.get(r.id)).display_name;
  }

  /** The owner's active code, created on first ask (one per owner; a race reads the winner's). */
  async function issue(owner: Referrer, actor?: { id: string; ip?: string }): Promise<ReferralView> {
    await assertReferrer(owner);
    const existing = await activeOf(owner);
    if (existing) return view(existing);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const row = await p.db.transaction(async (tx) => {
          const [r] = await tx.insert(referralCdks).values({ id: newId('rfc', p.clock.now()), code: newCode(), ownerType: owner.type, ownerId: owner.id, status: 'active', createdAt: p.clock.now() }).returning();
          if (actor) await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'marketing.referral_cdk_issued', targetType: 'referral_cdk', targetId: r!.id, ip: actor.ip, details: { owner_type: owner.type, owner_id: owner.id } }, tx);
          return r!;
        });
        return view(row);
      } catch (err) {
        if (pgErrorCode(err) !== '23505') throw err;
        const winner = await activeOf(owner);
        if (winner) return view(winner);
        // Otherwise the code itself collided: draw another.
      }
    }
    throw new AppError('SERVICE_UNAVAILABLE', 'could not draw a free referral code; retry');
  }

  async function activeOf(owner: Referrer): Promise<Row | undefined> {
    const [row] = await p.db.select().from(referralCdks).where(and(eq(referralCdks.ownerType, owner.type), eq(referralCdks.ownerId, owner.id), eq(referralCdks.status, 'active')));
    return row;
  }

  async function withQr(v: ReferralView) {
    return { ...v, qr_png: await QRCode.toDataURL(v.link, { type: 'image/png', errorCorrectionLevel: 'M', margin: 2, width: 256 }) };
  }

  /** The promotion poster of the owner's code (agents/poster.ts): name, code, link, QR of the link. */
  async function poster(owner: Referrer): Promise<string> {
    const name = await assertReferrer(owner);
    const v = await issue(owner);
    return renderPoster({ displayName: name, referralCode: v.code, link: v.link });
  }

  async function get(id: string): Promise<ReferralView> {
    const [row] = await p.db.select().from(referralCdks).where(eq(referralCdks.id, id));
    if (!row) throw notFound('referral code', id);
    return view(row);
  }

  async function list(q: { limit: number; cursor?: string; ownerType?: string; ownerId?: string }): Promise<PageResult<ReferralView>> {
    const rows = await p.db
      .select()
      .from(referralCdks)
      .where(pageFilter(referralCdks.id, q.cursor, q.ownerType ? eq(referralCdks.ownerType, q.ownerType) : undefined, q.ownerId ? eq(referralCdks.ownerId, q.ownerId) : undefined))
      .orderBy(desc(referralCdks.id))
      .limit(q.limit + 1);
    return toPage(rows.map(view), q.limit);
  }

  async function voidCode(id: string, reason: string, actor: { id: string; ip?: string }): Promise<ReferralView> {
    const row = await p.db.transaction(async (tx) => {
      const [r] = await tx.update(referralCdks).set({ status: 'voided' }).where(and(eq(referralCdks.id, id), eq(referralCdks.status, 'active'))).returning();
      if (!r) throw new AppError('CONFLICT', `referral code ${id} is not active (or does not exist)`);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'marketing.referral_cdk_voided', targetType: 'referral_cdk', targetId: id, ip: actor.ip, details: { reason } }, tx);
      return r;
    });
    return view(row);
  }

  async function program(db: Tx | typeof p.db = p.db) {
    const [row] = await db.select().from(referralCdkPrograms).where(eq(referralCdkPrograms.id, PROGRAM_ID));
    return row ?? { id: PROGRAM_ID, ...DEFAULT_PROGRAM };
  }

  async function setProgram(input: ProgramInput, actor: { id: string; ip?: string }) {
    const nc = input.rewards.newCustomer;
    if (nc.couponTemplateId && nc.promoFen) throw field('rewards.new_customer', 'give a coupon template or promotional balance, not both');
    if (nc.couponTemplateId) assertRewardAvailable(deps, 'coupon', 'rewards.new_customer.coupon_template_id');
    if (input.rewards.referrer.points) assertRewardAvailable(deps, 'points', 'rewards.referrer.points');
    if (input.perReferrerDailyCap > input.perReferrerTotalCap) throw field('per_referrer_daily_cap', 'must not exceed the total cap');
    const values = { ...input, campaignId: input.campaignId ?? null, updatedBy: actor.id, updatedAt: p.clock.now() };
    await p.db.transaction(async (tx) => {
      await tx.insert(referralCdkPrograms).values({ id: PROGRAM_ID, ...values }).onConflictDoUpdate({ target: referralCdkPrograms.id, set: values });
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'marketing.referral_program_updated', targetType: 'referral_program', targetId: PROGRAM_ID, ip: actor.ip, details: { ...input } }, tx);
    });
    return programView(await program());
  }

  /** A customer redeems a referral code: lockout, risk gate, self-referral check, then binding and rewards in one transaction. */
  async function redeem(a: { code: string; customer: { id: string; createdAt?: Date }; apiKeyOwner: string; idempotencyKey: string; ip: string; deviceId?: string; deviceSignals?: Record<string, string | number | boolean>; captcha?: string }) {
    const who = { customerId: a.customer.id, deviceId: a.deviceId, ip: a.ip };
    await lockout.assertOpen(who);
    const account = { type: 'customer' as const, id: a.customer.id, ...(a.customer.createdAt ? { createdAt: a.customer.createdAt } : {}) };
    if (deps.risk) {
      const d = await deps.risk.assess({ action: 'cdk_redeem', ip: a.ip, deviceId: a.deviceId, deviceSignals: a.deviceSignals, captcha: a.captcha, account });
      if (refuseUnlessPassed(d) === 'review') throw new AppError('RISK_BLOCKED', `this request was refused by our risk controls; contact support with reference ${d.decision_id}`, { reference: d.decision_id });
    }
    const code = a.code.replace(/[\s-]/g, '').toUpperCase();
    const [rfc] = await p.db.select().from(referralCdks).where(eq(referralCdks.code, code));
    if (!rfc || rfc.status !== 'active') {
      await lockout.fail(who);
      await deps.risk?.recordFailure({ action: 'cdk_redeem', ip: a.ip, deviceId: a.deviceId, account });
      throw new AppError('NOT_FOUND', 'code: no active referral code', [{ field: 'code', message: 'unknown referral code' }]);
    }
    const referrer: Referrer = { type: rfc.ownerType as Referrer['type'], id: rfc.ownerId };
    const id = newId('rfr', p.clock.now());
    try {
      const out = await p.db.transaction(async (tx) => {
        const prior = await idempotency.claim(tx, `${a.apiKeyOwner}:referral_redeem`, a.idempotencyKey, { code, customer_id: a.customer.id }, { statusCode: 201, body: { redemption_id: id } });
        if (prior) return { id: (prior.body as { redemption_id: string }).redemption_id, replay: true };
        // The referrer's row is locked: its caps are counted one redemption at a time.
        await tx.select({ id: referralCdks.id }).from(referralCdks).where(eq(referralCdks.id, rfc.id)).for('update');
        const signals = selfReferral(await referrerSignals(tx, referrer, new Date(p.clock.now().getTime() - DEVICE_LOOKBACK_MS)), { id: a.customer.id, phoneHash: await deps.customers.phoneHashOf(a.customer.id, tx), deviceId: a.deviceId });
        if (signals.length) throw new AppError('UNPROCESSABLE', 'code: a referrer cannot refer itself', [{ field: 'code', message: 'self-referral', signals }]);
        const [done] = await tx.select({ id: referralCdkRedemptions.id }).from(referralCdkRedemptions).where(eq(referralCdkRedemptions.customerId, a.customer.id));
        if (done) throw alreadyRedeemed();
        const priorOrders = await queryRows<{ n: number }>(tx, deps.priorOrdersStatement({ type: 'customer', id: a.customer.id }).text, deps.priorOrdersStatement({ type: 'customer', id: a.customer.id }).values);
        const wasBound = (await deps.agents.boundAgentOf(a.customer.id, tx)) !== null;
        const isNew = Number(priorOrders[0]?.n ?? 0) === 0 && !wasBound;
        // The customer joins the agent's tree (by the binding rules); a customer referrer passes on its own agent, if any.
        const agentId = referrer.type === 'agent' ? referrer.id : await deps.agents.boundAgentOf(referrer.id, tx);
        const bound = agentId ? await deps.agents.bindCustomer(a.customer.id, (await deps.agents.get(agentId, tx)).referral_code, 'referral_cdk', tx) : null;
        const prog = await program(tx);
        const status = !isNew ? 'not_new' : !prog.enabled || !hasRewards(prog.rewards) ? 'no_rewards' : (await overCap(tx, referrer, prog)) ? 'capped' : 'rewarded';
        const ref = { refType: 'referral', refId: id, campaignId: prog.campaignId };
        let newCustomerReward: Record<string, unknown> | null = null;
        let referrerReward: Record<string, unknown> | null = null;
        if (status === 'rewarded') {
          const nc = prog.rewards.newCustomer;
          if (nc.couponTemplateId) newCustomerReward = { coupon_id: (await deps.coupons!.grant(tx, { templateId: nc.couponTemplateId, customerId: a.customer.id, source: 'referral', sourceRef: id })).couponId };
          else if (nc.promoFen) newCustomerReward = { promo_fen: nc.promoFen, ledger_tx: await creditPromo(deps, tx, { type: 'customer', id: a.customer.id }, nc.promoFen, ref) };
          const rr = prog.rewards.referrer;
          if (referrer.type === 'customer' && rr.points && deps.points) {
            await deps.points.award(tx, { customerId: referrer.id, points: rr.points, reason: 'referral', refType: 'referral', refId: id });
            referrerReward = { points: rr.points };
          } else if (rr.promoFen) referrerReward = { promo_fen: rr.promoFen, ledger_tx: await creditPromo(deps, tx, referrer, rr.promoFen, ref) };
          await tx.update(referralCdks).set({ rewardedCount: sql`${referralCdks.rewardedCount} + 1` }).where(eq(referralCdks.id, rfc.id));
        }
        await tx.insert(referralCdkRedemptions).values({ id, referralCdkId: rfc.id, referrerType: referrer.type, referrerId: referrer.id, customerId: a.customer.id, boundAgentId: bound?.agent_id ?? null, rewardStatus: status, newCustomerReward, referrerReward, createdAt: p.clock.now() });
        return { id, replay: false };
      });
      return { statusCode: out.replay ? (200 as const) : (201 as const), redemption: await getRedemption(out.id) };
    } catch (err) {
      if (pgErrorCode(err) === '23505') throw alreadyRedeemed();
      throw err;
    }
  }

  /** Rewarded redemptions of this referrer today (China time) and in all, against the program's caps. */
  async function overCap(tx: Tx, r: Referrer, prog: { perReferrerDailyCap: number; perReferrerTotalCap: number }): Promise<boolean> {
    const now = p.clock.now().getTime();
    const dayStart = new Date(Math.floor((now + CHINA_OFFSET_MS) / 86_400_000) * 86_400_000 - CHINA_OFFSET_MS);
    const [c] = await queryRows<{ today: number; total: number }>(
      tx,
      `select count(*) filter (where created_at >= $3::timestamptz)::int as today, count(*)::int as total
       from referral_cdk_redemptions where referrer_type = $1 and referrer_id = $2 and reward_status = 'rewarded'`,
      [r.type, r.id, dayStart.toISOString()],
    );
    return Number(c?.today ?? 0) >= prog.perReferrerDailyCap || Number(c?.total ?? 0) >= prog.perReferrerTotalCap;
  }

  async function getRedemption(id: string) {
    const [row] = await p.db.select().from(referralCdkRedemptions).where(eq(referralCdkRedemptions.id, id));
    if (!row) throw notFound('referral redemption', id);
    return redemptionView(row);
  }

  async function listRedemptions(q: { limit: number; cursor?: string; referralCdkId?: string; referrerId?: string }) {
    const rows = await p.db
      .select()
      .from(referralCdkRedemptions)
      .where(pageFilter(referralCdkRedemptions.id, q.cursor, q.referralCdkId ? eq(referralCdkRedemptions.referralCdkId, q.referralCdkId) : undefined, q.referrerId ? eq(referralCdkRedemptions.referrerId, q.referrerId) : undefined))
      .orderBy(desc(referralCdkRedemptions.id))
      .limit(q.limit + 1);
    return toPage(rows.map(redemptionView), q.limit);
  }

  function view(r: Row): ReferralView {
    return { id: r.id, code: r.code, owner_type: r.ownerType, owner_id: r.ownerId, status: r.status, link: linkOf(r.code), rewarded_count: r.rewardedCount, created_at: r.createdAt.toISOString() };
  }

  return { issue, withQr, poster, get, list, voidCode, program: async () => programView(await program()), setProgram, redeem, getRedemption, listRedemptions };
}

function newCode(): string {
  let s = '';
  for (let i = 0; i < CODE_LENGTH; i++) s += charsets.safe[randomInt(charsets.safe.length)];
  return s;
}

const hasRewards = (r: ReferralRewards) => Boolean(r.newCustomer.couponTemplateId || r.newCustomer.promoFen || r.referrer.promoFen || r.referrer.points);
const field = (f: string, message: string) => new AppError('UNPROCESSABLE', `${f}: ${message}`, [{ field: f, message }]);
const alreadyRedeemed = () => new AppError('CONFLICT', 'code: this customer has already redeemed a referral code', [{ field: 'code', message: 'already redeemed a referral code' }]);

export interface ReferralView {
  id: string;
  code: string;
  owner_type: string;
  owner_id: string;
  status: string;
  link: string;
  rewarded_count: number;
  created_at: string;
}

function programView(r: { rewards: ReferralRewards; perReferrerDailyCap: number; perReferrerTotalCap: number; campaignId: string | null; enabled: boolean; updatedBy: string | null; updatedAt: Date }) {
  return {
    rewards: { new_customer: { coupon_template_id: r.rewards.newCustomer.couponTemplateId ?? null, promo_fen: r.rewards.newCustomer.promoFen ?? null }, referrer: { promo_fen: r.rewards.referrer.promoFen ?? null, points: r.rewards.referrer.points ?? null } },
    per_referrer_daily_cap: r.perReferrerDailyCap,
    per_referrer_total_cap: r.perReferrerTotalCap,
    campaign_id: r.campaignId,
    enabled: r.enabled,
    updated_by: r.updatedBy,
    updated_at: r.updatedAt.getTime() === 0 ? null : r.updatedAt.toISOString(),
  };
}

function redemptionView(r: typeof referralCdkRedemptions.$inferSelect) {
  return {
    id: r.id,
    referral_cdk_id: r.referralCdkId,
    referrer_type: r.referrerType,
    referrer_id: r.referrerId,
    customer_id: r.customerId,
    bound_agent_id: r.boundAgentId,
    reward_status: r.rewardStatus,
    new_customer_reward: r.newCustomerReward,
    referrer_reward: r.referrerReward,
    created_at: r.createdAt.toISOString(),
  };
}

export type ReferralCdkService = ReturnType<typeof createReferralCdkService>;
