import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { AppError } from '../../src/lib/errors.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let finance: string;
let owner: string;
beforeAll(async () => {
  // The risk gate runs but with no rules: this file buys and withdraws many times per account at a frozen clock, which
  // the velocity rules rightly challenge; the gate's rules are tested in test/risk/gate.test.ts.
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  finance = (await t.loginAs('finance')).token;
  owner = (await t.loginAs('owner')).token;
});
afterAll(() => t.close());

async function agentWithKey(balanceFen: number) {
  const agent = await t.services.agents.create({ name: 'Agent', role: 'group_leader' });
  if (balanceFen > 0) {
    const res = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: balanceFen, reference: 'bank transfer 1' } });
    expect(res.json()).toEqual({ balance_fen: balanceFen });
  }
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: agent.id, name: 'bot' } })).json() as { id: string; secret: string };
  const call = (method: 'GET' | 'POST', url: string, body?: object, idem?: string) => {
    const raw = body ? JSON.stringify(body) : '';
    return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
  };
  return { agent, call };
}

const stateCounts = async (sku: string) => Object.fromEntries((await t.platform.database.executeSql<{ state: string; n: number }>('select state, count(*)::int as n from codes where sku_id = $1 group by state', [sku])).rows.map((r) => [r.state, Number(r.n)]));

describe('orders paid from a prepaid balance', () => {
  it('reserve, pay and deliver in one step; the codes come back to their owner; the ledger balances', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600, costFen: 8_800 });
    const secrets = await stockCodes(t, sku, 5);
    const { agent, call } = await agentWithKey(50_000);
    const res = await call('POST', '/open/v1/orders', { sku_id: sku, quantity: 2, payment: 'balance' }, 'order-key-0001');
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.order).toMatchObject({ status: 'delivered', quantity: 2, delivered_quantity: 2, buyer_type: 'agent', buyer_id: agent.id });
    expect(body.codes).toHaveLength(2);
    for (const c of body.codes) expect(secrets).toContain(c.secret);
    expect(body.usage_instructions).toBeTypeOf('string');
    // The seeded agent is depth 1 with no agent price: retail.
    expect(await t.services.ledger.balance(accounts.agentBalance(agent.id).id)).toBe(50_000 - 2 * 9_600);
    expect(await stateCounts(sku)).toEqual({ available: 3, revealed: 2 });
    expect((await t.services.ledger.verify()).ok).toBe(true);

    // The same key replays the same order and the same codes; with other parameters it is refused.
    const again = await call('POST', '/open/v1/orders', { sku_id: sku, quantity: 2, payment: 'balance' }, 'order-key-0001');
    expect(again.statusCode).toBe(200);
    expect(again.json().order.id).toBe(body.order.id);
    expect(again.json().codes.map((c: { secret: string }) => c.secret).sort()).toEqual(body.codes.map((c: { secret: string }) => c.secret).sort());
    const other = await call('POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, 'order-key-0001');
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(await stateCounts(sku)).toEqual({ available: 3, revealed: 2 });
  });

  it('not enough balance or not enough stock: a clear 4xx and nothing written', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 2);
    const { agent, call } = await agentWithKey(10_000);
    const poor = await call('POST', '/open/v1/orders', { sku_id: sku, quantity: 2, payment: 'balance' }, 'order-key-poor1');
    expect(poor.statusCode).toBe(422);
    expect(poor.json().error.details.code).toBe('INSUFFICIENT_FUNDS');
    const rich = await agentWithKey(100_000);
    const none = await rich.call('POST', '/open/v1/orders', { sku_id: sku, quantity: 3, payment: 'balance' }, 'order-key-none1');
    expect(none.statusCode).toBe(409);
    expect(none.json().error).toMatchObject({ code: 'OUT_OF_STOCK', details: { available: 2, requested: 3 } });
    expect(await t.services.ledger.balance(accounts.agentBalance(rich.agent.id).id)).toBe(100_000);
    expect(await stateCounts(sku)).toEqual({ available: 2 });
    expect(await t.services.ledger.balance(accounts.agentBalance(agent.id).id)).toBe(10_000);
    expect((await t.services.orders.list({ limit: 10, buyer: { type: 'agent', id: agent.id } })).data).toEqual([]);
  });

  it('an order number alone reveals nothing: another key gets 404', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 1);
    const a = await agentWithKey(20_000);
    const b = await agentWithKey(0);
    const order = (await a.call('POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, 'order-key-mine1')).json().order;
    expect((await b.call('GET', `/open/v1/orders/${order.id}`)).statusCode).toBe(404);
    expect((await b.call('GET', `/open/v1/orders/${order.id}/codes`)).statusCode).toBe(404);
    expect((await a.call('GET', `/open/v1/orders/${order.id}`)).json().id).toBe(order.id);
    const adminView = await t.inject({ method: 'GET', url: `/admin/orders/${order.id}`, headers: bearer(owner) });
    expect(adminView.body).not.toMatch(/secret/);
  });
});

