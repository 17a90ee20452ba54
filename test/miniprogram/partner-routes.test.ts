import { describe, expect, it } from 'vitest';
import { bearer, type TestApp } from '../helpers/boot.js';
import type { FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { bootMpAppForFile, mpLogin, uniq, type MpSession } from '../helpers/mp-app.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { createChatLinks } from '../../bots/core/links.js';
import { soldOutOrder as soldOut } from '../helpers/sold-out.js';

/**
 * The mini-program's partner-facing routes on the real app: the sold-out choice, subscribe consents, group buying,
 * the customer's referral code and the agent centre (each customer sees only its own order, seat and agent).
 */
const TEMPLATE = 'tmpl-expiry-partner';
const clock = new ManualClock(new Date());
let t: TestApp;
let wx: FakeWechatMp;
let ops: string;
let owner: string;
let finance: string;
bootMpAppForFile(
  async (app) => {
    ({ t, wx } = app);
    ops = (await t.loginAs('operations')).token;
    owner = (await t.loginAs('owner')).token;
    finance = (await t.loginAs('finance')).token;
  },
  { clock, env: { WECHAT_MP_REMINDER_TEMPLATE_ID: TEMPLATE, SESSION_TTL_MINUTES: '43200' } },
);

type Session = MpSession;
const login = () => mpLogin({ t, wx });
const mp = (s: Session, method: 'GET' | 'POST', url: string, payload?: object, idem?: string) => t.inject({ method, url, payload, headers: { ...bearer(s.token), ...(idem ? { 'idempotency-key': idem } : {}) } });
async function fund(customerId: string, amountFen: number) {
  const res = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'customer', buyer_id: customerId, amount_fen: amountFen, reference: `topup-${uniq()}` } });
  expect(res.statusCode, res.body).toBe(200);
}
const balanceOf = (customerId: string) => t.services.ledger.balance(accounts.customerBalance(customerId).id);

const soldOutOrder = (s: Session, priceFen: number) => soldOut(t, clock, s.customerId, priceFen);

describe('sold-out choice (POST /mp/v1/orders/:id/choice)', () => {
  it('wait keeps the order waiting; refund puts the money on my balance once (a retry answers the same); nobody else sees it', async () => {
    const alice = await login();
    const bob = await login();
    const waiting = await soldOutOrder(alice, 3_000);
    const refunding = await soldOutOrder(alice, 4_000);

    expect((await mp(bob, 'POST', `/mp/v1/orders/${waiting.orderId}/choice`, { choice: 'wait' }, `choice-${uniq()}`)).statusCode).toBe(404);
    expect((await mp(bob, 'POST', `/mp/v1/orders/${refunding.orderId}/choice`, { choice: 'refund' }, `choice-${uniq()}`)).statusCode).toBe(404);
    expect((await mp(alice, 'POST', `/mp/v1/orders/${waiting.orderId}/choice`, { choice: 'wait' })).statusCode).toBe(400);

    const wait = await mp(alice, 'POST', `/mp/v1/orders/${waiting.orderId}/choice`, { choice: 'wait' }, `choice-${uniq()}`);
    expect(wait.statusCode, wait.body).toBe(200);
    expect(wait.json()).toMatchObject({ id: waiting.orderId, status: 'paid_awaiting_stock' });
    expect((await t.services.orders.getRow(waiting.orderId))!.awaitingChoice).toBe('wait');

    const before = await balanceOf(alice.customerId);
    const key = `choice-${uniq()}`;
    const refund = await mp(alice, 'POST', `/mp/v1/orders/${refunding.orderId}/choice`, { choice: 'refund' }, key);
    expect(refund.statusCode, refund.body).toBe(200);
    expect(refund.json()).toMatchObject({ id: refunding.orderId, status: 'refunded', refunded_fen: 4_000 });
    expect(await balanceOf(alice.customerId)).toBe(before + 4_000);
    // The same key again: the same answer, no second refund.
    const retry = await mp(alice, 'POST', `/mp/v1/orders/${refunding.orderId}/choice`, { choice: 'refund' }, key);
    expect(retry.statusCode, retry.body).toBe(200);
    expect(retry.json()).toMatchObject({ id: refunding.orderId, status: 'refunded', refunded_fen: 4_000 });
    expect(await balanceOf(alice.customerId)).toBe(before + 4_000);
    // A new request on the refunded order: it is not waiting any more.
    expect((await mp(alice, 'POST', `/mp/v1/orders/${refunding.orderId}/choice`, { choice: 'refund' }, `choice-${uniq()}`)).statusCode).toBe(409);
    expect((await mp(alice, 'POST', `/mp/v1/orders/${refunding.orderId}/choice`, { choice: 'wait' }, `choice-${uniq()}`)).statusCode).toBe(409);
    // The key with another body is refused.
    expect((await mp(alice, 'POST', `/mp/v1/orders/${refunding.orderId}/choice`, { choice: 'wait' }, key)).json().error.code).toBe('IDEMPOTENCY_CONFLICT');
  });
});

