import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { stockCodes } from '../helpers/codes.js';
import { ManualClock } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import type { AgentView } from '../../src/modules/agents/service.js';

/**
 * The agent back office through the signed open API: a three-level tree, the
 * leaf sells on its prepaid balance over two China days, the accrual job
 * books commissions, and every figure the agent sees agrees with the orders
 * and the ledger.
 */
const DAY = 86_400_000;
// 11:00 in China on 2026-05-12.
const clock = new ManualClock('2026-05-12T03:00:00Z');
let t: TestApp;
let owner: string;
let finance: string;
// Whoever approves a withdrawal may not also record its payment: a second finance member pays.
let cashier: string;
let root: AgentView;
let mid: AgentView;
let leaf: AgentView;
let sku: string;
type Key = { id: string; secret: string };
let leafKey: Key;
let rootKey: Key;

const issueKey = async (ownerType: 'agent' | 'partner', ownerId: string): Promise<Key> => {
  const res = await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: ownerType, owner_id: ownerId, name: 'back office' } });
  expect(res.statusCode).toBe(201);
  return res.json() as Key;
};
const signed = (key: Key, method: 'GET' | 'POST', url: string, body?: object, idem?: string) => {
  const raw = body ? JSON.stringify(body) : '';
  return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
};
const balance = (account: { id: string }) => t.services.ledger.balance(account.id);

beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', WITHDRAWAL_MIN_FEN: '1000' } });
  owner = (await t.loginAs('owner')).token;
  finance = (await t.loginAs('finance')).token;
  cashier = (await t.loginAs('finance')).token;
  root = await t.services.agents.create({ name: 'Distributor', role: 'distributor' });
  mid = await t.services.agents.create({ name: 'Sub-agent', role: 'sub_agent', parentId: root.id });
  leaf = await t.services.agents.create({ name: 'Group leader', role: 'group_leader', parentId: mid.id });
  const credit = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'agent', buyer_id: leaf.id, amount_fen: 100_000, reference: 'bank transfer' } });
  expect(credit.statusCode).toBeLessThan(300);
  leafKey = await issueKey('agent', leaf.id);
  rootKey = await issueKey('agent', root.id);

  // Retail 100 yuan; level 3 (the leaf) pays 90.
  const product = await t.services.catalog.createProduct({
    name: 'Back office card',
    brand: 'Brand',
    category: 'gift',
    kind: 'code',
    skus: [{ name: '¥100', faceValueFen: 10_000, costFen: 8_000, retailPriceFen: 10_000, agentPrices: { '3': 9_000 }, lowStockThreshold: 0 }],
  });
  sku = product.skus[0]!.id;
  await stockCodes(t, sku, 10);
  const rule = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: '5/2/1', scope_type: 'product', scope_value: product.id, levels: [{ kind: 'percent_of_price', bps: 500 }, { kind: 'percent_of_price', bps: 200 }, { kind: 'percent_of_price', bps: 100 }] } });
  expect(rule.statusCode, rule.body).toBe(201);

  // Day 1 (05-12): two orders, 3 units. Day 2 (05-13): one order, 1 unit.
  const a = await signed(leafKey, 'POST', '/open/v1/orders', { sku_id: sku, quantity: 2, payment: 'balance' }, 'bo-order-a');
  const b = await signed(leafKey, 'POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, 'bo-order-b');
  expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
  expect(await t.services.commissions.accrueDelivered()).toBe(2);
  clock.advance(DAY);
  const c = await signed(leafKey, 'POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, 'bo-order-c');
  expect(c.statusCode).toBe(201);
  expect(await t.services.commissions.accrueDelivered()).toBe(1);
});
afterAll(() => t.close());

