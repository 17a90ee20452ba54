import { eq } from 'drizzle-orm';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Platform } from '../../platform.js';
import type { Tx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { createIdempotency } from '../orders/idempotency.js';
import { pgErrorCode } from '../agents/bindings.js';
import type { AssessInput, RiskDecision } from '../risk/service.js';
import { refuseUnlessPassed } from '../risk/gate-http.js';
import { cdkHmac } from './cdk-codes.js';
import { grantCdkReward, type DeliveredCode, type GrantedReward, type RewardDeps } from './cdk-rewards.js';
import { cdkRedemptions, type CdkReward } from './cdk-schema.js';

/** The risk module as redemption sees it. */
export interface CdkRiskGate {
  assess(input: AssessInput): Promise<Pick<RiskDecision, 'decision_id' | 'action' | 'captcha'>>;
  recordFailure(dims: { action: 'cdk_redeem'; ip?: string; deviceId?: string; account?: AssessInput['account'] }): Promise<void>;
}

export interface LockoutSettings {
  /** failed attempts per customer and per device in 10 minutes before the endpoint refuses (429) without looking */
  failuresPer10Minutes: number;
  /** per IP (many customers may share a carrier NAT) */
  ipFailuresPer10Minutes: number;
}

export interface RedeemAttempt {
  code: string;
  customer: { id: string; createdAt?: Date };
  apiKeyOwner: string;
  idempotencyKey: string;
  ip: string;
  deviceId?: string;
  deviceSignals?: Record<string, string | number | boolean>;
  captcha?: string;
}

export interface RedeemResult {
  statusCode: 200 | 201;
  redemption: RedemptionView;
  reward: Omit<GrantedReward, 'codes'> | null;
  codes: DeliveredCode[];
}

/** A failed attempt: unknown, used up, expired or void. Counted against the customer, device and IP. */
class RedeemFailure extends AppError {}

/**
 * The hard lockout: failures per customer, device and IP in a 10-minute
 * window (rate-limiter-flexible on the key-value store, like the reveal
 * links); once over, the endpoint answers 429 before any code lookup, so a
 * guesser learns nothing more. The risk gate's failure counters (1 h) feed
 * its own rules on top of this.
 */
export function createRedeemLockout(p: Platform, prefix: string, s: LockoutSettings) {
  const byAccount = p.kv.rateLimiter({ keyPrefix: `${prefix}:acc`, points: s.failuresPer10Minutes, durationSeconds: 600, blockSeconds: 600 });
  const byDevice = p.kv.rateLimiter({ keyPrefix: `${prefix}:dev`, points: s.failuresPer10Minutes, durationSeconds: 600, blockSeconds: 600 });
  const byIp = p.kv.rateLimiter({ keyPrefix: `${prefix}:ip`, points: s.ipFailuresPer10Minutes, durationSeconds: 600, blockSeconds: 600 });
  const dims = (a: { customerId: string; deviceId?: string; ip: string }) =>
    [
      [byAccount, a.customerId],
      [byDevice, a.deviceId],
      [byIp, a.ip],
    ] as const;

  async function assertOpen(a: { customerId: string; deviceId?: string; ip: string }): Promise<void> {
    for (const [limiter, key] of dims(a)) {
      if (!key) continue;
      const res = await limiter.get(key);
      if (res && res.remainingPoints <= 0 && res.msBeforeNext > 0) {
        const retry = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
        throw new AppError('RATE_LIMITED', 'too many failed redemption attempts; try again later', { retry_after_seconds: retry }, { 'retry-after': String(retry) });
      }
    }
  }

  async function fail(a: { customerId: string; deviceId?: string; ip: string }): Promise<void> {
    for (const [limiter, key] of dims(a)) {
      // Over the limit consume() rejects with the limiter's state: the failure is counted all the same.
      if (key) await limiter.consume(key).catch((e: unknown) => (e instanceof RateLimiterRes ? undefined : Promise.reject(e)));
    }
  }

  return { assertOpen, fail };
}

export function createCdkRedemption(p: Platform, deps: RewardDeps & { risk?: CdkRiskGate }, settings: Partial<LockoutSettings>) {
  const idempotency = createIdempotency(p);
  const lockout = createRedeemLockout(p, 'cdk:fail', { failuresPer10Minutes: settings.failuresPer10Minutes ?? 10, ipFailuresPer10Minutes: settings.ipFailuresPer10Minutes ?? 30 });

  async function getRedemption(id: string): Promise<RedemptionView> {
    const [row] = await p.db.select().from(cdkRedemptions).where(eq(cdkRedemptions.id, id));
    if (!row) throw notFound('CDK redemption', id);
    return redemptionView(row);
  }

  /**
   * One redemption: lockout, risk gate, then one transaction that claims the
   * Idempotency-Key, takes one use of the code by a conditional UPDATE (so a
   * single-use code is redeemed once and a multi-use code never beyond its
   * maximum, whatever the concurrency), records the redemption (each customer
   * once per code: unique index) and grants the reward.
   */
  async function redeem(a: RedeemAttempt): Promise<RedeemResult> {
    const who = { customerId: a.customer.id, deviceId: a.deviceId, ip: a.ip };
    await lockout.assertOpen(who);
    const account = { type: 'customer' as const, id: a.customer.id, ...(a.customer.createdAt ? { createdAt: a.customer.createdAt } : {}) };
    if (deps.risk) {
      const d = await deps.risk.assess({ action: 'cdk_redeem', ip: a.ip, deviceId: a.deviceId, deviceSignals: a.deviceSignals, captcha: a.captcha, account });
      // A redemption cannot wait for a reviewer: a review verdict refuses like a block.
      if (refuseUnlessPassed(d) === 'review') throw new AppError('RISK_BLOCKED', `this request was refused by our risk controls; contact support with reference ${d.decision_id}`, { reference: d.decision_id });
    }
    const hmac = cdkHmac(p.hmacKey, a.code);
    const id = newId('cdr', p.clock.now());
    try {
      const out = await p.db.transaction(async (tx) => {
        const prior = await idempotency.claim(tx, `${a.apiKeyOwner}:cdk_redeem`, a.idempotencyKey, { code_hmac: hmac, customer_id: a.customer.id }, { statusCode: 201, body: { redemption_id: id } });
        if (prior) return { prior: (prior.body as { redemption_id: string }).redemption_id, reward: undefined };
        const now = p.clock.now().toISOString();
        const [taken] = await queryRows<{ id: string; batch_id: string; reward: CdkReward; campaign_id: string | null }>(
          tx,
          `update cdks c set redeemed_count = c.redeemed_count + 1
           from cdk_batches b
           where c.code_hmac = $1 and b.id = c.batch_id and c.status = 'active' and b.status = 'active'
             and c.redeemed_count < c.max_redemptions
             and (b.starts_at is null or b.starts_at <= $2::timestamptz) and (b.expires_at is null or b.expires_at > $2::timestamptz)
             and not exists (select 1 from cdk_redemptions r where r.cdk_id = c.id and r.customer_id = $3)
           returning c.id, c.batch_id, b.reward, b.campaign_id`,
          [hmac, now, a.customer.id],
        );
        if (!taken) throw await whyNot(tx, hmac, a.customer.id, now);
        await tx.insert(cdkRedemptions).values({ id, cdkId: taken.id, batchId: taken.batch_id, customerId: a.customer.id, rewardKind: taken.reward.kind, apiKeyOwner: a.apiKeyOwner, ip: a.ip, deviceId: a.deviceId ?? null, createdAt: p.clock.now() });
        const reward = await grantCdkReward(deps, tx, taken.reward, { customerId: a.customer.id, redemptionId: id, batchId: taken.batch_id, campaignId: taken.campaign_id, apiKeyOwner: a.apiKeyOwner });
        await tx.update(cdkRedemptions).set({ rewardRef: reward.ref }).where(eq(cdkRedemptions.id, id));
        return { prior: undefined, reward };
      });
      if (!out.reward) {
        // A replay answers the redemption; a product reward's codes are read again for the key that redeemed.
        const redemption = await getRedemption(out.prior!);
        const codes = redemption.reward_kind === 'product' && redemption.reward_ref && deps.revealCodes ? await deps.revealCodes(redemption.reward_ref, { apiKeyOwner: a.apiKeyOwner }) : [];
        return { statusCode: 200, redemption, reward: null, codes };
      }
      const { codes, ...reward } = out.reward;
      return { statusCode: 201, redemption: await getRedemption(id), reward, codes: codes ?? [] };
    } catch (err) {
      // The same customer racing itself on a multi-use code: the unique index decides; not a guess.
      if (pgErrorCode(err) === '23505') throw new AppError('CONFLICT', 'code: you have already redeemed this code', [{ field: 'code', message: 'already redeemed by this customer' }]);
      if (err instanceof RedeemFailure) {
        await lockout.fail(who);
        await deps.risk?.recordFailure({ action: 'cdk_redeem', ip: a.ip, deviceId: a.deviceId, account });
      }
      throw err;
    }
  }

  /** Why the conditional UPDATE took nothing, read in the same transaction. */
  async function whyNot(tx: Tx, hmac: string, customerId: string, now: string): Promise<AppError> {
    const [c] = await queryRows<{ status: string; batch_status: string; redeemed_count: number; max_redemptions: number; not_started: boolean; expired: boolean; mine: boolean }>(
      tx,
      `select c.status, b.status as batch_status, c.redeemed_count, c.max_redemptions,
              (b.starts_at is not null and b.starts_at > $2::timestamptz) as not_started, (b.expires_at is not null and b.expires_at <= $2::timestamptz) as expired,
              exists (select 1 from cdk_redemptions r where r.cdk_id = c.id and r.customer_id = $3) as mine
       from cdks c join cdk_batches b on b.id = c.batch_id where c.code_hmac = $1`,
      [hmac, now, customerId],
    );
    const fail = (code: 'NOT_FOUND' | 'CONFLICT' | 'UNPROCESSABLE', reason: string, message: string) => new RedeemFailure(code, `code: ${message}`, [{ field: 'code', message, reason }]);
    if (!c) return fail('NOT_FOUND', 'unknown', 'no such redemption code');
    if (c.mine) return new AppError('CONFLICT', 'code: you have already redeemed this code', [{ field: 'code', message: 'already redeemed by this customer' }]);
    if (c.status !== 'active' || c.batch_status !== 'active') return fail('UNPROCESSABLE', 'voided', 'this code has been voided');
    if (c.expired) return fail('UNPROCESSABLE', 'expired', 'this code has expired');
    if (c.not_started) return fail('UNPROCESSABLE', 'not_started', 'this code cannot be redeemed yet');
    return fail('CONFLICT', 'used', 'this code has been used up');
  }

  return { redeem, getRedemption };
}

export interface RedemptionView {
  id: string;
  cdk_id: string;
  batch_id: string;
  customer_id: string;
  reward_kind: string;
  reward_ref: string | null;
  created_at: string;
}

export function redemptionView(r: typeof cdkRedemptions.$inferSelect): RedemptionView {
  return { id: r.id, cdk_id: r.cdkId, batch_id: r.batchId, customer_id: r.customerId, reward_kind: r.rewardKind, reward_ref: r.rewardRef, created_at: r.createdAt.toISOString() };
}

