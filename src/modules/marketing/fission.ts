import { and, desc, eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { LedgerService } from '../ledger/service.js';
import type { CustomerService } from '../customers/service.js';
import type { OrderService } from '../orders/service.js';
import { accounts } from '../ledger/accounts.js';
import { createIdempotency } from '../orders/idempotency.js';
import type { PointsService } from './points.js';
import { fissionCampaigns, fissionPackets } from './points-schema.js';

export const rewardKinds = ['promo', 'points'] as const;
export type RewardKind = (typeof rewardKinds)[number];

export interface FissionCampaignView {
  id: string;
  name: string;
  campaign_id: string | null;
  reward_kind: string;
  reward_amount: number;
  friends_needed: number;
  hours: number;
  consolation_points: number;
  per_customer_limit: number;
  budget: number | null;
  committed: number;
  starts_at: string;
  ends_at: string | null;
  status: string;
  created_at: string;
}

export interface PacketView {
  id: string;
  fission_campaign_id: string;
  campaign_id: string | null;
  customer_id: string;
  reward_kind: string;
  reward_amount: number;
  friends_needed: number;
  opened_count: number;
  status: string;
  expires_at: string;
  unlocked_at: string | null;
  created_at: string;
}

type Actor = { id: string; ip?: string };
type CampaignRow = typeof fissionCampaigns.$inferSelect;
type PacketRow = typeof fissionPackets.$inferSelect;

const campaignView = (c: CampaignRow): FissionCampaignView => ({
  id: c.id,
  name: c.name,
  campaign_id: c.campaignId,
  reward_kind: c.rewardKind,
  reward_amount: c.rewardAmount,
  friends_needed: c.friendsNeeded,
  hours: c.hours,
  consolation_points: c.consolationPoints,
  per_customer_limit: c.perCustomerLimit,
  budget: c.budget,
  committed: c.committed,
  starts_at: c.startsAt.toISOString(),
  ends_at: c.endsAt?.toISOString() ?? null,
  status: c.status,
  created_at: c.createdAt.toISOString(),
});
export const packetView = (r: PacketRow): PacketView => ({
  id: r.id,
  fission_campaign_id: r.fissionCampaignId,
  campaign_id: r.campaignId,
  customer_id: r.customerId,
  reward_kind: r.rewardKind,
  reward_amount: r.rewardAmount,
  friends_needed: r.friendsNeeded,
  opened_count: r.openedCount,
  status: r.status,
  expires_at: r.expiresAt.toISOString(),
  unlocked_at: r.unlockedAt?.toISOString() ?? null,
  created_at: r.createdAt.toISOString(),
});

const refuse = (message: string, field = 'friend') => new AppError('UNPROCESSABLE', message, [{ field, message }]);

/**
 * 裂变红包: a customer starts a packet from a fission campaign (reserving its
 * reward from the campaign's budget), shares it, and once K new friends have
 * opened it within T hours the reward is credited once: promotional balance
 * (promotion_expense -> customer promo) or points. Opens run with the packet
 * row locked, so the count and the unlock are exact under racing opens; a
 * friend counts once per campaign (unique index). The channel asks the risk
 * gate (action register) about the friend before calling `open`.
 */
export function createFissionService(
  p: Platform,
  deps: { ledger: LedgerService; points: PointsService; audit: AuditService; customers: Pick<CustomerService, 'get' | 'phoneHashOf'>; orders: Pick<OrderService, 'priorOrdersStatement'> },
) {
  const idempotency = createIdempotency(p);

  async function createCampaign(
    input: { name: string; campaignId?: string | null; rewardKind: RewardKind; rewardAmount: number; friendsNeeded: number; hours: number; consolationPoints?: number; perCustomerLimit?: number; budget?: number | null; startsAt?: Date; endsAt?: Date | null },
    actor: Actor,
  ): Promise<FissionCampaignView> {
    const now = p.clock.now();
    const startsAt = input.startsAt ?? now;
    if (input.endsAt && input.endsAt <= startsAt) throw new AppError('VALIDATION_FAILED', 'ends_at: must be after starts_at', [{ field: 'ends_at', message: 'must be after starts_at' }]);
    if (input.budget != null && input.budget < input.rewardAmount) throw new AppError('VALIDATION_FAILED', 'budget: smaller than one reward', [{ field: 'budget', message: 'must cover at least one reward' }]);
    const id = newId('fsc', now);
    await p.db.transaction(async (tx) => {
      await tx.insert(fissionCampaigns).values({
        id,
        name: input.name,
        campaignId: input.campaignId ?? null,
        rewardKind: input.rewardKind,
        rewardAmount: input.rewardAmount,
        friendsNeeded: input.friendsNeeded,
        hours: input.hours,
        consolationPoints: input.consolationPoints ?? 0,
        perCustomerLimit: input.perCustomerLimit ?? 1,
        budget: input.budget ?? null,
        startsAt,
        endsAt: input.endsAt ?? null,
        status: 'active',
        createdBy: actor.id,
        createdAt: now,
      });
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'fission.campaign_create', targetType: 'fission_campaign', targetId: id, ip: actor.ip, details: { reward_kind: input.rewardKind, reward_amount: input.rewardAmount, friends_needed: input.friendsNeeded, hours: input.hours, budget: input.budget ?? null } }, tx);
    });
    return getCampaign(id);
  }

  async function getCampaign(id: string): Promise<FissionCampaignView> {
    const [c] = await p.db.select().from(fissionCampaigns).where(eq(fissionCampaigns.id, id));
    if (!c) throw notFound('fission campaign', id);
    return campaignView(c);
  }

  async function listCampaigns(q: { limit: number; cursor?: string }): Promise<PageResult<FissionCampaignView>> {
    const rows = await p.db.select().from(fissionCampaigns).where(pageFilter(fissionCampaigns.id, q.cursor)).orderBy(desc(fissionCampaigns.id)).limit(q.limit + 1);
    return toPage(rows.map(campaignView), q.limit);
  }

  async function endCampaign(id: string, actor: Actor): Promise<FissionCampaignView> {
    await p.db.transaction(async (tx) => {
      const rows = await tx.update(fissionCampaigns).set({ status: 'ended' }).where(eq(fissionCampaigns.id, id)).returning({ id: fissionCampaigns.id });
      if (rows.length === 0) throw notFound('fission campaign', id);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'fission.campaign_end', targetType: 'fission_campaign', targetId: id, ip: actor.ip }, tx);
    });
    return getCampaign(id);
  }

  /** A customer starts a packet (Idempotency-Key): within the campaign's window, its per-customer limit and its budget. */
  async function start(input: { fissionCampaignId: string; customerId: string; deviceId?: string; key: string; scope: string }): Promise<{ status: 200 | 201; packet: PacketView }> {
    const now = p.clock.now();
    const id = newId('fpk', now);
    const result = await p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, `${input.scope}:fission-start`, input.key, { customer_id: input.customerId, fission_campaign_id: input.fissionCampaignId }, { statusCode: 201, body: { packet_id: id } });
      if (prior) return { status: 200 as const, id: (prior.body as { packet_id: string }).packet_id };
      const [c] = await tx.select().from(fissionCampaigns).where(eq(fissionCampaigns.id, input.fissionCampaignId));
      if (!c) throw notFound('fission campaign', input.fissionCampaignId);
      if (c.status !== 'active' || c.startsAt > now || (c.endsAt && c.endsAt <= now)) throw refuse('this campaign is not running', 'fission_campaign_id');
      // One customer's starts in this campaign queue, so the per-customer limit holds under retries with new keys.
      await queryRows(tx, 'select pg_advisory_xact_lock(hashtext($1))', [`fission:${c.id}:${input.customerId}`]);
      const [n] = await queryRows<{ n: number }>(tx, 'select count(*)::int as n from fission_packets where fission_campaign_id = $1 and customer_id = $2', [c.id, input.customerId]);
      if (Number(n?.n ?? 0) >= c.perCustomerLimit) throw new AppError('CONFLICT', `at most ${c.perCustomerLimit} packet(s) per customer in this campaign`, [{ field: 'fission_campaign_id', message: 'per-customer limit reached' }]);
      // The reward is reserved now: an unlocked packet is always paid; expiry gives the reservation back.
      const reserved = await queryRows(tx, `update fission_campaigns set committed = committed + reward_amount where id = $1 and (budget is null or committed + reward_amount <= budget) returning id`, [c.id]);
      if (reserved.length === 0) throw new AppError('CONFLICT', 'this campaign\'s budget is used up', [{ field: 'fission_campaign_id', message: 'budget exhausted' }]);
      await tx.insert(fissionPackets).values({
        id,
        fissionCampaignId: c.id,
        campaignId: c.campaignId,
        customerId: input.customerId,
        sharerDeviceId: input.deviceId ?? null,
        sharerPhoneHash: await deps.customers.phoneHashOf(input.customerId, tx),
        rewardKind: c.rewardKind,
        rewardAmount: c.rewardAmount,
        friendsNeeded: c.friendsNeeded,
        status: 'open',
        expiresAt: new Date(now.getTime() + c.hours * 3_600_000),
        createdAt: now,
      });
      return { status: 201 as const, id };
    });
    return { status: result.status, packet: await getPacket(result.id) };
  }

  async function getPacket(id: string): Promise<PacketView> {
    const [r] = await p.db.select().from(fissionPackets).where(eq(fissionPackets.id, id));
    if (!r) throw notFound('red packet', id);
    return packetView(r);
  }

  async function listPackets(q: { limit: number; cursor?: string; fissionCampaignId?: string; customerId?: string; status?: string }): Promise<PageResult<PacketView>> {
    const filters = [q.fissionCampaignId ? eq(fissionPackets.fissionCampaignId, q.fissionCampaignId) : undefined, q.customerId ? eq(fissionPackets.customerId, q.customerId) : undefined, q.status ? eq(fissionPackets.status, q.status) : undefined];
    const rows = await p.db.select().from(fissionPackets).where(pageFilter(fissionPackets.id, q.cursor, and(...filters))).orderBy(desc(fissionPackets.id)).limit(q.limit + 1);
    return toPage(rows.map(packetView), q.limit);
  }

  async function credit(tx: Tx, packet: PacketRow) {
    if (packet.rewardKind === 'points') {
      await deps.points.award(tx, { customerId: packet.customerId, points: packet.rewardAmount, reason: 'fission_reward', refType: 'fission', refId: packet.id });
      return;
    }
    await deps.ledger.post(tx, {
      kind: 'fission_reward',
      refType: 'fission',
      refId: packet.id,
      campaignId: packet.campaignId,
      postings: [
        { account: accounts.promotionExpense, amountFen: -packet.rewardAmount },
        { account: accounts.customerPromo(packet.customerId), amountFen: packet.rewardAmount },
      ],
    });
  }

  /**
   * A friend opens a packet. Counted only for a NEW friend: created after the
   * packet, no earlier orders, not the sharer, another device and phone than
   * the sharer's, and not yet counted in this campaign. The K-th counted open
   * unlocks the packet and credits the reward, in the same transaction.
   * The same friend opening the same packet again is answered, not counted.
   */
  async function open(packetId: string, friend: { customerId: string; deviceId?: string; ip?: string }): Promise<{ packet: PacketView; counted: boolean; unlocked: boolean }> {
    const f = await deps.customers.get(friend.customerId);
    const friendCreatedAt = new Date(f.created_at);
    return p.db.transaction(async (tx) => {
      const [pk] = await tx.select().from(fissionPackets).where(eq(fissionPackets.id, packetId)).for('update');
      if (!pk) throw notFound('red packet', packetId);
      const [again] = await queryRows(tx, 'select 1 from fission_opens where packet_id = $1 and friend_customer_id = $2', [pk.id, friend.customerId]);
      if (again) return { packet: packetView(pk), counted: false, unlocked: false };
      const now = p.clock.now();
      if (pk.status === 'unlocked') throw new AppError('CONFLICT', 'this red packet is already complete', [{ field: 'packet', message: 'already unlocked' }]);
      if (pk.status !== 'open' || pk.expiresAt <= now) throw new AppError('CONFLICT', 'this red packet has expired', [{ field: 'packet', message: 'expired' }]);
      if (friend.customerId === pk.customerId) throw refuse('the sharer cannot open their own red packet');
      if (friendCreatedAt < pk.createdAt) throw refuse('only new customers (joined after the packet was shared) count');
      const prior = deps.orders.priorOrdersStatement({ type: 'customer', id: friend.customerId });
      const [orders] = await queryRows<{ n: number }>(tx, prior.text, prior.values);
      if (Number(orders?.n ?? 0) > 0) throw refuse('only customers without earlier orders count');
      if (friend.deviceId && pk.sharerDeviceId && friend.deviceId === pk.sharerDeviceId) throw refuse('a friend on the sharer\'s own device does not count');
      const phone = await deps.customers.phoneHashOf(friend.customerId, tx);
      // The sharer may have given a phone number after starting the packet: compare with it too.
      const sharerPhone = pk.sharerPhoneHash ?? (phone ? await deps.customers.phoneHashOf(pk.customerId, tx) : null);
      if (phone && sharerPhone && phone === sharerPhone) throw refuse('a friend with the sharer\'s phone number does not count');
      const openId = newId('fop', now);
      const inserted = await queryRows(
        tx,
        `insert into fission_opens (id, packet_id, fission_campaign_id, friend_customer_id, device_id, ip, created_at) values ($1, $2, $3, $4, $5, $6, $7::timestamptz)
         on conflict (fission_campaign_id, friend_customer_id) do nothing returning id`,
        [openId, pk.id, pk.fissionCampaignId, friend.customerId, friend.deviceId ?? null, friend.ip ?? null, now.toISOString()],
      );
      if (inserted.length === 0) throw new AppError('CONFLICT', 'this friend already counted for another red packet of this campaign', [{ field: 'friend', message: 'already counted in this campaign' }]);
      const count = pk.openedCount + 1;
      const unlocked = count >= pk.friendsNeeded;
      const [row] = await tx.update(fissionPackets).set({ openedCount: count, ...(unlocked ? { status: 'unlocked', unlockedAt: now } : {}) }).where(eq(fissionPackets.id, pk.id)).returning();
      if (unlocked) await credit(tx, row!);
      const [c] = await tx.select({ consolation: fissionCampaigns.consolationPoints }).from(fissionCampaigns).where(eq(fissionCampaigns.id, pk.fissionCampaignId));
      if (c && c.consolation > 0) await deps.points.award(tx, { customerId: friend.customerId, points: c.consolation, reason: 'fission_consolation', refType: 'fission_open', refId: openId });
      return { packet: packetView(row!), counted: true, unlocked };
    });
  }

  /** The expiry job: unfinished packets past their time are expired and their reserved reward goes back to the budget. */
  async function expireDue(limit = 500): Promise<number> {
    const due = await queryRows<{ id: string }>(p.db, `select id from fission_packets where status = 'open' and expires_at <= $1::timestamptz order by expires_at limit $2`, [p.clock.now().toISOString(), limit]);
    let n = 0;
    for (const { id } of due) {
      n += await p.db.transaction(async (tx) => {
        const moved = await queryRows<{ fission_campaign_id: string; reward_amount: number }>(tx, `update fission_packets set status = 'expired' where id = $1 and status = 'open' and expires_at <= $2::timestamptz returning fission_campaign_id, reward_amount`, [id, p.clock.now().toISOString()]);
        if (!moved[0]) return 0;
        await queryRows(tx, 'update fission_campaigns set committed = greatest(0, committed - $2) where id = $1', [moved[0].fission_campaign_id, moved[0].reward_amount]);
        return 1;
      });
    }
    return n;
  }

  return { createCampaign, getCampaign, listCampaigns, endCampaign, start, getPacket, listPackets, open, expireDue };
}

export type FissionService = ReturnType<typeof createFissionService>;
