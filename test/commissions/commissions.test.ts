import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import type { AgentView } from '../../src/modules/agents/service.js';

const DAY = 86_400_000;
const clock = new ManualClock('2026-03-10T04:00:00Z');
let t: TestApp;
let owner: string;
let finance: string;
let readonly: string;
beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200' } });
  owner = (await t.loginAs('owner')).token;
  finance = (await t.loginAs('finance')).token;
  readonly = (await t.loginAs('readonly')).token;
});
afterAll(() => t.close());

const pct = (bps: number) => ({ kind: 'percent_of_price', bps });

/** root <- mid <- leaf, the leaf with a prepaid balance. */
async function tree(balanceFen = 100_000) {
  const root = await t.services.agents.create({ name: 'Root', role: 'distributor' });
  const mid = await t.services.agents.create({ name: 'Mid', role: 'sub_agent', parentId: root.id });
  const leaf = await t.services.agents.create({ name: 'Leaf', role: 'group_leader', parentId: mid.id });
  if (balanceFen > 0) {
    const res = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'agent', buyer_id: leaf.id, amount_fen: balanceFen, reference: 'bank transfer' } });
    expect(res.statusCode).toBe(200);
  }
  return { root, mid, leaf, all: [leaf, mid, root] };
}

/** A SKU (price 100 yuan, cost 80) in stock, with a product-scoped 10% / 3% / 1% rule. */
async function skuWithRule() {
  const sku = await createCodeSku(t, { retailPriceFen: 10_000, costFen: 8_000 });
  await stockCodes(t, sku, 10);
  const productId = (await t.services.catalog.getSku(sku)).productId;
  const res = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: '10/3/1', scope_type: 'product', scope_value: productId, levels: [pct(1000), pct(300), pct(100)] } });
  expect(res.statusCode).toBe(201);
  return { sku, productId, rule: res.json() as { id: string; current_version: { id: string; version: number } } };
}

async function sell(buyer: AgentView, sku: string, quantity: number) {
  return t.platform.db.transaction(async (tx) => {
    const order = await t.services.orders.createOrder({ buyer: { type: 'agent', id: buyer.id }, skuId: sku, quantity, channel: 'admin', payment: 'balance' }, tx);
    expect(order.status).toBe('delivered');
    const rows = await t.services.commissions.accrue(tx, order);
    return { order, rows };
  });
}

async function refundAll(orderId: string, amountFen: number) {
  return t.platform.db.transaction(async (tx) => {
    const r = await t.services.orders.refundInTx(tx, orderId, { reason: 'test refund', afterSales: true }, { id: 'system', type: 'system' });
    expect(r.order.amount_fen).toBe(amountFen);
    // The refund reverses the commissions it caused itself.
    return r.commissions;
  });
}

const pending = (a: AgentView) => t.services.ledger.balance(accounts.commissionPending(a.id).id);
const available = (a: AgentView) => t.services.ledger.balance(accounts.commissionAvailable(a.id).id);
const balancesOf = async (agents: AgentView[]) => ({ pending: await Promise.all(agents.map(pending)), available: await Promise.all(agents.map(available)) });