describe('subscribe consents (/mp/v1/subscriptions)', () => {
  it('lists the templates, records accepted ones (idempotent, unknown refused) and counts them unused', async () => {
    const s = await login();
    const templates = await mp(s, 'GET', '/mp/v1/subscriptions/templates');
    expect(templates.json()).toEqual({ templates: [{ template_id: TEMPLATE, purpose: 'expiry_reminder' }], unused: { [TEMPLATE]: 0 } });
    const bad = await mp(s, 'POST', '/mp/v1/subscriptions', { template_ids: ['not-ours'] }, `sub-${uniq()}`);
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.details[0].field).toBe('template_ids');
    expect((await mp(s, 'POST', '/mp/v1/subscriptions', { template_ids: [TEMPLATE] })).statusCode).toBe(400);
    const key = `sub-${uniq()}`;
    const first = await mp(s, 'POST', '/mp/v1/subscriptions', { template_ids: [TEMPLATE] }, key);
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toEqual({ unused: { [TEMPLATE]: 1 } });
    // A retried request does not count a second acceptance.
    expect((await mp(s, 'POST', '/mp/v1/subscriptions', { template_ids: [TEMPLATE] }, key)).json()).toEqual({ unused: { [TEMPLATE]: 1 } });
    expect((await mp(s, 'POST', '/mp/v1/subscriptions', { template_ids: [TEMPLATE] }, `sub-${uniq()}`)).json()).toEqual({ unused: { [TEMPLATE]: 2 } });
    // Another customer's count is its own.
    expect((await mp(await login(), 'GET', '/mp/v1/subscriptions/templates')).json().unused).toEqual({ [TEMPLATE]: 0 });
  });
});

describe('group buying (/mp/v1/group-buys)', () => {
  it('lists a SKU\'s campaigns and open groups, opens a group, a friend joins and fills it; a third is refused', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_000 });
    await stockCodes(t, sku, 3);
    const created = await t.inject({ method: 'POST', url: '/admin/marketing/group-buys', headers: { ...bearer(ops), 'idempotency-key': `gbc-${uniq()}` }, payload: { name: 'Pair up', sku_id: sku, group_price_fen: 6_000, group_size: 2, duration_minutes: 60, ends_at: new Date(clock.now().getTime() + 24 * 60 * MINUTE).toISOString() } });
    expect(created.statusCode, created.body).toBe(201);
    const campaignId = created.json().id as string;
    const [leader, friend, late] = [await login(), await login(), await login()];
    for (const s of [leader, friend, late]) await fund(s.customerId, 10_000);

    const listed = await mp(leader, 'GET', `/mp/v1/group-buys?sku_id=${sku}`);
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json().data).toEqual([{ id: campaignId, name: 'Pair up', sku_id: sku, group_price_fen: 6_000, group_size: 2, duration_minutes: 60, ends_at: expect.any(String), per_customer_limit: 1 }]);
    expect((await mp(leader, 'GET', `/mp/v1/group-buys?sku_id=${await createCodeSku(t)}`)).json().data).toEqual([]);

    const key = `open-${uniq()}`;
    const opened = await mp(leader, 'POST', `/mp/v1/group-buys/${campaignId}/groups`, { payment: 'balance' }, key);
    expect(opened.statusCode, opened.body).toBe(201);
    const groupId = opened.json().group.id as string;
    expect(opened.json()).toMatchObject({ group: { status: 'open', seats_taken: 1, seats_left: 1 }, order: { buyer_id: leader.customerId, status: 'awaiting_group', amount_fen: 6_000, channel: 'miniprogram' } });
    expect((await mp(leader, 'POST', `/mp/v1/group-buys/${campaignId}/groups`, { payment: 'balance' }, key)).json().group.id).toBe(groupId);
    expect(await balanceOf(leader.customerId)).toBe(4_000);

    const open = await mp(friend, 'GET', `/mp/v1/group-buys/${campaignId}/groups`);
    expect(open.json().data.map((g: { id: string }) => g.id)).toEqual([groupId]);
    expect(open.body).not.toContain(leader.customerId);

    const joined = await mp(friend, 'POST', `/mp/v1/group-buys/groups/${groupId}/join`, { payment: 'balance' }, `join-${uniq()}`);
    expect(joined.statusCode, joined.body).toBe(201);
    expect(joined.json().group).toMatchObject({ status: 'completed', seats_left: 0 });
    expect(joined.json().order).toMatchObject({ buyer_id: friend.customerId, status: 'delivered' });
    expect((await t.services.orders.get(opened.json().order.id)).status).toBe('delivered');
    expect((await mp(friend, 'GET', `/mp/v1/group-buys/groups/${groupId}`)).json()).toMatchObject({ status: 'completed', members: [{ is_leader: true, paid: true }, { is_leader: false, paid: true }] });
    expect((await mp(friend, 'GET', `/mp/v1/group-buys/${campaignId}/groups`)).json().data).toEqual([]);

    const refused = await mp(late, 'POST', `/mp/v1/group-buys/groups/${groupId}/join`, { payment: 'balance' }, `join-${uniq()}`);
    expect(refused.statusCode).toBe(409);
    expect(await balanceOf(late.customerId)).toBe(10_000);
  });
});

