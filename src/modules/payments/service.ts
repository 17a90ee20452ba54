import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { OrderService } from '../orders/service.js';
import { payments, paymentNotifications, refunds } from './schema.js';
import { accounts } from '../ledger/accounts.js';
import type { LedgerService } from '../ledger/service.js';
import { InvalidNotificationError, type PaymentProvider, type ProviderName, type ProviderPaymentState, type RefundResult } from './provider.js';
import { STARS_CURRENCY, isTelegramStarsProvider, type StarsPaymentMessage, type StarsPreCheckoutQuery, type TelegramStarsProvider } from './telegram-stars.js';

export type NotificationOutcome = 'applied' | 'duplicate' | 'not_paid' | 'amount_mismatch' | 'unknown_trade' | 'invalid_signature';
/** What became of one Telegram update sent to the payments webhook. */
export type TelegramUpdateOutcome = NotificationOutcome | 'pre_checkout_ok' | 'pre_checkout_refused' | 'ignored';
export type PreCheckoutAnswer = { ok: true } | { ok: false; reason: 'unknown_trade' | 'not_pending' | 'order_not_payable' | 'expired' | 'amount_mismatch' | 'in_progress' | 'error'; errorMessage: string };

/** After Telegram is told "ok" it charges within seconds; another payer's query meanwhile is refused so one order is not paid twice. */
const PRE_CHECKOUT_HOLD_MS = 60_000;

/**
 * Payments through outside providers. A payment is applied to its order only
 * from a verified provider statement (a signed notification, or our own query
 * when the notification never came), only if the amount is exactly the
 * order's, and only once: the payment row is locked and moves from pending to
 * succeeded a single time, however often or in whatever order the provider
 * repeats itself.
 */
