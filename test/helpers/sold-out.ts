import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { TestApp } from './boot.js';
import { createCodeSku, stockCodes } from './codes.js';
import { MINUTE, type ManualClock } from '../../src/lib/clock.js';
import { signSandboxNotification } from '../../src/modules/payments/sandbox.js';
import { sandboxSecret } from '../../src/services.js';

/**
 * An order of the customer paid (sandbox) while its SKU was sold out: the payment deadline passed, the only code
 * went to another buyer, then the payment came. The order is left `paid_awaiting_stock`.
 */
export async function soldOutOrder(t: TestApp, clock: ManualClock, customerId: string, priceFen: number): Promise<{ orderId: string; sku: string }> {
  const uniq = () => randomBytes(6).toString('hex');
  const sku = await createCodeSku(t, { retailPriceFen: priceFen });
  await stockCodes(t, sku, 1);
  const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: customerId }, skuId: sku, quantity: 1, channel: 'miniprogram', payment: 'external', provider: 'sandbox' }, tx));
  const pay = await t.services.payments.start(order.id, 'sandbox', {});
  clock.advance(11 * MINUTE);
  await t.services.orders.cancelExpired();
  const other = (await t.services.customers.resolve({ identity: { provider: 'partner', externalId: `other-${uniq()}` } })).customerId;
  await t.services.orders.creditBalance({ type: 'customer', id: other }, priceFen, 'top-up', { id: 'stf_test' });
  await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: other }, skuId: sku, quantity: 1, channel: 'test', payment: 'balance' }, tx));
  // The payment arrives late: the order is paid but its code is gone.
  const note = signSandboxNotification(sandboxSecret(t.platform), { trade_no: pay.trade_no, amount_fen: priceFen, status: 'succeeded', txn_id: `late-${uniq()}` }, clock.now());
  expect((await t.inject({ method: 'POST', url: '/payments/notify/sandbox', headers: note.headers, payload: note.body })).statusCode).toBe(204);
  expect((await t.services.orders.get(order.id)).status).toBe('paid_awaiting_stock');
  return { orderId: order.id, sku };
}
