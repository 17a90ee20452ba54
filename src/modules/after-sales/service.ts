import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows, type Statement } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import type { LedgerService } from '../ledger/service.js';
import { accounts } from '../ledger/accounts.js';
import type { OrderService } from '../orders/service.js';
import { createIdempotency } from '../orders/idempotency.js';
import type { PaymentService } from '../payments/service.js';
import type { VaultService } from '../vault/service.js';
import type { WalletService } from '../wallet/service.js';
import type { OutboundMessage } from '../../../bots/core/types.js';
import { parseDeliveryTarget } from '../../../bots/core/outbound-deliveries.js';
import { afterSalesEvents, afterSalesTicketCodes, afterSalesTickets } from './schema.js';
import { decidedStatus, decisionTexts, toTicketView, undecided, type Decision, type TicketStatus, type TicketView } from './views.js';

export interface AfterSalesDeps {
  audit: AuditService;
  orders: Pick<OrderService, 'createOrder' | 'getRow'>;
  vault: Pick<VaultService, 'codesOfOrder' | 'transition'>;
  payments: Pick<PaymentService, 'refundOrder'>;
  ledger: Pick<LedgerService, 'post'>;
  catalog: Pick<CatalogService, 'getSku'>;
  /** Who holds a code now (a gift's receiver, else the order's buyer): the wallet's one definition of ownership. */
  wallet: Pick<WalletService, 'ownershipOfCodes'>;
  /** The webhooks outbox insert, run in the decision's transaction. */
  outbox: (events: { type: string; ownerType?: string; ownerId?: string; data: Record<string, unknown> }[]) => Statement;
  /** The chat outbound queue (bots/core/outbound.ts), for customers whose order names a chat. */
  outbound?: { enqueue: (tx: DbOrTx | undefined, m: OutboundMessage) => Promise<{ id: string; created: boolean }> };
}

export interface StaffActor {
  id: string;
  ip?: string;
}

/** A refund claimed by a decision that crashed before finishing may be resumed after this long. */
const PENDING_RESUME_MS = 60_000;
/** Only a code its owner has seen can be reported as not working (an unseen one is refunded back to stock by the orders module). */
const reportableStates = ['revealed'];

/**
 * After-sales: a customer reports codes of their order that do not work;
 * support decides once. A replacement is a new order of the same SKU paid by
 * the promotion budget (the normal sale path: stock claim, ledger, delivery to
 * the order's chat, reconciliation all hold) and the faulty codes are voided;
 * a refund goes through the payments module (revealed codes are voided there);
 * a supplier fault charges the faulty codes' cost back to the supplier payable.
 */
