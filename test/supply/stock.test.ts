import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock, MINUTE, DAY } from '../../src/lib/clock.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let owner: string;
beforeAll(async () => {
  // The clock moves by days here; keep the staff session alive across that.
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200' } });
  owner = (await t.loginAs('owner')).token;
});
afterAll(() => t.close());

const countStates = async (skuId: string) =>
  Object.fromEntries((await t.platform.database.executeSql<{ state: string; n: number }>('select state, count(*)::int as n from codes where sku_id = $1 group by state', [skuId])).rows.map((r) => [r.state, Number(r.n)]));

describe('reservations and the code life cycle', () => {
  it('reserve -> sell -> deliver -> reveal -> redeem, each step recorded; impossible steps refused', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 3);
    const [id] = await t.services.vault.reserve({ skuId: sku, quantity: 1, holder: 'ord_A', until: new Date(clock.now().getTime() + 10 * MINUTE) });
    const ctx = { actorType: 'order' as const, actorId: 'ord_A', ref: 'ord_A' };
    await expect(t.services.vault.transition([id!], 'deliver', ctx)).rejects.toMatchObject({ code: 'CONFLICT', details: { refused: [{ id, state: 'reserved' }] } });
    await t.services.vault.transition([id!], 'sell', ctx);
    await t.services.vault.transition([id!], 'deliver', ctx);
    await t.services.vault.transition([id!], 'reveal', ctx);
    await t.services.vault.transition([id!], 'redeem', ctx);
    await expect(t.services.vault.transition([id!], 'restock', ctx)).rejects.toMatchObject({ code: 'CONFLICT' });
    const detail = (await t.inject({ method: 'GET', url: `/admin/vault/codes/${id}`, headers: bearer(owner) })).json();
    expect(detail.state).toBe('redeemed');
    expect(detail.order_id).toBe('ord_A');
    expect(detail.events.map((e: { from: string; to: string }) => `${e.from}>${e.to}`)).toEqual(['available>reserved', 'reserved>sold', 'sold>delivered', 'delivered>revealed', 'revealed>redeemed']);
  });

  it('a transition over several codes is all or nothing', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 2);
    const ids = await t.services.vault.reserve({ skuId: sku, quantity: 2, holder: 'ord_B', until: new Date(clock.now().getTime() + MINUTE) });
    await t.services.vault.transition([ids[0]!], 'sell', { actorType: 'order', ref: 'ord_B' });
    await expect(t.services.vault.transition(ids, 'sell', { actorType: 'order', ref: 'ord_B' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await countStates(sku)).toEqual({ sold: 1, reserved: 1 });
  });

  it('asking for more than there is reserves nothing and says how many there are', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 3);
    await expect(t.services.vault.reserve({ skuId: sku, quantity: 4, holder: 'ord_C', until: new Date(clock.now().getTime() + MINUTE) })).rejects.toMatchObject({ code: 'OUT_OF_STOCK', details: { available: 3, requested: 4 } });
    expect(await countStates(sku)).toEqual({ available: 3 });
  });

  it('reservations past their deadline return to stock by the job', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 2);
    await t.services.vault.reserve({ skuId: sku, quantity: 2, holder: 'ord_D', until: new Date(clock.now().getTime() + 10 * MINUTE) });
    clock.advance(9 * MINUTE);
    expect((await t.services.vault.releaseExpiredReservations()).filter((r) => r.holder === 'ord_D')).toHaveLength(0);
    clock.advance(2 * MINUTE);
    expect((await t.services.vault.releaseExpiredReservations()).filter((r) => r.holder === 'ord_D')).toHaveLength(2);
    expect(await countStates(sku)).toEqual({ available: 2 });
  });

  it('the earliest-expiring code goes first; expired codes leave sale and are never reserved', async () => {
    const sku = await createCodeSku(t);
    const now = clock.now().getTime();
    const [late] = await stockCodes(t, sku, 1, { expiresAt: new Date(now + 30 * DAY) });
    const [soon] = await stockCodes(t, sku, 1, { expiresAt: new Date(now + 2 * DAY) });
    const [first] = await t.services.vault.reserve({ skuId: sku, quantity: 1, holder: 'ord_E', until: new Date(now + MINUTE) });
    expect((await t.services.vault.open(first!)).secret).toBe(soon);
    await t.services.vault.transition([first!], 'release', { actorType: 'system' });
    clock.advance(3 * DAY);
    // Past expiry but not yet swept: still never handed out.
    const [next] = await t.services.vault.reserve({ skuId: sku, quantity: 1, holder: 'ord_F', until: new Date(clock.now().getTime() + MINUTE) });
    expect((await t.services.vault.open(next!)).secret).toBe(late);
    await t.services.vault.transition([next!], 'release', { actorType: 'system' });
    expect(await t.services.vault.expireCodes()).toBeGreaterThanOrEqual(1);
    expect(await countStates(sku)).toEqual({ available: 1, expired: 1 });
  });

  it('expiring codes raise an alert that clears when they are gone', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 2, { expiresAt: new Date(clock.now().getTime() + 3 * DAY) });
    await t.services.inventory.checkExpiring(7);
    const alert = await t.services.alerts.openAlert('codes_expiring', sku);
    expect(alert?.message).toContain('2 unsold codes expire within 7 days');
    clock.advance(4 * DAY);
    await t.services.vault.expireCodes();
    await t.services.inventory.checkExpiring(7);
    expect(await t.services.alerts.openAlert('codes_expiring', sku)).toBeNull();
  });
});