describe('referral (GET /mp/v1/referral)', () => {
  it('gives my own code (the same each time) with a QR code and a poster that shows it', async () => {
    const s = await login();
    const res = await mp(s, 'GET', '/mp/v1/referral');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.code).toMatch(/^[A-Z0-9]{4,}$/);
    expect(body.link).toContain(encodeURIComponent(body.code));
    expect(body.qr_png).toMatch(/^data:image\/png;base64,iVBOR/);
    const svg = Buffer.from(body.poster_svg.replace(/^data:image\/svg\+xml;base64,/, ''), 'base64').toString('utf8');
    expect(svg).toMatch(/^<svg|^<\?xml/);
    expect(svg).toContain(body.code);
    expect((await mp(s, 'GET', '/mp/v1/referral')).json().code).toBe(body.code);
    expect((await mp(await login(), 'GET', '/mp/v1/referral')).json().code).not.toBe(body.code);
  });
});

describe('agent centre (/mp/v1/agent)', () => {
  it('links once with an agent code; shows only my agent\'s commission, team and withdrawals; others get 403', async () => {
    const links = createChatLinks(t.platform, t.services);
    const leader = await t.services.agents.create({ name: 'Leader Wang', role: 'distributor' });
    const member = await t.services.agents.create({ name: 'Member Li', role: 'group_leader', parentId: leader.id });
    // Commission: a 5% rule on a product, an order the leader sells on its balance, accrued (pending); plus settled commission (available).
    const product = await t.services.catalog.createProduct({ name: 'Agent card', brand: 'Brand', category: 'gift', kind: 'code', skus: [{ name: '¥100', faceValueFen: 10_000, costFen: 8_000, retailPriceFen: 10_000, lowStockThreshold: 0 }] });
    await stockCodes(t, product.skus[0]!.id, 2);
    const rule = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: '5%', scope_type: 'product', scope_value: product.id, levels: [{ kind: 'percent_of_price', bps: 500 }] } });
    expect(rule.statusCode, rule.body).toBe(201);
    await t.services.orders.creditBalance({ type: 'agent', id: leader.id }, 10_000, 'top-up', { id: 'stf_test' });
    const sold = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: leader.id }, agentId: leader.id, skuId: product.skus[0]!.id, quantity: 1, channel: 'api', payment: 'balance' }, tx));
    expect(sold.status).toBe('delivered');
    expect(await t.services.commissions.accrueDelivered()).toBe(1);
    await t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'commission_settled', refType: 'test', refId: leader.id, postings: [{ account: accounts.commissionExpense, amountFen: -50_000 }, { account: accounts.commissionAvailable(leader.id), amountFen: 50_000 }] }));

    const me = await login();
    const stranger = await login();
    const unlinked = await mp(me, 'GET', '/mp/v1/agent/summary');
    expect(unlinked.statusCode).toBe(403);
    expect(unlinked.json().error).toMatchObject({ code: 'FORBIDDEN', details: { reason: 'NOT_LINKED' } });
    expect((await mp(me, 'POST', '/mp/v1/agent/link', { code: 'ABCDEFGH' })).statusCode).toBe(422);
    // A staff member's chat code does not link an agent (and stays unused for its chat).
    const staffCode = await links.issue('staff', 'stf_someone');
    expect((await mp(me, 'POST', '/mp/v1/agent/link', { code: staffCode.code })).statusCode).toBe(422);
    expect(await t.platform.database.executeSql<{ used_at: string | null }>("select used_at from bot_link_codes where kind = 'staff' and subject_id = 'stf_someone'").then((r) => r.rows[0]!.used_at)).toBeNull();

    const code = await links.issue('agent', leader.id);
    const linked = await mp(me, 'POST', '/mp/v1/agent/link', { code: code.code.toLowerCase() });
    expect(linked.statusCode, linked.body).toBe(200);
    expect(linked.json()).toEqual({ agent: { id: leader.id, name: 'Leader Wang', role: 'distributor', status: 'active' } });
    expect((await mp(stranger, 'POST', '/mp/v1/agent/link', { code: code.code })).statusCode).toBe(422);

    const summary = await mp(me, 'GET', '/mp/v1/agent/summary');
    expect(summary.statusCode, summary.body).toBe(200);
    expect(summary.json()).toEqual({ agent: { id: leader.id, name: 'Leader Wang', role: 'distributor', status: 'active' }, commission_today_fen: 500, commission_month_fen: 500, commission_pending_fen: 500, commission_available_fen: 50_000, clawback_due_fen: 0, team_size: 1 });
    const team = await mp(me, 'GET', '/mp/v1/agent/team?limit=10');
    expect(team.json()).toMatchObject({ data: [{ id: member.id, name: 'Member Li', depth: 1 }], next_cursor: null });
    const commissions = await mp(me, 'GET', '/mp/v1/agent/commissions');
    expect(commissions.json().data).toEqual([expect.objectContaining({ order_id: sold.id, level: 1, amount_fen: 500, status: 'pending' })]);

    const key = `wd-${uniq()}`;
    const wd = await mp(me, 'POST', '/mp/v1/agent/withdrawals', { amount_fen: 20_000, method: 'wechat_transfer' }, key);
    expect(wd.statusCode, wd.body).toBe(201);
    expect(wd.json()).toMatchObject({ amount_fen: 20_000, method: 'wechat_transfer', status: 'requested' });
    expect(wd.body).not.toContain(me.openid);
    expect((await mp(me, 'POST', '/mp/v1/agent/withdrawals', { amount_fen: 20_000, method: 'wechat_transfer' }, key)).json().id).toBe(wd.json().id);
    expect(await t.services.ledger.balance(accounts.commissionAvailable(leader.id).id)).toBe(30_000);
    const bank = await mp(me, 'POST', '/mp/v1/agent/withdrawals', { amount_fen: 10_000, method: 'bank_transfer' }, `wd-${uniq()}`);
    expect(bank.json().error.details[0].field).toBe('payout_account');
    const tooMuch = await mp(me, 'POST', '/mp/v1/agent/withdrawals', { amount_fen: 40_000, method: 'wechat_transfer' }, `wd-${uniq()}`);
    expect(tooMuch.statusCode).toBe(422);
    expect((await mp(me, 'GET', '/mp/v1/agent/withdrawals')).json().data.map((w: { id: string }) => w.id)).toEqual([wd.json().id]);

    // Another customer sees none of it.
    for (const url of ['/mp/v1/agent/summary', '/mp/v1/agent/team', '/mp/v1/agent/commissions', '/mp/v1/agent/withdrawals']) expect((await mp(stranger, 'GET', url)).statusCode).toBe(403);
    expect((await mp(stranger, 'POST', '/mp/v1/agent/withdrawals', { amount_fen: 10_000, method: 'wechat_transfer' }, `wd-${uniq()}`)).statusCode).toBe(403);
    expect(await t.services.ledger.balance(accounts.commissionAvailable(leader.id).id)).toBe(30_000);
  });
});
