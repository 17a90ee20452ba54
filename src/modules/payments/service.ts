import { and, eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { OrderService } from '../orders/service.js';
import { payments, paymentNotifications } from './schema.js';
import { InvalidNotificationError, type PaymentProvider, type ProviderName, type ProviderPaymentState } from './provider.js';

export type NotificationOutcome = 'applied' | 'duplicate' | 'not_paid' | 'amount_mismatch' | 'unknown_trade' | 'invalid_signature';

/**
 * Payments through outside providers. A payment is applied to its order only
 * from a verified provider statement (a signed notification, or our own query
 * when the notification never came), only if the amount is exactly the
 * order's, and only once: the payment row is locked and moves from pending to
 * succeeded a single time, however often or in whatever order the provider
 * repeats itself.
 */
export function createPaymentService(p: Platform, deps: { orders: OrderService }, providers: Partial<Record<ProviderName, PaymentProvider>>, opts: { notifyBaseUrl: string }) {
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
      if (pay.status === 'succeeded') return 'duplicate';
      if (state.amountFen !== pay.amountFen) {
        p.logger.error({ trade_no: state.tradeNo, paid: state.amountFen, expected: pay.amountFen }, 'payment amount does not match the order');
        return 'amount_mismatch';
      }
      await tx.update(payments).set({ status: 'succeeded', providerTxnId: state.providerTxnId ?? null, paidAt: state.paidAt ?? p.clock.now(), updatedAt: p.clock.now() }).where(eq(payments.id, pay.id));
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

  return { start, handleNotification, settle, reconcile, get, configured: (name: string) => Boolean(providers[name as ProviderName]) };
}

export type PaymentService = ReturnType<typeof createPaymentService>;