describe('allocations of the global pool', () => {
  it('a sale draws from its allocation first, then the free pool; the free pool never takes allocated codes', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 10);
    const res = await t.inject({ method: 'POST', url: '/admin/stock/allocations', headers: bearer(owner), payload: { sku_id: sku, holder_type: 'agent', holder_id: 'agt_1', quantity: 4, low_stock_threshold: 2 } });
    expect(res.statusCode).toBe(201);
    const alloc = res.json();
    expect(alloc.available).toBe(4);
    const figures = async () => (await t.inject({ method: 'GET', url: `/admin/stock?sku_id=${sku}`, headers: bearer(owner) })).json().data[0];
    expect(await figures()).toMatchObject({ available: 10, available_free: 6, available_allocated: 4 });

    // Other buyers can take only the 6 free codes.
    await expect(t.services.vault.reserve({ skuId: sku, quantity: 7, holder: 'ord_X', until: new Date(clock.now().getTime() + MINUTE) })).rejects.toMatchObject({ code: 'OUT_OF_STOCK' });
    const agentAllocation = await t.services.inventory.allocationFor(sku, 'agent', 'agt_1');
    expect(agentAllocation).toBe(alloc.id);
    // The agent takes its 4, then 2 more from the free pool.
    const ids = await t.services.vault.reserve({ skuId: sku, quantity: 6, holder: 'ord_Y', until: new Date(clock.now().getTime() + MINUTE), allocationId: agentAllocation! });
    const rows = (await t.platform.database.executeSql<{ allocation_id: string | null }>('select allocation_id from codes where id = any($1::text[])', [ids])).rows;
    expect(rows.filter((r) => r.allocation_id === alloc.id)).toHaveLength(4);
    expect(await figures()).toMatchObject({ available: 4, available_free: 4, available_allocated: 0, reserved: 6 });

    await t.services.inventory.checkLowStock();
    expect((await t.services.alerts.openAlert('low_stock', alloc.id))?.severity).toBe('critical');
    expect((await t.inject({ method: 'POST', url: `/admin/stock/allocations/${alloc.id}/adjust`, headers: bearer(owner), payload: { delta: 3 } })).json().available).toBe(3);
    await t.services.inventory.checkLowStock();
    expect(await t.services.alerts.openAlert('low_stock', alloc.id)).toBeNull();

    const released = await t.inject({ method: 'DELETE', url: `/admin/stock/allocations/${alloc.id}`, headers: bearer(owner) });
    expect(released.json()).toEqual({ id: alloc.id, returned: 3 });
    expect(await figures()).toMatchObject({ available: 4, available_free: 4, available_allocated: 0 });
  });

  it('allocating more than the free pool holds is refused and changes nothing', async () => {
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 3);
    const res = await t.inject({ method: 'POST', url: '/admin/stock/allocations', headers: bearer(owner), payload: { sku_id: sku, holder_type: 'channel', holder_id: 'wechat', quantity: 5 } });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('OUT_OF_STOCK');
    expect((await t.inject({ method: 'GET', url: `/admin/stock/allocations?sku_id=${sku}`, headers: bearer(owner) })).json().data).toEqual([]);
    const f = (await t.inject({ method: 'GET', url: `/admin/stock?sku_id=${sku}`, headers: bearer(owner) })).json().data[0];
    expect(f).toMatchObject({ available_free: 3, available_allocated: 0 });
  });

  it('low-stock alerts per SKU open under the threshold and clear on restock', async () => {
    const sku = await createCodeSku(t, { lowStockThreshold: 5 });
    await stockCodes(t, sku, 3);
    await t.services.inventory.checkLowStock();
    expect((await t.services.alerts.openAlert('low_stock', sku))?.message).toContain('3 codes left');
    await stockCodes(t, sku, 5);
    await t.services.inventory.checkLowStock();
    expect(await t.services.alerts.openAlert('low_stock', sku)).toBeNull();
    const list = (await t.inject({ method: 'GET', url: '/admin/alerts?kind=low_stock', headers: bearer(owner) })).json();
    expect(list.data.some((a: { subject_id: string; cleared_at: string | null }) => a.subject_id === sku && a.cleared_at)).toBe(true);
  });
});