describe('agent back office', () => {
  it('summary: balances equal the ledger, sales equal the orders, team and upline', async () => {
    const res = await signed(leafKey, 'GET', '/open/v1/agent/summary');
    expect(res.statusCode).toBe(200);
    const s = res.json();
    expect(s.agent.id).toBe(leaf.id);
    expect(s.level).toBe(3);
    expect(s.upline).toEqual({ id: mid.id, name: 'Sub-agent' });
    expect(s.balances).toEqual({
      prepaid_fen: await balance(accounts.agentBalance(leaf.id)),
      commission_pending_fen: await balance(accounts.commissionPending(leaf.id)),
      commission_available_fen: await balance(accounts.commissionAvailable(leaf.id)),
      withdrawn_fen: 0,
      withdrawal_fees_fen: 0,
      clawback_due_fen: 0,
    });
    expect(s.balances.prepaid_fen).toBe(100_000 - 4 * 9_000);
    expect(s.balances.commission_pending_fen).toBeGreaterThan(0);
    expect(s.sales.today).toEqual({ orders: 1, units: 1, amount_fen: 9_000 });
    expect(s.sales.month).toEqual({ orders: 3, units: 4, amount_fen: 36_000 });
    expect(s.team_size).toBe(0);

    const top = (await signed(rootKey, 'GET', '/open/v1/agent/summary')).json();
    expect([top.level, top.upline, top.team_size]).toEqual([1, null, 2]);
    expect(top.balances.commission_pending_fen).toBe(await balance(accounts.commissionPending(root.id)));
  });

  it('sales per China day and month add up to the orders and the commissions', async () => {
    const days = await signed(leafKey, 'GET', '/open/v1/agent/sales?period=day&from=2026-05-11&to=2026-05-13');
    expect(days.statusCode).toBe(200);
    const d = days.json();
    expect(d.rows.map((r: { period: string; orders: number; units: number; amount_fen: number; refunded_fen: number }) => [r.period, r.orders, r.units, r.amount_fen, r.refunded_fen])).toEqual([
      ['2026-05-11', 0, 0, 0, 0],
      ['2026-05-12', 2, 3, 27_000, 0],
      ['2026-05-13', 1, 1, 9_000, 0],
    ]);
    const pending = await balance(accounts.commissionPending(leaf.id));
    expect(d.totals).toEqual({ orders: 3, units: 4, amount_fen: 36_000, refunded_fen: 0, net_fen: 36_000, commission_fen: pending });

    const months = (await signed(leafKey, 'GET', '/open/v1/agent/sales?period=month&from=2026-04-01&to=2026-05-31')).json();
    expect(months.rows.map((r: { period: string; orders: number; amount_fen: number; commission_fen: number }) => [r.period, r.orders, r.amount_fen, r.commission_fen])).toEqual([
      ['2026-04', 0, 0, 0],
      ['2026-05', 3, 36_000, pending],
    ]);
    // Without dates: the last 12 months.
    const byDefault = (await signed(leafKey, 'GET', '/open/v1/agent/sales?period=month')).json();
    expect(byDefault.rows).toHaveLength(12);
    expect(byDefault.rows.at(-1).period).toBe('2026-05');
  });

  it('refuses a bad date range naming the field', async () => {
    const tooLong = await signed(leafKey, 'GET', '/open/v1/agent/sales?period=day&from=2025-01-01&to=2026-05-13');
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().error.details[0].field).toBe('to');
    const reversed = await signed(leafKey, 'GET', '/open/v1/agent/sales?from=2026-05-13&to=2026-05-01');
    expect(reversed.statusCode).toBe(400);
    expect(reversed.json().error.details[0].field).toBe('from');
    const notADay = await signed(leafKey, 'GET', '/open/v1/agent/sales?from=2026-02-30&to=2026-03-01');
    expect(notADay.statusCode).toBe(400);
    expect(notADay.json().error.details[0].field).toBe('from');
  });

  it('team: the whole downline with relative depth and month sales, paginated', async () => {
    const all = await signed(rootKey, 'GET', '/open/v1/agent/team');
    expect(all.statusCode).toBe(200);
    const members = all.json().data as { id: string; depth: number; status: string; month_sales_fen: number }[];
    expect(members.map((m) => [m.id, m.depth, m.status]).sort()).toEqual([[mid.id, 1, 'active'], [leaf.id, 2, 'active']].sort());
    expect(members.find((m) => m.id === leaf.id)?.month_sales_fen).toBe(36_000);
    expect(members.find((m) => m.id === mid.id)?.month_sales_fen).toBe(0);

    const first = (await signed(rootKey, 'GET', '/open/v1/agent/team?limit=1')).json();
    expect(first.data).toHaveLength(1);
    expect(first.has_more).toBe(true);
    const second = (await signed(rootKey, 'GET', `/open/v1/agent/team?limit=1&cursor=${first.next_cursor}`)).json();
    expect(second.data).toHaveLength(1);
    expect(second.has_more).toBe(false);
    expect([first.data[0].id, second.data[0].id].sort()).toEqual([mid.id, leaf.id].sort());

    const leafTeam = (await signed(leafKey, 'GET', '/open/v1/agent/team')).json();
    expect(leafTeam.data).toEqual([]);
  });

  it('products: on-sale SKUs at the agent\'s price with stock', async () => {
    const res = await signed(leafKey, 'GET', '/open/v1/agent/products');
    expect(res.statusCode).toBe(200);
    const item = (res.json().data as { id: string; price_fen: number; retail_price_fen: number; available: number }[]).find((x) => x.id === sku);
    expect(item).toMatchObject({ price_fen: 9_000, retail_price_fen: 10_000, available: 6 });
    const forRoot = (await signed(rootKey, 'GET', '/open/v1/agent/products')).json().data.find((x: { id: string }) => x.id === sku);
    expect(forRoot.price_fen).toBe(10_000);
  });

  it('referral: the code, the join link and a PNG QR code', async () => {
    const res = await signed(leafKey, 'GET', '/open/v1/agent/referral');
    expect(res.statusCode).toBe(200);
    const r = res.json();
    expect(r.referral_code).toBe(leaf.referral_code);
    expect(r.link).toBe(`${t.config.publicUrl.replace(/\/+$/, '')}/join/${leaf.referral_code}`);
    expect(r.qr_png.startsWith('data:image/png;base64,')).toBe(true);
    const png = Buffer.from(r.qr_png.slice('data:image/png;base64,'.length), 'base64');
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  it('refuses a key that is not an agent\'s', async () => {
    const partner = await issueKey('partner', 'partner-back-office');
    const res = await signed(partner, 'GET', '/open/v1/agent/summary');
    expect(res.statusCode).toBe(403);
    expect(res.json().error.message).toMatch(/agent/);
  });

  it('staff onboard agents under a referral code; an unknown code is 404', async () => {
    const joined = await t.inject({ method: 'POST', url: '/admin/agents', headers: bearer(owner), payload: { name: 'New leader', role: 'group_leader', referral_code: mid.referral_code.toLowerCase() } });
    expect(joined.statusCode).toBe(201);
    expect(joined.json()).toMatchObject({ parent_id: mid.id, depth: 3, status: 'active' });
    expect((await t.services.agents.chainOf(joined.json().id)).map((a) => a.id)).toEqual([joined.json().id, mid.id, root.id]);

    const byParent = await t.inject({ method: 'POST', url: '/admin/agents', headers: bearer(owner), payload: { name: 'Direct', role: 'sub_agent', parent_id: root.id } });
    expect(byParent.json()).toMatchObject({ parent_id: root.id, depth: 2 });
    const topLevel = await t.inject({ method: 'POST', url: '/admin/agents', headers: bearer(owner), payload: { name: 'Top', role: 'distributor' } });
    expect(topLevel.json()).toMatchObject({ parent_id: null, depth: 1 });

    const unknown = await t.inject({ method: 'POST', url: '/admin/agents', headers: bearer(owner), payload: { name: 'Nobody', role: 'group_leader', referral_code: 'ZZZZZZZZ' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.details[0].field).toBe('referral_code');
    const both = await t.inject({ method: 'POST', url: '/admin/agents', headers: bearer(owner), payload: { name: 'Both', role: 'group_leader', referral_code: mid.referral_code, parent_id: root.id } });
    expect(both.statusCode).toBe(400);
    expect(both.json().error.details[0].field).toBe('parent_id');

    // The root now has 4 in its downline: mid, leaf, the new leader and the direct sub-agent.
    expect((await signed(rootKey, 'GET', '/open/v1/agent/summary')).json().team_size).toBe(4);
  });

  it('a frozen upline takes no new agents', async () => {
    const upline = await t.services.agents.create({ name: 'To freeze', role: 'distributor' });
    await t.services.agents.freeze(upline.id, 'test freeze', { id: 'stf_test' });
    await expect(t.services.agentBackOffice.joinByReferral({ referralCode: upline.referral_code, name: 'Late', role: 'sub_agent' })).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
    const res = await t.inject({ method: 'POST', url: '/admin/agents', headers: bearer(owner), payload: { name: 'Late', role: 'sub_agent', referral_code: upline.referral_code } });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.details[0].field).toBe('referral_code');
  });

  // Last: it moves the clock past the commission hold.
  it('withdrawn: the sum of paid withdrawals', async () => {
    clock.advance(8 * DAY);
    expect(await t.services.commissions.settleDue()).toBeGreaterThan(0);
    const w = await signed(leafKey, 'POST', '/open/v1/withdrawals', { amount_fen: 1_000, method: 'wechat_transfer', payout_account: 'o-leader-openid-1' }, 'bo-withdrawal-1');
    expect(w.statusCode, w.body).toBe(201);
    const id = w.json().id as string;
    expect((await signed(leafKey, 'GET', '/open/v1/agent/summary')).json().balances.withdrawn_fen).toBe(0);
    expect((await t.inject({ method: 'POST', url: `/admin/withdrawals/${id}/approve`, headers: bearer(finance) })).statusCode).toBe(200);
    expect((await t.inject({ method: 'POST', url: `/admin/withdrawals/${id}/pay`, headers: bearer(cashier), payload: { reference: 'WX-BO-0001' } })).statusCode).toBe(200);
    const b = (await signed(leafKey, 'GET', '/open/v1/agent/summary')).json().balances;
    expect(b.withdrawn_fen).toBe(1_000);
    expect(b.withdrawal_fees_fen).toBe(w.json().fee_fen);
    expect(b.commission_available_fen).toBe(await balance(accounts.commissionAvailable(leaf.id)));
  });
});