describe('commissions through the ledger', () => {
  it('accrue on delivery, settle after the hold, reverse on a full refund', async () => {
    const { all } = await tree();
    const { sku, rule } = await skuWithRule();
    const { order, rows } = await sell(all[0]!, sku, 2);
    expect(rows.map((r) => [r.agent_id, r.level, r.amount_fen, r.status])).toEqual([
      [all[0]!.id, 1, 2_000, 'pending'],
      [all[1]!.id, 2, 600, 'pending'],
      [all[2]!.id, 3, 200, 'pending'],
    ]);
    for (const r of rows) expect(r.rule_version_id).toBe(rule.current_version.id);
    expect(new Date(rows[0]!.available_at).getTime() - clock.now().getTime()).toBe(7 * DAY);
    expect(await balancesOf(all)).toEqual({ pending: [2_000, 600, 200], available: [0, 0, 0] });

    // Accruing the same order again writes nothing.
    const again = await t.platform.db.transaction((tx) => t.services.commissions.accrue(tx, order));
    expect(again.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    expect(await balancesOf(all)).toEqual({ pending: [2_000, 600, 200], available: [0, 0, 0] });

    // Not before the hold ends; then once.
    expect(await t.services.commissions.settleDue()).toBe(0);
    clock.advance(8 * DAY);
    expect(await t.services.commissions.settleDue()).toBe(3);
    expect(await t.services.commissions.settleDue()).toBe(0);
    expect(await balancesOf(all)).toEqual({ pending: [0, 0, 0], available: [2_000, 600, 200] });

    const reversed = await refundAll(order.id, order.amountFen);
    expect(reversed).toEqual({ reversedFen: 2_800, clawbackDueFen: 0 });
    expect(await balancesOf(all)).toEqual({ pending: [0, 0, 0], available: [0, 0, 0] });
    const listed = await t.inject({ method: 'GET', url: `/admin/commissions?order_id=${order.id}`, headers: bearer(finance) });
    expect(listed.json().data.map((r: { status: string; reversed_fen: number }) => [r.status, r.reversed_fen]).sort()).toEqual([['reversed', 200], ['reversed', 2_000], ['reversed', 600]]);
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('partial refunds reverse in proportion from pending; what was already withdrawn becomes clawback due', async () => {
    const { all } = await tree();
    const { sku } = await skuWithRule();
    const { order } = await sell(all[0]!, sku, 2);
    // One of two units refunded while pending: half of each commission comes back.
    await t.platform.db.transaction(async (tx) => {
      const r = await t.services.orders.refundInTx(tx, order.id, { reason: 'one unit', quantity: 1 }, { id: 'system', type: 'system' });
      expect(r.commissions).toEqual({ reversedFen: 1_400, clawbackDueFen: 0 });
    });
    expect(await balancesOf(all)).toEqual({ pending: [1_000, 300, 100], available: [0, 0, 0] });
    clock.advance(8 * DAY);
    await t.services.commissions.settleDue();
    expect(await balancesOf(all)).toEqual({ pending: [0, 0, 0], available: [1_000, 300, 100] });
    // The leaf moves 700 of its 1000 out (as a withdrawal would).
    await t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'test_withdrawal', postings: [{ account: accounts.commissionAvailable(all[0]!.id), amountFen: -700 }, { account: accounts.cash, amountFen: 700 }] }));
    const rest = await refundAll(order.id, order.amountFen);
    expect(rest).toEqual({ reversedFen: 300 + 300 + 100, clawbackDueFen: 700 });
    expect(await balancesOf(all)).toEqual({ pending: [0, 0, 0], available: [0, 0, 0] });
    const leafRow = (await t.services.commissions.listCommissions({ limit: 10, orderId: order.id, agentId: all[0]!.id })).data[0]!;
    expect(leafRow).toMatchObject({ status: 'reversed', reversed_fen: 1_300, clawback_due_fen: 700 });
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('with totalRefundedFen a repeated reversal reverses nothing more', async () => {
    const { all } = await tree();
    const { sku } = await skuWithRule();
    const { order } = await sell(all[0]!, sku, 2);
    const half = await t.platform.db.transaction(async (tx) => {
      const r = await t.services.orders.refundInTx(tx, order.id, { reason: 'one unit', quantity: 1 }, { id: 'system', type: 'system' });
      // What the refund already reversed; asked again with the same total, nothing more.
      expect(await t.services.commissions.reverse(tx, order.id, { refundedFen: r.amountFen, amountFen: order.amountFen, totalRefundedFen: r.order.refunded_fen })).toEqual({ reversedFen: 0, clawbackDueFen: 0 });
      return r.commissions;
    });
    expect(half).toEqual({ reversedFen: 1_400, clawbackDueFen: 0 });
    const replay = await t.platform.db.transaction((tx) => t.services.commissions.reverse(tx, order.id, { refundedFen: 10_000, amountFen: order.amountFen, totalRefundedFen: 10_000 }));
    expect(replay).toEqual({ reversedFen: 0, clawbackDueFen: 0 });
    expect(await balancesOf(all)).toEqual({ pending: [1_000, 300, 100], available: [0, 0, 0] });
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('a frozen agent earns nothing and the levels above keep their own rate', async () => {
    const { all, mid } = await tree();
    const { sku } = await skuWithRule();
    await t.services.agents.freeze(mid.id, 'test', { id: 'system' });
    const { rows } = await sell(all[0]!, sku, 1);
    expect(rows.map((r) => [r.level, r.amount_fen])).toEqual([[1, 1_000], [3, 100]]);
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('a new version applies to new orders; earlier commissions keep the version they were computed with', async () => {
    const { all } = await tree();
    const { sku, rule } = await skuWithRule();
    const first = await sell(all[0]!, sku, 1);
    const res = await t.inject({ method: 'POST', url: `/admin/commission-rules/${rule.id}/versions`, headers: bearer(owner), payload: { levels: [pct(500), pct(200)] } });
    expect(res.statusCode).toBe(201);
    const v2 = res.json().current_version;
    expect(v2.version).toBe(2);
    const second = await sell(all[0]!, sku, 1);
    expect(second.rows.map((r) => [r.level, r.amount_fen, r.rule_version_id])).toEqual([[1, 500, v2.id], [2, 200, v2.id]]);
    expect(first.rows.every((r) => r.rule_version_id === rule.current_version.id)).toBe(true);
    const versions = await t.inject({ method: 'GET', url: `/admin/commission-rules/${rule.id}/versions`, headers: bearer(readonly) });
    expect(versions.json().data.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    // Versions are append-only in the database too.
    await expect(t.platform.database.executeSql(`update commission_rule_versions set max_levels = 5 where id = $1`, [rule.current_version.id])).rejects.toThrow(/append-only/);
  });
});

describe('tiers and settlement', () => {
  it("a tiered level pays by the agent's sales this calendar month, before this order", async () => {
    const { all } = await tree(200_000);
    const sku = await createCodeSku(t, { retailPriceFen: 10_000, costFen: 5_000 });
    await stockCodes(t, sku, 10);
    const productId = (await t.services.catalog.getSku(sku)).productId;
    const tiers = [{ min_volume_fen: 0, bps: 100 }, { min_volume_fen: 20_000, bps: 1_000 }];
    const res = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: 'ladder', scope_type: 'product', scope_value: productId, levels: [{ kind: 'tiered', tiers }] } });
    expect(res.statusCode).toBe(201);
    expect(res.json().current_version.levels).toEqual([{ kind: 'tiered', tiers }]);
    const first = await sell(all[0]!, sku, 2); // volume before it: 0 -> 1%
    expect(first.rows.map((r) => r.amount_fen)).toEqual([200]);
    const second = await sell(all[0]!, sku, 1); // 20 000 sold this month -> 10%
    expect(second.rows.map((r) => r.amount_fen)).toEqual([1_000]);
    // A new month starts from nothing (months are China time: 1 April 00:00 is 31 March 16:00 UTC).
    clock.set(new Date(Date.UTC(clock.now().getUTCFullYear(), clock.now().getUTCMonth() + 1, 1, 0, 0)));
    const third = await sell(all[0]!, sku, 1);
    expect(third.rows.map((r) => r.amount_fen)).toEqual([100]);
  });

  it('concurrent settlement runs settle each commission once', async () => {
    const { all } = await tree();
    const { sku } = await skuWithRule();
    for (let i = 0; i < 3; i++) await sell(all[0]!, sku, 1);
    clock.advance(8 * DAY);
    const before = await available(all[0]!);
    const runs = await Promise.all([t.services.commissions.settleDue(2), t.services.commissions.settleDue(2), t.services.commissions.settleDue(2), t.services.commissions.settleDue(2)]);
    while ((await t.services.commissions.settleDue()) > 0);
    expect(runs.reduce((a, n) => a + n, 0)).toBeLessThanOrEqual(9);
    expect(await available(all[0]!)).toBe(before + 3 * 1_000);
    expect(await balancesOf(all)).toMatchObject({ pending: [0, 0, 0] });
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });
});

describe('commission rules over HTTP', () => {
  it('the profit guard refuses a rule that could pay more than the margin, naming the level', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 10_000, costFen: 8_000 });
    const productId = (await t.services.catalog.getSku(sku)).productId;
    const tooMuch = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: 'greedy', scope_type: 'product', scope_value: productId, levels: [pct(1000), pct(800), pct(300)] } });
    expect(tooMuch.statusCode).toBe(422);
    expect(tooMuch.json().error.details[0].field).toBe('levels.2');
    // Tiered: the top tier counts, however unlikely.
    const tiered = await t.inject({
      method: 'POST',
      url: '/admin/commission-rules',
      headers: bearer(owner),
      payload: { name: 'tiers', scope_type: 'product', scope_value: productId, levels: [{ kind: 'tiered', tiers: [{ min_volume_fen: 0, bps: 500 }, { min_volume_fen: 100_000_000, bps: 2_500 }] }] },
    });
    expect(tiered.statusCode).toBe(422);
    expect(tiered.json().error.details[0].field).toBe('levels.0');
    // More levels than max_levels; a shape error is a 400.
    const deep = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: 'deep', scope_type: 'product', scope_value: productId, levels: [pct(1), pct(1), pct(1), pct(1)] } });
    expect(deep.statusCode).toBe(400);
    const deeper = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: 'deep', scope_type: 'product', scope_value: productId, max_levels: 4, levels: [pct(1), pct(1), pct(1), pct(1)] } });
    expect(deeper.statusCode).toBe(201);
    // Unknown fields are refused; read-only staff cannot write.
    const extra = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: 'x', scope_type: 'all', levels: [pct(1)], surprise: true } });
    expect(extra.statusCode).toBe(400);
    const ro = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(readonly), payload: { name: 'x', scope_type: 'product', scope_value: productId, levels: [pct(1)] } });
    expect(ro.statusCode).toBe(403);
    const list = await t.inject({ method: 'GET', url: '/admin/commission-rules?limit=1', headers: bearer(readonly) });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toMatchObject({ data: [{ name: 'deep', scope_type: 'product' }], has_more: true });
  });

  it('preview: what each level would earn, nothing written', async () => {
    const { leaf, mid, root } = await tree(0);
    const { sku } = await skuWithRule();
    const res = await t.inject({ method: 'POST', url: '/admin/commissions/preview', headers: bearer(finance), payload: { sku_id: sku, quantity: 3, agent_id: leaf.id } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ unit_price_fen: 10_000, unit_cost_fen: 8_000, margin_fen: 6_000, capped: false, total_fen: 4_200 });
    expect(res.json().levels).toEqual([
      { level: 1, agent_id: leaf.id, amount_fen: 3_000, skipped: null },
      { level: 2, agent_id: mid.id, amount_fen: 900, skipped: null },
      { level: 3, agent_id: root.id, amount_fen: 300, skipped: null },
    ]);
    // Sold cheaper than the rule was checked at: capped at the margin.
    const thin = await t.inject({ method: 'POST', url: '/admin/commissions/preview', headers: bearer(finance), payload: { sku_id: sku, quantity: 1, agent_id: leaf.id, unit_price_fen: 8_100 } });
    expect(thin.json()).toMatchObject({ capped: true, margin_fen: 100 });
    expect(thin.json().total_fen).toBeLessThanOrEqual(100);
    expect((await t.services.commissions.listCommissions({ limit: 10, agentId: leaf.id })).data).toEqual([]);
    const doc = await t.inject({ method: 'GET', url: '/docs/json' });
    expect(Object.keys(doc.json().paths)).toEqual(expect.arrayContaining(['/admin/commission-rules', '/admin/commission-rules/{id}/versions', '/admin/commissions/preview', '/admin/commissions']));
  });
});