export function createAfterSalesService(p: Platform, deps: AfterSalesDeps) {
  const idempotency = createIdempotency(p);

  /** The order row (the orders service's view has neither the API key owner nor the delivery target). */
  const orderRow = (db: DbOrTx, orderId: string) => deps.orders.getRow(orderId, db);

  async function open(input: { customerId: string; orderId?: string; codeIds: string[]; description: string; evidenceUrls: string[]; apiKeyOwner?: string; scope: string; idempotencyKey: string }): Promise<{ status: 200 | 201; ticket: TicketView }> {
    const codeIds = [...new Set(input.codeIds)].sort();
    const description = input.description.trim();
    if (!description) throw new AppError('VALIDATION_FAILED', 'description: must not be empty', [{ field: 'description', message: 'must not be empty' }]);
    const now = p.clock.now();
    const id = newId('ast', now);
    const request = { customer: input.customerId, order: input.orderId, codes: codeIds, description, evidence: input.evidenceUrls };
    const done = await p.db.transaction(async (tx) => {
      const stored = await idempotency.claim(tx, input.scope, input.idempotencyKey, request, { statusCode: 201, body: { id } });
      if (stored) return { status: 200 as const, id: (stored.body as { id: string }).id };
      const { o, held } = await reportedOrder(tx, input.customerId, input.orderId, codeIds);
      const unseen = codeIds.filter((c) => !reportableStates.includes(held.get(c)!.state));
      if (unseen.length) throw new AppError('UNPROCESSABLE', `code_ids: only revealed codes can be reported (${unseen.length} are not)`, [{ field: 'code_ids', message: `not revealed: ${unseen.slice(0, 5).join(', ')}` }]);
      await tx.insert(afterSalesTickets).values({ id, customerId: input.customerId, orderId: o.id, apiKeyOwner: input.apiKeyOwner ?? null, description, evidenceUrls: input.evidenceUrls, status: 'open', createdAt: now, updatedAt: now });
      // The partial unique index keeps one undecided ticket per code, also under concurrency (a twin waits, then finds the row).
      const taken = await queryRows<{ code_id: string }>(tx, `insert into after_sales_ticket_codes (ticket_id, code_id, active) select $1, unnest($2::text[]), true on conflict do nothing returning code_id`, [id, codeIds]);
      if (taken.length < codeIds.length) {
        const busy = codeIds.filter((c) => !taken.some((t) => t.code_id === c));
        throw new AppError('CONFLICT', `code_ids: ${busy.length} code(s) already have an open ticket`, [{ field: 'code_ids', message: `open ticket exists: ${busy.slice(0, 5).join(', ')}` }]);
      }
      await addEvent(tx, id, null, 'open', { type: input.apiKeyOwner ? 'api_key' : 'customer', id: input.apiKeyOwner ?? input.customerId }, null);
      return { status: 201 as const, id };
    });
    return { status: done.status, ticket: await get(done.id) };
  }

  /**
   * The order whose codes are reported, checked against who holds each code
   * now (the wallet's ownership): the buyer for codes still theirs, a gift's
   * receiver for the gifted ones (they need not know the giver's order id).
   * Someone else's order is "not found" (an order number alone confirms
   * nothing), and so is a code the customer gave away.
   */
  async function reportedOrder(tx: Tx, customerId: string, orderId: string | undefined, codeIds: string[]) {
    const owned = await deps.wallet.ownershipOfCodes(codeIds, tx);
    const mine = codeIds.filter((c) => owned.get(c)?.owner === customerId);
    const id = orderId ?? owned.get(mine[0] ?? '')?.order_id ?? undefined;
    const o = id ? await orderRow(tx, id) : undefined;
    const buyer = o?.buyerType === 'customer' && o.buyerId === customerId;
    if (!o || (!buyer && (mine.length < codeIds.length || mine.some((c) => owned.get(c)!.order_id !== o.id)))) throw orderId ? notFound('order', orderId) : notFound('code', codeIds.find((c) => owned.get(c)?.owner !== customerId) ?? codeIds[0]!);
    const foreign = codeIds.filter((c) => owned.get(c)?.order_id !== o.id);
    if (foreign.length) throw new AppError('UNPROCESSABLE', `code_ids: ${foreign.length} code(s) are not codes of this order`, [{ field: 'code_ids', message: `not of this order: ${foreign.slice(0, 5).join(', ')}` }]);
    // The buyer's own order, but a code they gave away: it is the receiver's to report now.
    const given = codeIds.find((c) => owned.get(c)!.owner !== customerId);
    if (given) throw notFound('code', given);
    return { o, held: owned };
  }

  async function addEvent(tx: DbOrTx, ticketId: string, from: string | null, to: TicketStatus, actor: { type: string; id: string | null }, note: string | null) {
    await tx.insert(afterSalesEvents).values({ id: newId('ase', p.clock.now()), ticketId, fromStatus: from, toStatus: to, actorType: actor.type, actorId: actor.id, note, createdAt: p.clock.now() });
  }

  async function codesOf(db: DbOrTx, ticketIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(ticketIds.map((id) => [id, []]));
    if (!ticketIds.length) return out;
    const rows = await db.select().from(afterSalesTicketCodes).where(inArray(afterSalesTicketCodes.ticketId, ticketIds)).orderBy(asc(afterSalesTicketCodes.codeId));
    for (const r of rows) out.get(r.ticketId)?.push(r.codeId);
    return out;
  }

  /** One ticket with its history; `customerId` restricts it to that customer's own (anything else is not found). */
  async function get(id: string, customerId?: string, db: DbOrTx = p.db): Promise<TicketView> {
    const [t] = await db.select().from(afterSalesTickets).where(eq(afterSalesTickets.id, id));
    if (!t || (customerId !== undefined && t.customerId !== customerId)) throw notFound('after-sales ticket', id);
    const history = await db.select().from(afterSalesEvents).where(eq(afterSalesEvents.ticketId, id)).orderBy(asc(afterSalesEvents.id));
    return toTicketView(t, (await codesOf(db, [id])).get(id) ?? [], history);
  }

  async function list(q: { customerId?: string; status?: string; limit: number; cursor?: string }): Promise<PageResult<TicketView>> {
    const where = pageFilter(afterSalesTickets.id, q.cursor, q.customerId ? eq(afterSalesTickets.customerId, q.customerId) : undefined, q.status ? eq(afterSalesTickets.status, q.status) : undefined);
    const rows = await p.db.select().from(afterSalesTickets).where(where).orderBy(desc(afterSalesTickets.id)).limit(q.limit + 1);
    const codes = await codesOf(p.db, rows.map((r) => r.id));
    return toPage(rows.map((r) => toTicketView(r, codes.get(r.id) ?? [])), q.limit);
  }

  async function lockTicket(tx: Tx, id: string) {
    const [t] = await tx.select().from(afterSalesTickets).where(eq(afterSalesTickets.id, id)).for('update');
    if (!t) throw notFound('after-sales ticket', id);
    return t;
  }

  /** Support takes a ticket (open -> in_review). Taking one already in review changes nothing. */
  async function review(id: string, actor: StaffActor): Promise<TicketView> {
    await p.db.transaction(async (tx) => {
      const t = await lockTicket(tx, id);
      if (t.status === 'in_review') return;
      if (t.status !== 'open') throw new AppError('CONFLICT', `the ticket is ${t.status}`);
      await tx.update(afterSalesTickets).set({ status: 'in_review', updatedAt: p.clock.now() }).where(eq(afterSalesTickets.id, id));
      await addEvent(tx, id, 'open', 'in_review', { type: 'staff', id: actor.id }, null);
    });
    return get(id);
  }

  /**
   * Decides a ticket once (a decided one is 409). Replace and reject run in
   * one transaction. A refund runs in the payments module's own transaction:
   * the ticket is first marked as being refunded (so a twin decision is
   * refused), then refunded, then closed; a failed refund clears the mark,
   * and one interrupted after the money moved is finished by a retry (the
   * codes are then no longer refundable, which shows the refund happened).
   */
  async function decide(id: string, input: { decision: Decision; note?: string; supplierFault?: boolean }, actor: StaffActor): Promise<TicketView> {
    const note = input.note?.trim() || null;
    if (input.decision === 'reject' && !note) throw new AppError('VALIDATION_FAILED', 'note: a rejection says why', [{ field: 'note', message: 'required when rejecting' }]);
    if (input.decision === 'reject' && input.supplierFault) throw new AppError('VALIDATION_FAILED', 'supplier_fault: a rejected ticket found no fault', [{ field: 'supplier_fault', message: 'not with reject' }]);
    if (input.decision !== 'refund') {
      await p.db.transaction(async (tx) => {
        const t = await startDecision(tx, id, actor);
        if (t.pendingDecision) throw new AppError('CONFLICT', `the ticket is being decided (${t.pendingDecision})`);
        const codeIds = (await codesOf(tx, [id])).get(id) ?? [];
        const replacementOrderId = input.decision === 'replace' ? await replace(tx, t, codeIds, actor) : null;
        await finish(tx, t, codeIds, { ...input, note, replacementOrderId, refundedFen: null }, actor);
      });
      return get(id);
    }
    const claimed = await p.db.transaction(async (tx) => {
      const t = await startDecision(tx, id, actor);
      await refuseRefundOfGift(tx, t);
      const now = p.clock.now();
      if (t.pendingDecision && !(t.pendingDecision === 'refund' && t.pendingSince && now.getTime() - t.pendingSince.getTime() >= PENDING_RESUME_MS)) {
        throw new AppError('CONFLICT', `the ticket is being decided (${t.pendingDecision})`);
      }
      await tx.update(afterSalesTickets).set({ pendingDecision: 'refund', pendingSince: now, updatedAt: now }).where(eq(afterSalesTickets.id, id));
      return { ticket: t, codeIds: (await codesOf(tx, [id])).get(id) ?? [] };
    });
    const { ticket, codeIds } = claimed;
    // null when a resumed decision finds the refund already made (its amount is on the order's refund).
    let refundedFen: number | null = null;
    try {
      const still = new Set((await deps.vault.codesOfOrder(ticket.orderId)).filter((c) => c.state === 'revealed' || c.state === 'delivered').map((c) => c.id));
      const refundable = codeIds.filter((c) => still.has(c));
      // None left: an earlier attempt refunded them and stopped before closing the ticket.
      if (refundable.length) {
        const r = await deps.payments.refundOrder(ticket.orderId, { reason: `after-sales ${id}`, afterSales: true, codeIds: refundable }, { id: actor.id, ip: actor.ip, type: 'staff' });
        refundedFen = r.refund.amount_fen;
      }
    } catch (err) {
      await p.db.update(afterSalesTickets).set({ pendingDecision: null, pendingSince: null, updatedAt: p.clock.now() }).where(and(eq(afterSalesTickets.id, id), eq(afterSalesTickets.pendingDecision, 'refund')));
      throw err;
    }
    await p.db.transaction(async (tx) => {
      const t = await lockTicket(tx, id);
      if (!undecided.includes(t.status as TicketStatus)) throw new AppError('CONFLICT', `the ticket is ${t.status}`);
      await finish(tx, t, codeIds, { ...input, note, replacementOrderId: null, refundedFen }, actor);
    });
    return get(id);
  }

  /**
   * The money of a gifted code belongs to the giver who paid, the code to the
   * receiver who reports it: refunding either one would be wrong, so a ticket
   * opened by someone other than the order's buyer is replaced or rejected.
   */
  async function refuseRefundOfGift(tx: Tx, t: typeof afterSalesTickets.$inferSelect) {
    const o = await orderRow(tx, t.orderId);
    if (o && o.buyerType === 'customer' && o.buyerId === t.customerId) return;
    throw new AppError('UNPROCESSABLE', 'refund refused: the reported code was received as a gift, and the money belongs to the buyer who paid, not to its current owner; decide replace or reject', [{ field: 'decision', message: 'no refund for a gifted code' }]);
  }

  /** Locks an undecided ticket and moves it to in_review (recorded) if it was open. */
  async function startDecision(tx: Tx, id: string, actor: StaffActor) {
    const t = await lockTicket(tx, id);
    if (!undecided.includes(t.status as TicketStatus)) throw new AppError('CONFLICT', `the ticket is already ${t.status}`);
    if (t.status === 'open') {
      await tx.update(afterSalesTickets).set({ status: 'in_review', updatedAt: p.clock.now() }).where(eq(afterSalesTickets.id, id));
      await addEvent(tx, id, 'open', 'in_review', { type: 'staff', id: actor.id }, null);
      return { ...t, status: 'in_review' };
    }
    return t;
  }

  /**
   * A new code of the same SKU for each faulty one: an order paid by the
   * promotion budget, to the same customer, partner and chat (the chat
   * delivery scan sends its codes there), and the faulty codes voided.
   */
  async function replace(tx: Tx, t: typeof afterSalesTickets.$inferSelect, codeIds: string[], actor: StaffActor): Promise<string> {
    const o = await orderRow(tx, t.orderId);
    if (!o) throw notFound('order', t.orderId);
    // A gift's receiver is not the order's buyer: the new code must not go to the giver's chat or partner.
    const byBuyer = o.buyerType === 'customer' && o.buyerId === t.customerId;
    const voided = await deps.vault.transition(codeIds, 'void', { actorType: 'staff', actorId: actor.id, ref: `after-sales ${t.id}` }, tx);
    if (voided.length !== codeIds.length) throw new AppError('CONFLICT', `${codeIds.length - voided.length} code(s) of this ticket changed state meanwhile (e.g. redeemed); look again`, [{ field: 'decision', message: 'codes changed state' }]);
    const order = await deps.orders.createOrder(
      {
        buyer: { type: 'customer', id: t.customerId },
        skuId: o.skuId,
        quantity: codeIds.length,
        channel: o.channel,
        payment: 'balance',
        paidBy: 'promotion',
        apiKeyOwner: (byBuyer ? o.apiKeyOwner : t.apiKeyOwner) ?? undefined,
        deliveryTarget: byBuyer ? (o.deliveryTarget ?? undefined) : undefined,
      },
      tx,
    );
    if (order.status !== 'delivered') throw new AppError('OUT_OF_STOCK', 'no replacement code in stock; refund instead or wait for stock', { requested: codeIds.length });
    return order.id;
  }

  /** Closes a ticket: chargeback, status, history, audit, webhook event and chat message, in one transaction. */
  async function finish(tx: Tx, t: typeof afterSalesTickets.$inferSelect, codeIds: string[], d: { decision: Decision; note: string | null; supplierFault?: boolean; replacementOrderId: string | null; refundedFen: number | null }, actor: StaffActor) {
    const now = p.clock.now();
    const status = decidedStatus[d.decision];
    const o = await orderRow(tx, t.orderId);
    let chargebackFen: number | null = null;
    if (d.supplierFault && o) {
      // The faulty codes were voided (a loss to the platform): the supplier owes their cost back.
      chargebackFen = (await deps.catalog.getSku(o.skuId, tx)).costFen * codeIds.length;
      if (chargebackFen > 0) {
        await deps.ledger.post(tx, { kind: 'supplier_chargeback', refType: 'after_sales', refId: t.id, memo: `faulty codes of order ${o.id}`, postings: [{ account: accounts.supplierPayable, amountFen: -chargebackFen }, { account: accounts.costOfGoods, amountFen: chargebackFen }] });
      }
    }
    await tx
      .update(afterSalesTickets)
      .set({ status, decision: d.decision, decisionNote: d.note, supplierFault: Boolean(d.supplierFault), replacementOrderId: d.replacementOrderId, refundedFen: d.refundedFen, chargebackFen, pendingDecision: null, pendingSince: null, decidedBy: actor.id, decidedAt: now, updatedAt: now })
      .where(eq(afterSalesTickets.id, t.id));
    await tx.update(afterSalesTicketCodes).set({ active: false }).where(eq(afterSalesTicketCodes.ticketId, t.id));
    await addEvent(tx, t.id, t.status, status, { type: 'staff', id: actor.id }, d.note);
    await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: `after_sales.${d.decision}`, targetType: 'after_sales_ticket', targetId: t.id, ip: actor.ip, details: { order_id: t.orderId, codes: codeIds.length, supplier_fault: Boolean(d.supplierFault), chargeback_fen: chargebackFen, refunded_fen: d.refundedFen, replacement_order_id: d.replacementOrderId } }, tx);
    const owner = (t.apiKeyOwner ?? o?.apiKeyOwner)?.split(':');
    const st = deps.outbox([{ type: 'after_sales.decided', ...(owner?.length === 2 ? { ownerType: owner[0], ownerId: owner[1] } : {}), data: { ticket_id: t.id, order_id: t.orderId, status, decision: d.decision, note: d.note, replacement_order_id: d.replacementOrderId, refunded_fen: d.refundedFen } }]);
    await queryRows(tx, st.text, st.values);
    // The order's chat is its buyer's: a gift's receiver is told through the partner's webhook and their own ticket list.
    const target = o && o.buyerType === 'customer' && o.buyerId === t.customerId ? parseDeliveryTarget(o.deliveryTarget) : null;
    if (target && deps.outbound) {
      const texts = decisionTexts[target.locale ?? 'zh-CN'];
      const text = status === 'resolved_replaced' ? texts.resolved_replaced(t.id) : status === 'resolved_refunded' ? texts.resolved_refunded(t.id, d.refundedFen ?? 0) : texts.rejected(t.id, d.note ?? '');
      await deps.outbound.enqueue(tx, {
        place: { channel: target.channel, chatId: target.chat_id, kind: 'private' },
        user: target.user ? { provider: target.user.provider, externalId: target.user.external_id } : undefined,
        replies: [{ text }],
        reason: 'after_sales.decided',
        dedupeKey: `after-sales:${t.id}:${status}`,
      });
    }
  }

  return { open, get, list, review, decide };
}

export type AfterSalesService = ReturnType<typeof createAfterSalesService>;