describe('refunds', () => {
  it('unrevealed codes go back to stock and the money back to the balance; revealed ones need after-sales and are voided', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 5_000, costFen: 4_000 });
    await stockCodes(t, sku, 4);
    const { agent } = await agentWithKey(20_000);
    const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: agent.id }, skuId: sku, quantity: 2, channel: 'admin', payment: 'balance' }, tx));
    expect(order.status).toBe('delivered');
    expect(await t.services.ledger.balance(accounts.agentBalance(agent.id).id)).toBe(10_000);
    const refunded = await t.inject({ method: 'POST', url: `/admin/orders/${order.id}/refund`, headers: bearer(finance), payload: { reason: 'customer changed mind' } });
    expect(refunded.statusCode).toBe(200);
    expect(refunded.json().order).toMatchObject({ status: 'refunded', refunded_fen: 10_000 });
    expect(await t.services.ledger.balance(accounts.agentBalance(agent.id).id)).toBe(20_000);
    expect(await stateCounts(sku)).toEqual({ available: 4 });

    const second = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: agent.id }, skuId: sku, quantity: 1, channel: 'admin', payment: 'balance' }, tx));
    await t.services.orders.revealCodes(second.id, { buyer: { type: 'agent', id: agent.id } });
    const refused = await t.inject({ method: 'POST', url: `/admin/orders/${second.id}/refund`, headers: bearer(finance), payload: { reason: 'says it does not work' } });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.details.code).toBe('CODES_REVEALED');
    const decided = await t.inject({ method: 'POST', url: `/admin/orders/${second.id}/refund`, headers: bearer(finance), payload: { reason: 'after-sales: code invalid at brand', after_sales: true } });
    expect(decided.json().order.status).toBe('refunded');
    expect(await stateCounts(sku)).toEqual({ available: 3, voided: 1 });
    expect(await t.services.ledger.balance(accounts.agentBalance(agent.id).id)).toBe(20_000);
    expect((await t.services.ledger.verify()).ok).toBe(true);
    expect((await t.inject({ method: 'POST', url: `/admin/orders/${second.id}/refund`, headers: bearer(finance), payload: { reason: 'again' } })).statusCode).toBe(409);
  });
});

describe('orders paid by a provider', () => {
  const external = (buyer: string, sku: string, quantity = 1) => t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: buyer }, skuId: sku, quantity, channel: 'miniprogram', payment: 'external', provider: 'sandbox' }, tx));
  const pay = (orderId: string, amountFen: number) => t.platform.db.transaction((tx) => t.services.orders.applyPayment(tx, orderId, { amountFen, provider: 'sandbox' }));

  it('stock is held until the deadline, then returns; a duplicate payment delivers once; a wrong amount is refused', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 3_000 });
    await stockCodes(t, sku, 3);
    const a = await external('cus_buyer1', sku, 2);
    expect(a.status).toBe('pending_payment');
    expect(await stateCounts(sku)).toEqual({ available: 1, reserved: 2 });
    await expect(pay(a.id, 2_999)).rejects.toMatchObject({ details: { code: 'AMOUNT_MISMATCH' } });
    const first = await pay(a.id, 6_000);
    expect(first).toMatchObject({ applied: true, order: { status: 'delivered' } });
    const dup = await Promise.all([pay(a.id, 6_000), pay(a.id, 6_000)]);
    expect(dup.map((d) => d.applied)).toEqual([false, false]);
    expect(await stateCounts(sku)).toEqual({ available: 1, delivered: 2 });

    const b = await external('cus_buyer2', sku, 1);
    clock.advance(11 * MINUTE);
    expect(await t.services.orders.cancelExpired()).toBeGreaterThanOrEqual(1);
    expect((await t.services.orders.get(b.id)).status).toBe('cancelled');
    expect(await stateCounts(sku)).toEqual({ available: 1, delivered: 2 });
    // Paid after all, late: stock is claimed again and delivered.
    expect((await pay(b.id, 3_000)).order.status).toBe('delivered');
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('a late payment when the stock is gone waits for stock', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 1_000 });
    await stockCodes(t, sku, 1);
    const a = await external('cus_buyer3', sku);
    clock.advance(11 * MINUTE);
    await t.services.orders.cancelExpired();
    await external('cus_buyer4', sku); // takes the only code
    expect((await pay(a.id, 1_000)).order.status).toBe('paid_awaiting_stock');
  });

  it('a buyer may hold only a few unpaid orders at once', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 10);
    for (let i = 0; i < 3; i++) await external('cus_hoarder', sku);
    await expect(external('cus_hoarder', sku)).rejects.toSatisfy((e: unknown) => e instanceof AppError && e.code === 'RATE_LIMITED');
    expect(await stateCounts(sku)).toEqual({ available: 7, reserved: 3 });
  });
});

describe('concurrency', () => {
  it('many agents buying at once: no code twice, no overdraft, the ledger balances', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 1_000, costFen: 600 });
    await stockCodes(t, sku, 30);
    const buyers = await Promise.all(Array.from({ length: 5 }, () => agentWithKey(8_000)));
    const attempts = await Promise.allSettled(buyers.flatMap((b, i) => Array.from({ length: 10 }, (_, j) => b.call('POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, `conc-${i}-${j}-key`))));
    const ok = attempts.filter((r) => r.status === 'fulfilled' && r.value.statusCode === 201).map((r) => (r as PromiseFulfilledResult<{ json: () => { codes: { code_id: string }[] } }>).value.json());
    const codeIds = ok.flatMap((o) => o.codes.map((c) => c.code_id));
    expect(new Set(codeIds).size).toBe(codeIds.length);
    expect(codeIds.length).toBe(30); // 5 agents x 8 affordable = 40 wanted, 30 codes
    for (const b of buyers) expect(await t.services.ledger.balance(accounts.agentBalance(b.agent.id).id)).toBeGreaterThanOrEqual(0);
    expect((await t.services.ledger.verify()).ok).toBe(true);
    expect(await t.services.ledger.globalSum()).toBe(0);
  });
});
