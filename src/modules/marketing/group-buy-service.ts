import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService, SaleInfo } from '../catalog/service.js';
import type { CustomerService } from '../customers/service.js';
import type { OrderRow, OrderService } from '../orders/service.js';
import type { PaymentService } from '../payments/service.js';
import { createIdempotency } from '../orders/idempotency.js';
import { groupBuyCampaigns, groupBuyGroups, groupBuyMembers } from './group-buy-schema.js';
import { campaignTermsIssues, canJoin, canOpen, groupDeadline, isComplete, maskName, seatRefusal, type Refusal } from './group-buy-rules.js';
import { campaignView, groupView } from './group-buy-views.js';
import { createGroupBuyExpiry } from './group-buy-expiry.js';

export interface GroupBuyDeps {
  audit: Pick<AuditService, 'record'>;
  catalog: Pick<CatalogService, 'getSku' | 'saleInfo'>;
  customers: Pick<CustomerService, 'get'>;
  orders: Pick<OrderService, 'createOrder' | 'releaseGroupOrder' | 'refundInTx' | 'get'>;
  payments: Pick<PaymentService, 'refundOrder'>;
  /** The campaigns service (coupons slice): a campaign_id must name one. */
  campaigns?: { get: (id: string, db?: DbOrTx) => Promise<unknown> };
}

export interface CampaignInput {
  name: string;
  skuId: string;
  groupPriceFen: number;
  groupSize: number;
  durationMinutes: number;
  /** default: now */
  startsAt?: Date;
  endsAt: Date;
  maxGroups: number | null;
  perCustomerLimit: number;
  campaignId: string | null;
}

/** Who takes a seat and how they pay; the route resolved the customer from the signed key and the body. */
export interface SeatRequest {
  customerId: string;
  /** a group-leader agent acting for the customer: the orders' selling agent */
  agentId?: string;
  payment: 'balance' | 'external';
  provider?: string;
  /** the partner or agent key that asked (none for a customer's own mini-program session) */
  apiKeyOwner?: string;
  channel: string;
  idempotency: { scope: string; key: string; request: unknown };
  /** the risk gate for the order (throws to refuse) */
  gate?: Parameters<OrderService['createOrder']>[0]['gate'];
}

const SYSTEM = { id: 'group-buy', type: 'system' as const };
/** Seats that count against a customer's limit and block a second seat in the same group. */
const LIVE_SEATS = ['pending_payment', 'paid', 'released'];

const fail = (r: Refusal) => new AppError(r.code, r.message, [{ field: r.field, message: r.message }]);

/**
 * Group buying (拼团): a leader opens a group of N for T minutes by paying the
 * first seat; members join by paying. Seats are taken by a conditional UPDATE
 * of the group's seat count (never more than N); each seat's order waits in
 * awaiting_group, and the order that makes N paid members releases every
 * member's order in its own transaction. A group past its deadline fails and
 * its paid members are refunded (group-buy-expiry.ts).
 */