export function createPaymentService(p: Platform, deps: { orders: OrderService; ledger: LedgerService }, providers: Partial<Record<ProviderName, PaymentProvider>>, opts: { notifyBaseUrl: string }) {
  const provider = (name: string): PaymentProvider => {
    const found = providers[name as ProviderName];
    if (!found) throw new AppError('VALIDATION_FAILED', `payment provider ${name} is not configured`, [{ field: 'payment', message: 'provider not configured' }]);
    return found;
  };

  /** After the order (with its reserved codes) is committed: ask the provider for a payment the client can complete. */
  async function start(orderId: string, providerName: ProviderName, payer?: { openid?: string; telegramUserId?: string }) {
    const order = await deps.orders.get(orderId);
    if (order.status !== 'pending_payment') throw new AppError('CONFLICT', `order is ${order.status}`);
    const prov = provider(providerName);
    const now = p.clock.now();
    const id = newId('pay', now);
    // Our trade number: 32 characters at most for WeChat, unique per payment attempt.
    const tradeNo = `KQ${id.slice(4)}`;
    await p.db.insert(payments).values({ id, orderId, provider: providerName, amountFen: order.amount_fen, status: 'pending', tradeNo, createdAt: now, updatedAt: now });
    const created = await prov.create({
      tradeNo,
      orderId,
      amountFen: order.amount_fen,
      description: `kaquan order ${orderId}`,
      payer,
      notifyUrl: `${opts.notifyBaseUrl}/payments/notify/${providerName}`,
      expiresAt: new Date(order.payment_deadline),
    });
    await p.db.update(payments).set({ providerData: created.providerData, updatedAt: p.clock.now() }).where(eq(payments.id, id));
    return { payment_id: id, trade_no: tradeNo, provider: providerName, amount_fen: order.amount_fen, client_params: created.clientParams };
  }

  async function record(providerName: string, tradeNo: string | null, valid: boolean, outcome: NotificationOutcome, detail?: string) {
    await p.db.insert(paymentNotifications).values({ id: newId('pnt', p.clock.now()), provider: providerName, tradeNo, signatureValid: valid, outcome, detail: detail?.slice(0, 500) ?? null, receivedAt: p.clock.now() });
  }

  /** Applies a provider's verified word about a payment. */
  async function settle(providerName: string, state: ProviderPaymentState): Promise<NotificationOutcome> {
    if (state.status !== 'succeeded') return 'not_paid';
    return p.db.transaction(async (tx) => {
      const [pay] = await tx.select().from(payments).where(and(eq(payments.tradeNo, state.tradeNo), eq(payments.provider, providerName))).for('update');
      if (!pay) return 'unknown_trade';
      if (pay.status === 'succeeded') {
        // Same trade, another charge (an invoice link paid twice): the money is in, the order already paid.
        if (state.providerTxnId && pay.providerTxnId && state.providerTxnId !== pay.providerTxnId) p.logger.error({ trade_no: state.tradeNo, txn: state.providerTxnId, applied_txn: pay.providerTxnId }, 'a second payment for an already paid trade: refund it');
        return 'duplicate';
      }
      if (state.amountFen !== pay.amountFen) {
        p.logger.error({ trade_no: state.tradeNo, paid: state.amountFen, paid_in_provider_unit: state.paid, expected: pay.amountFen }, 'payment amount does not match the order');
        return 'amount_mismatch';
      }
      const providerData = state.providerData ? { ...(pay.providerData ?? {}), ...state.providerData } : undefined;
      await tx.update(payments).set({ status: 'succeeded', providerTxnId: state.providerTxnId ?? null, paidAt: state.paidAt ?? p.clock.now(), updatedAt: p.clock.now(), ...(providerData ? { providerData } : {}) }).where(eq(payments.id, pay.id));
      await deps.orders.applyPayment(tx, pay.orderId, { amountFen: pay.amountFen, provider: providerName });
      return 'applied';
    });
  }

  /** A provider's notification: verified, recorded, applied once. The answer tells the provider whether to retry. */
  async function handleNotification(providerName: string, headers: Record<string, string | string[] | undefined>, rawBody: string) {
    const prov = provider(providerName);
    let state: ProviderPaymentState;
    try {
      state = await prov.parseNotification(headers, rawBody);
    } catch (err) {
      if (!(err instanceof InvalidNotificationError)) throw err;
      await record(providerName, null, false, 'invalid_signature', err.message);
      p.logger.warn({ provider: providerName, reason: err.message }, 'payment notification refused');
      return { outcome: 'invalid_signature' as const, ack: { statusCode: 401, body: { code: 'FAIL', message: 'invalid notification' } } };
    }
    const outcome = await settle(providerName, state);
    await record(providerName, state.tradeNo, true, outcome);
    // Duplicates and mismatches are answered "received": resending would not change them (mismatches are logged for staff).
    return { outcome, ack: prov.acknowledge(true) };
  }

  function starsProvider(providerName = 'stars'): TelegramStarsProvider {
    const prov = provider(providerName);
    if (!isTelegramStarsProvider(prov)) throw new AppError('VALIDATION_FAILED', `payment provider ${providerName} has no Telegram updates`);
    return prov;
  }

  /**
   * Telegram asks before charging (pre_checkout_query) and waits 10 s for the
   * answer: ok only for a pending payment of an order still awaiting payment
   * within its deadline, in XTR, for exactly the stars invoiced. The answer is
   * sent here; the bot's own update handling calls this too.
   */
  async function preCheckout(providerName: string, query: StarsPreCheckoutQuery): Promise<PreCheckoutAnswer> {
    const prov = starsProvider(providerName);
    const refuse = (reason: Exclude<PreCheckoutAnswer, { ok: true }>['reason'], errorMessage: string): PreCheckoutAnswer => ({ ok: false, reason, errorMessage });
    let answer: PreCheckoutAnswer;
    try {
      answer = await p.db.transaction(async (tx): Promise<PreCheckoutAnswer> => {
        const now = p.clock.now();
        const tradeNo = query.invoice_payload;
        if (typeof tradeNo !== 'string' || tradeNo === '') return refuse('unknown_trade', 'This invoice is not known.');
        // Locked: two payers' queries for one invoice link are decided one after the other.
        const [pay] = await tx.select().from(payments).where(and(eq(payments.tradeNo, tradeNo), eq(payments.provider, providerName))).for('update');
        if (!pay) return refuse('unknown_trade', 'This invoice is not known.');
        if (pay.status !== 'pending') return refuse('not_pending', 'This invoice is already paid or closed.');
        const order = await deps.orders.get(pay.orderId, tx);
        if (order.status !== 'pending_payment') return refuse('order_not_payable', 'This order can no longer be paid.');
        if (new Date(order.payment_deadline).getTime() <= now.getTime()) return refuse('expired', 'The time to pay this order has run out. Please place a new order.');
        const data = pay.providerData ?? {};
        if (query.currency !== STARS_CURRENCY || query.total_amount !== prov.invoicedStars({ amountFen: pay.amountFen, stars: data.stars })) {
          return refuse('amount_mismatch', 'The price does not match this order. Please open the invoice again.');
        }
        const hold = data.pre_checkout as { query_id?: unknown; at?: unknown } | undefined;
        if (hold && hold.query_id !== query.id && typeof hold.at === 'string' && now.getTime() - Date.parse(hold.at) < PRE_CHECKOUT_HOLD_MS) {
          return refuse('in_progress', 'A payment for this order is already in progress. Please try again in a minute.');
        }
        const preCheckoutData = { query_id: query.id, user_id: typeof query.from?.id === 'number' ? String(query.from.id) : null, at: now.toISOString() };
        await tx.update(payments).set({ providerData: { ...data, pre_checkout: preCheckoutData }, updatedAt: now }).where(eq(payments.id, pay.id));
        return { ok: true };
      });
    } catch (err) {
      // A refusal beats silence: without an answer Telegram fails the payment after 10 s anyway.
      p.logger.error({ err, trade_no: query.invoice_payload }, 'pre-checkout check failed');
      answer = refuse('error', 'This payment cannot be checked right now. Please try again.');
    }
    try {
      await prov.answerPreCheckout(query.id, answer.ok ? { ok: true } : { ok: false, errorMessage: answer.errorMessage });
    } catch (err) {
      // Not thrown: a retried update could only answer again after Telegram's 10 s, which it refuses; the payer retries instead.
      p.logger.error({ err, trade_no: query.invoice_payload }, 'pre-checkout answer not delivered');
    }
    p.logger.info({ trade_no: query.invoice_payload, ok: answer.ok, reason: answer.ok ? undefined : answer.reason }, 'pre-checkout answered');
    return answer;
  }

  /** A successful_payment from a verified Telegram update (the webhook below, or the bot's own update handling): applied once, exactly. */
  async function applyStarsPayment(message: StarsPaymentMessage, providerName = 'stars') {
    const prov = starsProvider(providerName);
    let state: ProviderPaymentState;
    try {
      state = await prov.paymentState(message);
    } catch (err) {
      if (!(err instanceof InvalidNotificationError)) throw err;
      await record(providerName, null, false, 'invalid_signature', err.message);
      return { outcome: 'invalid_signature' as const, ack: { statusCode: 400, body: { code: 'FAIL', message: 'invalid payment message' } } };
    }
    const outcome = await settle(providerName, state);
    await record(providerName, state.tradeNo, true, outcome, state.paid && outcome === 'amount_mismatch' ? `paid ${state.paid.amount} ${state.paid.currency}` : undefined);
    return { outcome, ack: prov.acknowledge(true) };
  }

  /** A Telegram update posted to the payments webhook: the secret token checked, then a pre-checkout answered or a payment applied. */
  async function handleTelegramUpdate(headers: Record<string, string | string[] | undefined>, rawBody: string): Promise<{ outcome: TelegramUpdateOutcome; ack: { statusCode: number; body?: Record<string, unknown> } }> {
    const prov = starsProvider();
    let update;
    try {
      update = prov.readUpdate(headers, rawBody);
    } catch (err) {
      if (!(err instanceof InvalidNotificationError)) throw err;
      await record('stars', null, false, 'invalid_signature', err.message);
      p.logger.warn({ provider: 'stars', reason: err.message }, 'Telegram update refused');
      return { outcome: 'invalid_signature', ack: { statusCode: 401, body: { code: 'FAIL', message: 'invalid update' } } };
    }
    const query = update.pre_checkout_query;
    if (query && typeof query === 'object' && typeof query.id === 'string') {
      const answer = await preCheckout('stars', query);
      return { outcome: answer.ok ? 'pre_checkout_ok' : 'pre_checkout_refused', ack: prov.acknowledge(true) };
    }
    const message = update.message;
    if (message && typeof message === 'object' && message.successful_payment) return applyStarsPayment(message);
    // Anything else is not for payments; a 2xx stops Telegram from resending it.
    return { outcome: 'ignored', ack: prov.acknowledge(true) };
  }

  /**
   * Asks the provider to return a paid payment's money (Telegram Stars: the
   * whole charge, to the payer recorded when it was paid). Only the provider
   * call: the order, the ledger and the refunds table are the caller's to book.
   */
  async function refundThroughProvider(paymentId: string, input: { refundId: string; amountFen: number; reason: string }): Promise<RefundResult> {
    const pay = await get(paymentId);
    if (pay.status !== 'succeeded') throw new AppError('CONFLICT', `payment ${paymentId} is ${pay.status}, not paid`);
    const payer = pay.providerData?.payer_telegram_id;
    return provider(pay.provider).refund({
      refundId: input.refundId,
      tradeNo: pay.tradeNo,
      providerTxnId: pay.providerTxnId ?? undefined,
      amountFen: input.amountFen,
      totalFen: pay.amountFen,
      reason: input.reason,
      payer: typeof payer === 'string' ? { telegramUserId: payer } : undefined,
    });
  }

  /**
   * Refunds an order, whole or in part. Paid from a balance, or when the
   * buyer or staff choose it, the money returns to the buyer's balance at
   * once. Paid through a provider, it goes back the way it came: the refund is
   * booked (codes back to stock, revenue reversed, the amount owed to the
   * buyer in refunds payable) and recorded in one transaction, then sent to
   * the provider; the job retries it until the provider confirms, and only
   * then does the cash leave the books.
   */
  async function refundOrder(
    orderId: string,
    input: { reason: string; afterSales?: boolean; quantity?: number; codeIds?: string[]; to?: 'balance' | 'original'; onlyIf?: Parameters<OrderService['refundInTx']>[2]['onlyIf'] },
    actor: { id: string; ip?: string; type?: 'staff' | 'system' | 'customer' },
  ) {
    const order = await deps.orders.get(orderId);
    // Balance orders (and promotion-paid ones, whose refund goes back to the promotion budget) have no provider payment.
    const paidByProvider = order.payment_provider !== null && order.payment_provider !== 'balance' && order.payment_provider !== 'promotion';
    const to = input.to ?? (paidByProvider ? 'original' : 'balance');
    if (to === 'original' && !paidByProvider) throw new AppError('VALIDATION_FAILED', 'to: this order was paid from a balance or a promotion; it is refunded there', [{ field: 'to', message: 'must be balance' }]);
    const [pay] = paidByProvider ? await p.db.select().from(payments).where(and(eq(payments.orderId, orderId), eq(payments.status, 'succeeded'))) : [];
    if (paidByProvider && !pay) throw new AppError('CONFLICT', 'this order has no completed payment to refund');
    if (to === 'original' && pay) provider(pay.provider);
    const booked = await p.db.transaction(async (tx) => {
      const result = await deps.orders.refundInTx(tx, orderId, { ...input, destination: to === 'original' ? accounts.refundsPayable : undefined }, actor);
      if (to === 'original' && pay?.provider === 'stars' && result.amountFen !== pay.amountFen - pay.refundedFen) {
        // Telegram refunds whole charges only.
        throw new AppError('UNPROCESSABLE', 'Telegram Stars payments are refunded whole; refund part of it to the balance instead', [{ field: 'to', message: 'partial refunds of Stars payments go to the balance' }]);
      }
      if (!pay) return { ...result, refundId: null };
      const now = p.clock.now();
      const refundId = newId('rfd', now);
      await tx.insert(refunds).values({ id: refundId, orderId, paymentId: pay.id, amountFen: result.amountFen, quantity: result.units, destination: to, status: to === 'original' ? 'pending' : 'succeeded', reason: input.reason, createdBy: actor.id, createdAt: now, updatedAt: now });
      await tx.update(payments).set({ refundedFen: sql`${payments.refundedFen} + ${result.amountFen}`, updatedAt: now }).where(eq(payments.id, pay.id));
      return { ...result, refundId };
    });
    const sent = booked.refundId && to === 'original' ? await sendRefund(booked.refundId) : null;
    return { order: await deps.orders.get(orderId), refund: booked.refundId ? { id: booked.refundId, amount_fen: booked.amountFen, to, status: sent ?? 'succeeded' } : { id: null, amount_fen: booked.amountFen, to, status: 'succeeded' } };
  }

  /**
   * Sends one booked refund to its provider (again, if an earlier call failed
   * or was still processing: providers dedupe by our refund id). When the
   * provider says it is done, the cash leaves the books once.
   */
  async function sendRefund(refundId: string): Promise<string> {
    const [r] = await p.db.select().from(refunds).where(eq(refunds.id, refundId));
    if (!r) throw notFound('refund', refundId);
    if (r.status === 'succeeded' || r.status === 'failed') return r.status;
    let result: RefundResult;
    try {
      result = await refundThroughProvider(r.paymentId, { refundId: r.id, amountFen: r.amountFen, reason: r.reason });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      p.logger.warn({ refund_id: r.id, err: message }, 'refund not accepted by the provider yet; will retry');
      await p.db.update(refunds).set({ attempts: sql`${refunds.attempts} + 1`, lastError: message.slice(0, 500), updatedAt: p.clock.now() }).where(eq(refunds.id, r.id));
      return 'pending';
    }
    return p.db.transaction(async (tx) => {
      const [locked] = await tx.select().from(refunds).where(eq(refunds.id, r.id)).for('update');
      if (!locked || locked.status === 'succeeded' || locked.status === 'failed') return locked?.status ?? 'failed';
      const status = result.status === 'succeeded' ? 'succeeded' : result.status === 'failed' ? 'failed' : 'processing';
      await tx.update(refunds).set({ status, providerRefundId: result.providerRefundId ?? locked.providerRefundId, attempts: locked.attempts + 1, lastError: status === 'failed' ? 'the provider refused the refund' : null, updatedAt: p.clock.now() }).where(eq(refunds.id, r.id));
      if (status === 'succeeded') {
        await deps.ledger.post(tx, { kind: 'refund_paid_out', refType: 'refund', refId: r.id, postings: [{ account: accounts.refundsPayable, amountFen: -r.amountFen }, { account: accounts.cash, amountFen: r.amountFen }] });
      }
      // A refused refund stays owed to the buyer in refunds payable, for finance to settle by hand.
      if (status === 'failed') p.logger.error({ refund_id: r.id, order_id: r.orderId }, 'the provider refused a refund: finance must settle it');
      return status;
    });
  }

  /** The job: refunds not yet confirmed by their provider, sent again. */
  async function sendPendingRefunds(limit = 50): Promise<number> {
    const due = await p.db.select({ id: refunds.id }).from(refunds).where(inArray(refunds.status, ['pending', 'processing'])).limit(limit);
    let done = 0;
    for (const { id } of due) if ((await sendRefund(id)) === 'succeeded') done++;
    return done;
  }

  /** For an unpaid order whose notification may have been lost: ask the provider. */
  async function reconcile(orderId: string): Promise<NotificationOutcome | 'no_payment'> {
    const rows = await p.db.select().from(payments).where(and(eq(payments.orderId, orderId), eq(payments.status, 'pending')));
    for (const pay of rows) {
      const state = await provider(pay.provider).query(pay.tradeNo);
      const outcome = await settle(pay.provider, state);
      if (outcome === 'applied') return outcome;
    }
    return rows.length ? 'not_paid' : 'no_payment';
  }

  async function get(paymentId: string) {
    const [row] = await p.db.select().from(payments).where(eq(payments.id, paymentId));
    if (!row) throw notFound('payment', paymentId);
    return row;
  }

  return { start, handleNotification, handleTelegramUpdate, preCheckout, applyStarsPayment, refundThroughProvider, refundOrder, sendRefund, sendPendingRefunds, settle, reconcile, get, configured: (name: string) => Boolean(providers[name as ProviderName]) };
}

export type PaymentService = ReturnType<typeof createPaymentService>;
