import { expect } from 'vitest';
import type { TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import type { Clock } from '../../src/lib/clock.js';

/** A SKU whose one code expires `inMs` from now, bought (delivered, unrevealed) by the customer; returns the code id and its secret. */
export async function ownExpiringCode(t: TestApp, clock: Clock, customerId: string, inMs: number, name?: string): Promise<{ codeId: string; secret: string }> {
  const sku = await createCodeSku(t, { name });
  const [secret] = await stockCodes(t, sku, 1, { expiresAt: new Date(clock.now().getTime() + inMs) });
  await t.services.orders.creditBalance({ type: 'customer', id: customerId }, 9_600, 'top-up', { id: 'stf_test' });
  const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: customerId }, skuId: sku, quantity: 1, channel: 'test', payment: 'balance' }, tx));
  expect(order.status).toBe('delivered');
  const [code] = (await t.platform.database.executeSql<{ id: string }>('select id from codes where order_id = $1', [order.id])).rows;
  return { codeId: code!.id, secret: secret! };
}