describe('reusable (shared-account) codes', () => {
  it('a shared code sells up to its limit, to different orders, then leaves sale', async () => {
    const sku = await createCodeSku(t, { reusable: true, maxSalesPerCode: 3 });
    await stockCodes(t, sku, 1);
    const until = new Date(clock.now().getTime() + MINUTE);
    const sales = [];
    for (let i = 0; i < 3; i++) sales.push(...(await t.services.vault.reserve({ skuId: sku, quantity: 1, holder: `ord_S${i}`, until })));
    expect(new Set(sales).size).toBe(1);
    await expect(t.services.vault.reserve({ skuId: sku, quantity: 1, holder: 'ord_S3', until })).rejects.toMatchObject({ code: 'OUT_OF_STOCK' });
    expect(await countStates(sku)).toEqual({ sold: 1 });
    await t.services.vault.releaseShared([sales[0]!], { actorType: 'order', ref: 'ord_S0 cancelled' });
    expect(await countStates(sku)).toEqual({ available: 1 });
    expect(await t.services.vault.reserve({ skuId: sku, quantity: 1, holder: 'ord_S4', until })).toEqual([sales[0]]);
  });

  it('only a reusable SKU may sell a code more than once', async () => {
    const sku = await createCodeSku(t);
    const res = await t.inject({ method: 'PATCH', url: `/admin/skus/${sku}`, headers: bearer(owner), payload: { max_sales_per_code: 5 } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0].field).toBe('maxSalesPerCode');
    const ok = await t.inject({ method: 'PATCH', url: `/admin/skus/${sku}`, headers: bearer(owner), payload: { reusable: true, max_sales_per_code: 5, agent_prices: { '1': 9000, '2': 9300 }, regions: ['CN', 'HK'] } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ reusable: true, max_sales_per_code: 5, agent_prices: { '1': 9000, '2': 9300 }, regions: ['CN', 'HK'] });
    const row = await t.services.catalog.getSku(sku);
    expect(t.services.catalog.priceFor(row, 1)).toBe(9000);
    expect(t.services.catalog.priceFor(row, 3)).toBe(9600);
    expect(t.services.catalog.priceFor(row)).toBe(9600);
  });
});