export function createGroupBuyService(p: Platform, deps: GroupBuyDeps) {
  const idempotency = createIdempotency(p);

  async function createCampaign(given: CampaignInput, actor: { id: string; ip?: string }, idem: { key: string; request: unknown }) {
    const input = { ...given, startsAt: given.startsAt ?? p.clock.now() };
    const sku = await deps.catalog.saleInfo(input.skuId).catch((e: unknown) => {
      if (e instanceof AppError && e.code === 'NOT_FOUND') throw new AppError('VALIDATION_FAILED', `sku_id: no SKU ${input.skuId}`, [{ field: 'sku_id', message: 'not found' }]);
      throw e;
    });
    const issues = campaignTermsIssues(input, sku.retailPriceFen);
    if (sku.kind === 'topup') issues.push({ field: 'sku_id', message: 'direct top-up SKUs cannot be sold in groups' });
    if (issues.length) throw new AppError('VALIDATION_FAILED', issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues);
    if (input.campaignId && deps.campaigns) {
      await deps.campaigns.get(input.campaignId).catch((e: unknown) => {
        if (e instanceof AppError && e.code === 'NOT_FOUND') throw new AppError('VALIDATION_FAILED', `campaign_id: no campaign ${input.campaignId}`, [{ field: 'campaign_id', message: 'not found' }]);
        throw e;
      });
    }
    const now = p.clock.now();
    const id = newId('gbc', now);
    return p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, `staff:${actor.id}:group-buys`, idem.key, idem.request, { statusCode: 201, body: { id } });
      if (prior) return { status: 200, campaign: await getCampaign((prior.body as { id: string }).id, tx) };
      const [row] = await tx
        .insert(groupBuyCampaigns)
        .values({ id, name: input.name, skuId: input.skuId, groupPriceFen: input.groupPriceFen, groupSize: input.groupSize, durationMinutes: input.durationMinutes, startsAt: input.startsAt, endsAt: input.endsAt, maxGroups: input.maxGroups, perCustomerLimit: input.perCustomerLimit, campaignId: input.campaignId, createdBy: actor.id, createdAt: now })
        .returning();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'group_buy.create', targetType: 'group_buy_campaign', targetId: id, ip: actor.ip, details: { sku_id: input.skuId, group_price_fen: input.groupPriceFen, group_size: input.groupSize } }, tx);
      return { status: 201, campaign: campaignView(row!) };
    });
  }

  async function getCampaign(id: string, db: DbOrTx = p.db) {
    const [c] = await db.select().from(groupBuyCampaigns).where(eq(groupBuyCampaigns.id, id));
    if (!c) throw notFound('group-buy campaign', id);
    return campaignView(c);
  }

  async function listCampaigns(q: { limit: number; cursor?: string; status?: string; skuId?: string }) {
    const rows = await p.db.select().from(groupBuyCampaigns).where(pageFilter(groupBuyCampaigns.id, q.cursor, q.status ? eq(groupBuyCampaigns.status, q.status) : undefined, q.skuId ? eq(groupBuyCampaigns.skuId, q.skuId) : undefined)).orderBy(desc(groupBuyCampaigns.id)).limit(q.limit + 1);
    return toPage(rows.map(campaignView), q.limit);
  }

  async function listGroups(campaignId: string, q: { limit: number; cursor?: string; status?: string }) {
    const rows = await p.db.select().from(groupBuyGroups).where(pageFilter(groupBuyGroups.id, q.cursor, eq(groupBuyGroups.campaignId, campaignId), q.status ? eq(groupBuyGroups.status, q.status) : undefined)).orderBy(desc(groupBuyGroups.id)).limit(q.limit + 1);
    return toPage(rows.map(groupView), q.limit);
  }

  /** Ending stops new groups at once; groups already open run to their deadline (they complete or are refunded). */
  async function endCampaign(id: string, actor: { id: string; ip?: string }) {
    return p.db.transaction(async (tx) => {
      const [row] = await tx.update(groupBuyCampaigns).set({ status: 'ended', endedAt: p.clock.now() }).where(and(eq(groupBuyCampaigns.id, id), eq(groupBuyCampaigns.status, 'active'))).returning();
      if (!row) return getCampaign(id, tx); // unknown (404) or already ended (unchanged): ending is idempotent
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'group_buy.end', targetType: 'group_buy_campaign', targetId: id, ip: actor.ip }, tx);
      return campaignView(row);
    });
  }

  /** One customer's seats in a campaign are counted and taken one at a time, so the per-customer limit holds under races. */
  async function customerSeats(tx: Tx, campaignId: string, customerId: string, groupId?: string) {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`group-buy:${campaignId}:${customerId}`}))`);
    const rows = await tx.select({ groupId: groupBuyMembers.groupId }).from(groupBuyMembers).where(and(eq(groupBuyMembers.campaignId, campaignId), eq(groupBuyMembers.customerId, customerId), inArray(groupBuyMembers.status, LIVE_SEATS)));
    return { seatsInCampaign: rows.length, alreadyMember: groupId !== undefined && rows.some((r) => r.groupId === groupId) };
  }

  /** The member row and the seat's order (paid at once from a balance, or pending a provider payment). */
  async function takeSeat(tx: Tx, c: typeof groupBuyCampaigns.$inferSelect, groupId: string, orderId: string, req: SeatRequest, isLeader: boolean, saleInfo: SaleInfo) {
    const now = p.clock.now();
    await tx.insert(groupBuyMembers).values({ groupId, orderId, campaignId: c.id, customerId: req.customerId, isLeader, paidByBalance: req.payment === 'balance', status: 'pending_payment', joinedAt: now, updatedAt: now });
    await deps.orders.createOrder(
      {
        buyer: { type: 'customer', id: req.customerId },
        skuId: c.skuId,
        quantity: 1,
        channel: req.channel,
        agentId: req.agentId,
        payment: req.payment,
        provider: req.provider,
        apiKeyOwner: req.apiKeyOwner,
        orderId,
        saleInfo,
        offer: { kind: 'group_buy', id: groupId, unitPriceFen: c.groupPriceFen, campaignId: c.campaignId },
        awaitGroup: true,
        gate: req.gate,
      },
      tx,
    );
  }

  /** The leader opens a group and takes its first seat. Returns 201 (new) or 200 (the same Idempotency-Key again). */
  async function openGroup(campaignId: string, req: SeatRequest) {
    const now = p.clock.now();
    const groupId = newId('gbg', now);
    const orderId = newId('ord', now);
    return p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, req.idempotency.scope, req.idempotency.key, req.idempotency.request, { statusCode: 201, body: { group_id: groupId, order_id: orderId } });
      if (prior) return { status: 200, ...(prior.body as { group_id: string; order_id: string }) };
      const [c0] = await tx.select().from(groupBuyCampaigns).where(eq(groupBuyCampaigns.id, campaignId));
      if (!c0) throw notFound('group-buy campaign', campaignId);
      const seats = await customerSeats(tx, campaignId, req.customerId);
      const pre = canOpen(c0, now, { ...seats, perCustomerLimit: c0.perCustomerLimit });
      if (!pre.ok) throw fail(pre);
      // The group cap, window and status again, in the UPDATE that counts the group: the cap holds under races.
      const [c] = await tx
        .update(groupBuyCampaigns)
        .set({ groupsOpened: sql`${groupBuyCampaigns.groupsOpened} + 1` })
        .where(and(eq(groupBuyCampaigns.id, campaignId), eq(groupBuyCampaigns.status, 'active'), sql`${groupBuyCampaigns.startsAt} <= ${now} and ${groupBuyCampaigns.endsAt} > ${now}`, sql`(${groupBuyCampaigns.maxGroups} is null or ${groupBuyCampaigns.groupsOpened} < ${groupBuyCampaigns.maxGroups})`))
        .returning();
      if (!c) {
        const [again] = await tx.select().from(groupBuyCampaigns).where(eq(groupBuyCampaigns.id, campaignId));
        const v = canOpen(again!, now, { seatsInCampaign: 0, perCustomerLimit: 1 });
        throw fail(v.ok ? { ok: false, code: 'CONFLICT', field: 'id', message: 'no more groups can be opened in this campaign' } : v);
      }
      await tx.insert(groupBuyGroups).values({ id: groupId, campaignId, leaderCustomerId: req.customerId, leaderAgentId: req.agentId ?? null, groupSize: c.groupSize, seatsTaken: 1, expiresAt: groupDeadline(now, c.durationMinutes, c.endsAt), createdAt: now });
      await takeSeat(tx, c, groupId, orderId, req, true, await deps.catalog.saleInfo(c.skuId, tx));
      return { status: 201, group_id: groupId, order_id: orderId };
    });
  }

  /** A member joins by taking a seat and paying for it. Full, finished or expired groups answer 409 with the reason. */
  async function joinGroup(groupId: string, req: SeatRequest) {
    const now = p.clock.now();
    const orderId = newId('ord', now);
    return p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, req.idempotency.scope, req.idempotency.key, req.idempotency.request, { statusCode: 201, body: { group_id: groupId, order_id: orderId } });
      if (prior) return { status: 200, ...(prior.body as { group_id: string; order_id: string }) };
      const [row] = await tx.select({ g: groupBuyGroups, c: groupBuyCampaigns }).from(groupBuyGroups).innerJoin(groupBuyCampaigns, eq(groupBuyCampaigns.id, groupBuyGroups.campaignId)).where(eq(groupBuyGroups.id, groupId));
      if (!row) throw notFound('group', groupId);
      const seats = await customerSeats(tx, row.c.id, req.customerId, groupId);
      const pre = canJoin(row.g, now, { ...seats, perCustomerLimit: row.c.perCustomerLimit });
      if (!pre.ok) throw fail(pre);
      // Read before the seat is taken: the group's row lock is held from the seat to the commit, so that stretch stays short.
      const saleInfo = await deps.catalog.saleInfo(row.c.skuId, tx);
      // The seat: one conditional UPDATE; concurrent joiners queue on the row and re-check the count after each commit.
      const [seat] = await tx
        .update(groupBuyGroups)
        .set({ seatsTaken: sql`${groupBuyGroups.seatsTaken} + 1` })
        .where(and(eq(groupBuyGroups.id, groupId), eq(groupBuyGroups.status, 'open'), sql`${groupBuyGroups.seatsTaken} < ${groupBuyGroups.groupSize}`, sql`${groupBuyGroups.expiresAt} > ${now}`))
        .returning({ seatsTaken: groupBuyGroups.seatsTaken });
      if (!seat) {
        const [g] = await tx.select().from(groupBuyGroups).where(eq(groupBuyGroups.id, groupId));
        throw fail(seatRefusal(g, now));
      }
      await takeSeat(tx, row.c, groupId, orderId, req, false, saleInfo);
      return { status: 201, group_id: groupId, order_id: orderId };
    });
  }

  /** The share page: seats, deadline and members (names masked, no ids). */
  async function groupState(groupId: string) {
    const [row] = await p.db.select({ g: groupBuyGroups, c: groupBuyCampaigns }).from(groupBuyGroups).innerJoin(groupBuyCampaigns, eq(groupBuyCampaigns.id, groupBuyGroups.campaignId)).where(eq(groupBuyGroups.id, groupId));
    if (!row) throw notFound('group', groupId);
    const members = await p.db.select().from(groupBuyMembers).where(and(eq(groupBuyMembers.groupId, groupId), inArray(groupBuyMembers.status, [...LIVE_SEATS, 'refunded']))).orderBy(groupBuyMembers.joinedAt);
    const names = await Promise.all(members.map((m) => deps.customers.get(m.customerId).then((c) => maskName(c.display_name), () => maskName(null))));
    const { g, c } = row;
    return {
      id: g.id,
      campaign_id: c.id,
      name: c.name,
      sku_id: c.skuId,
      group_price_fen: c.groupPriceFen,
      group_size: g.groupSize,
      seats_taken: g.seatsTaken,
      seats_left: g.status === 'open' ? g.groupSize - g.seatsTaken : 0,
      status: g.status,
      expires_at: g.expiresAt.toISOString(),
      members: members.map((m, i) => ({ name: names[i]!, is_leader: m.isLeader, paid: m.status !== 'pending_payment', joined_at: m.joinedAt.toISOString() })),
    };
  }

  async function groupOfOrder(tx: Tx, order: OrderRow) {
    if (order.offerKind !== 'group_buy' || !order.offerId) return null;
    const [g] = await tx.select().from(groupBuyGroups).where(eq(groupBuyGroups.id, order.offerId)).for('update');
    const [m] = await tx.select().from(groupBuyMembers).where(eq(groupBuyMembers.orderId, order.id));
    if (!g || !m) {
      p.logger.error({ order_id: order.id, group_id: order.offerId }, 'group-buy order without its group or member row');
      return null;
    }
    return { g, m };
  }

  /**
   * orders.onStatus('awaiting_group'): a member paid. Counted with the group
   * row locked; the payment that makes N paid members completes the group
   * and releases every member's order in this transaction.
   */
  async function onMemberPaid(tx: Tx, order: OrderRow) {
    const found = await groupOfOrder(tx, order);
    if (!found) return;
    const { g, m } = found;
    const now = p.clock.now();
    let status = 'paid';
    if (m.status === 'cancelled') {
      // Paid after its unpaid order was cancelled and its seat freed: it takes a seat again if one is free, else it is refunded.
      const seats = await tx.select({ n: sql<number>`count(*)::int` }).from(groupBuyMembers).where(and(eq(groupBuyMembers.groupId, g.id), eq(groupBuyMembers.customerId, m.customerId), inArray(groupBuyMembers.status, LIVE_SEATS)));
      const free = g.status === 'open' && g.seatsTaken < g.groupSize && g.expiresAt > now && Number(seats[0]?.n ?? 0) === 0;
      if (free) await tx.update(groupBuyGroups).set({ seatsTaken: sql`${groupBuyGroups.seatsTaken} + 1` }).where(eq(groupBuyGroups.id, g.id));
      else status = g.status === 'failed' ? 'paid' : 'refund_due';
    } else if (m.status !== 'pending_payment') return;
    await tx.update(groupBuyMembers).set({ status, updatedAt: now }).where(eq(groupBuyMembers.orderId, order.id));
    // A failed group's late payers are refunded by the expiry job (provider refunds run in their own transaction).
    if (g.status !== 'open' || status !== 'paid') return;
    const paid = await tx.select().from(groupBuyMembers).where(and(eq(groupBuyMembers.groupId, g.id), eq(groupBuyMembers.status, 'paid'))).orderBy(groupBuyMembers.joinedAt);
    if (!isComplete(paid.length, g.groupSize)) return;
    // A seat whose order staff refunded while it waited no longer counts: its seat is free again and the group waits on.
    const gone: string[] = [];
    for (const member of paid) if ((await deps.orders.get(member.orderId, tx)).status !== 'awaiting_group') gone.push(member.orderId);
    if (gone.length) {
      await tx.update(groupBuyMembers).set({ status: 'refunded', updatedAt: now }).where(inArray(groupBuyMembers.orderId, gone));
      await tx.update(groupBuyGroups).set({ seatsTaken: sql`${groupBuyGroups.seatsTaken} - ${gone.length}` }).where(eq(groupBuyGroups.id, g.id));
      return;
    }
    await tx.update(groupBuyGroups).set({ status: 'completed', completedAt: now }).where(eq(groupBuyGroups.id, g.id));
    for (const member of paid) await deps.orders.releaseGroupOrder(tx, member.orderId);
    await tx.update(groupBuyMembers).set({ status: 'released', updatedAt: now }).where(and(eq(groupBuyMembers.groupId, g.id), eq(groupBuyMembers.status, 'paid')));
  }

  /** orders.onStatus('cancelled'): an unpaid seat's order was cancelled; the seat is free again while the group is open. */
  async function onOrderCancelled(tx: Tx, order: OrderRow) {
    const found = await groupOfOrder(tx, order);
    if (!found || found.m.status !== 'pending_payment') return;
    await tx.update(groupBuyMembers).set({ status: 'cancelled', updatedAt: p.clock.now() }).where(eq(groupBuyMembers.orderId, order.id));
    if (found.g.status === 'open') await tx.update(groupBuyGroups).set({ seatsTaken: sql`${groupBuyGroups.seatsTaken} - 1` }).where(eq(groupBuyGroups.id, found.g.id));
  }

  const expiry = createGroupBuyExpiry(p, { orders: deps.orders, payments: deps.payments, actor: SYSTEM });

  return { createCampaign, getCampaign, listCampaigns, listGroups, endCampaign, openGroup, joinGroup, groupState, onMemberPaid, onOrderCancelled, expireDue: expiry.expireDue, refundDue: expiry.refundDue, failGroup: expiry.failGroup };
}

export type GroupBuyService = ReturnType<typeof createGroupBuyService>;
