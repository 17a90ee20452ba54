import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { signSandboxNotification } from '../../src/modules/payments/sandbox.js';
import { sandboxSecret } from '../../src/services.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let ops: string;
let finance: string;
let call: (method: 'GET' | 'POST', url: string, body?: object, idem?: string) => ReturnType<TestApp['inject']>;
let n = 0;

beforeAll(async () => {
  // No risk rules: many seats are bought at one frozen instant (the gate is tested in test/risk).
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  ops = (await t.loginAs('operations')).token;
  finance = (await t.loginAs('finance')).token;
  const owner = (await t.loginAs('owner')).token;
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'partner', owner_id: 'gb-partner', name: 'shop' } })).json() as { id: string; secret: string };
  call = (method, url, body, idem) => {
    const raw = body ? JSON.stringify(body) : '';
    return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
  };
}, 120_000);
afterAll(() => t?.close());

/** A customer known to the partner, with money on its balance. */
async function customer(balanceFen = 20_000) {
  const externalId = `gb-cust-${++n}`;
  const { customerId } = await t.services.customers.resolve({ identity: { provider: 'partner', externalId }, displayName: `Buyer${n}` });
  if (balanceFen > 0) {
    const res = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'customer', buyer_id: customerId, amount_fen: balanceFen, reference: `top-up ${externalId}` } });
    expect(res.statusCode).toBe(200);
  }
  return { id: customerId, ref: { provider: 'partner', external_id: externalId } };
}

async function campaign(sku: string, over: Record<string, unknown> = {}) {
  const res = await t.inject({ method: 'POST', url: '/admin/marketing/group-buys', headers: { ...bearer(ops), 'idempotency-key': `gbc-${++n}-key` }, payload: { name: 'Team up', sku_id: sku, group_price_fen: 5_000, group_size: 5, duration_minutes: 60, ends_at: new Date(clock.now().getTime() + 24 * 60 * MINUTE).toISOString(), ...over } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string };
}

const open = (campaignId: string, c: { ref: object }, payment = 'balance', key = `open-${++n}-key`) => call('POST', `/open/v1/group-buys/${campaignId}/groups`, { payment, customer: c.ref }, key);
const join = (groupId: string, c: { ref: object }, payment = 'balance', key = `join-${++n}-key`) => call('POST', `/open/v1/group-buys/groups/${groupId}/join`, { payment, customer: c.ref }, key);
const balance = (customerId: string) => t.services.ledger.balance(accounts.customerBalance(customerId).id);
const sql = async <R>(text: string, values: unknown[] = []) => (await t.platform.database.executeSql<R>(text, values)).rows;
const stateCounts = async (sku: string) => Object.fromEntries((await sql<{ state: string; n: number }>('select state, count(*)::int as n from codes where sku_id = $1 group by state', [sku])).map((r) => [r.state, Number(r.n)]));

describe('group-buy campaigns (admin)', () => {
  it('creates with an Idempotency-Key, refuses bad terms by field, lists, shows groups and ends', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    const headers = { ...bearer(ops), 'idempotency-key': 'gbc-admin-key-1' };
    const payload = { name: 'Double', sku_id: sku, group_price_fen: 6_000, group_size: 2, duration_minutes: 30, ends_at: new Date(clock.now().getTime() + 60 * MINUTE).toISOString(), max_groups: 1 };
    const created = await t.inject({ method: 'POST', url: '/admin/marketing/group-buys', headers, payload });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ sku_id: sku, group_price_fen: 6_000, group_size: 2, max_groups: 1, per_customer_limit: 1, status: 'active', groups_opened: 0 });
    const again = await t.inject({ method: 'POST', url: '/admin/marketing/group-buys', headers, payload });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(created.json().id);
    const other = await t.inject({ method: 'POST', url: '/admin/marketing/group-buys', headers, payload: { ...payload, group_size: 3 } });
    expect(other.json().error.code).toBe('IDEMPOTENCY_CONFLICT');

    const dear = await t.inject({ method: 'POST', url: '/admin/marketing/group-buys', headers: { ...bearer(ops), 'idempotency-key': 'gbc-admin-key-2' }, payload: { ...payload, group_price_fen: 9_601 } });
    expect(dear.statusCode).toBe(400);
    expect(dear.json().error.details).toEqual([{ field: 'group_price_fen', message: expect.stringContaining('list price') }]);
    const tooSmall = await t.inject({ method: 'POST', url: '/admin/marketing/group-buys', headers: { ...bearer(ops), 'idempotency-key': 'gbc-admin-key-3' }, payload: { ...payload, group_size: 1 } });
    expect(tooSmall.statusCode).toBe(400);
    const backwards = await t.inject({ method: 'POST', url: '/admin/marketing/group-buys', headers: { ...bearer(ops), 'idempotency-key': 'gbc-admin-key-4' }, payload: { ...payload, starts_at: payload.ends_at, ends_at: clock.now().toISOString() } });
    expect(backwards.json().error.details).toEqual([{ field: 'ends_at', message: 'must be after starts_at' }]);
    const support = await t.loginAs('support');
    expect((await t.inject({ method: 'POST', url: '/admin/marketing/group-buys', headers: { ...bearer(support.token), 'idempotency-key': 'gbc-admin-key-5' }, payload })).statusCode).toBe(403);

    await campaign(sku);
    const page1 = (await t.inject({ method: 'GET', url: '/admin/marketing/group-buys?limit=1', headers: bearer(ops) })).json();
    expect(page1.data).toHaveLength(1);
    expect(page1.has_more).toBe(true);
    const page2 = (await t.inject({ method: 'GET', url: `/admin/marketing/group-buys?limit=1&cursor=${page1.next_cursor}`, headers: bearer(ops) })).json();
    expect(page2.data[0].id).not.toBe(page1.data[0].id);

    // max_groups 1: the second group is refused; the campaign shows its group.
    const id = created.json().id as string;
    expect((await open(id, await customer())).statusCode).toBe(201);
    const second = await open(id, await customer());
    expect(second.statusCode).toBe(409);
    expect(second.json().error.message).toBe('no more groups can be opened in this campaign');
    const shown = (await t.inject({ method: 'GET', url: `/admin/marketing/group-buys/${id}`, headers: bearer(ops) })).json();
    expect(shown.campaign.groups_opened).toBe(1);
    expect(shown.groups.data).toHaveLength(1);
    expect(shown.groups.data[0]).toMatchObject({ seats_taken: 1, group_size: 2, status: 'open' });

    const ended = await t.inject({ method: 'POST', url: `/admin/marketing/group-buys/${page1.data[0].id}/end`, headers: bearer(ops) });
    expect(ended.json().status).toBe('ended');
    const late = await open(page1.data[0].id, await customer());
    expect(late.statusCode).toBe(409);
    expect(late.json().error.message).toBe('this group-buy campaign has ended');
  });
});

describe('joining races', () => {
  it('a group of 5 with 12 racing joiners: exactly 4 join, every member gets distinct codes, the group completes', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 20);
    const c = await campaign(sku, { per_customer_limit: 1 });
    const leader = await customer();
    const opened = await open(c.id, leader);
    expect(opened.statusCode, opened.body).toBe(201);
    const groupId = opened.json().group.id as string;
    expect(opened.json().order).toMatchObject({ status: 'awaiting_group', amount_fen: 5_000 });
    expect(opened.json().group).toMatchObject({ seats_taken: 1, seats_left: 4, status: 'open', members: [{ name: 'B**', is_leader: true, paid: true }] });

    const racers = await Promise.all(Array.from({ length: 12 }, () => customer()));
    const results = await Promise.all(racers.map((r) => join(groupId, r)));
    const won = results.filter((r) => r.statusCode === 201);
    const lost = results.filter((r) => r.statusCode !== 201);
    expect(won).toHaveLength(4);
    expect(lost).toHaveLength(8);
    for (const r of lost) {
      expect(r.statusCode).toBe(409);
      expect(['this group is full', 'this group is already complete']).toContain(r.json().error.message);
    }
    // From the database: 5 seats, 5 members released, the group completed; losers paid nothing.
    const [g] = await sql<{ seats_taken: number; status: string }>('select seats_taken, status from group_buy_groups where id = $1', [groupId]);
    expect(g).toEqual({ seats_taken: 5, status: 'completed' });
    const members = await sql<{ customer_id: string; status: string }>('select customer_id, status from group_buy_members where group_id = $1', [groupId]);
    expect(members).toHaveLength(5);
    expect(members.every((m) => m.status === 'released')).toBe(true);
    const seated = new Set(members.map((m) => m.customer_id));
    for (const r of racers) expect(await balance(r.id)).toBe(seated.has(r.id) ? 15_000 : 20_000);

    const orders = await sql<{ id: string; status: string; amount_fen: number }>('select id, status, amount_fen from orders where offer_id = $1', [groupId]);
    expect(orders).toHaveLength(5);
    for (const o of orders) expect(o).toMatchObject({ status: 'delivered', amount_fen: 5_000 });
    const codes = await sql<{ id: string; order_id: string }>('select id, order_id from codes where order_id = any($1::text[])', [orders.map((o) => o.id)]);
    expect(codes).toHaveLength(5);
    expect(new Set(codes.map((x) => x.order_id)).size).toBe(5);
    const secrets: string[] = [];
    for (const o of orders) {
      const shown = await call('GET', `/open/v1/orders/${o.id}/codes`);
      expect(shown.statusCode).toBe(200);
      secrets.push(...shown.json().codes.map((x: { secret: string }) => x.secret));
    }
    expect(new Set(secrets).size).toBe(5);
    expect(await stateCounts(sku)).toEqual({ available: 15, revealed: 5 });
    // The share page after completion.
    const state = (await call('GET', `/open/v1/group-buys/groups/${groupId}`)).json();
    expect(state).toMatchObject({ status: 'completed', seats_taken: 5, seats_left: 0 });
    expect(state.members).toHaveLength(5);
    expect(JSON.stringify(state)).not.toContain('cus_');
    expect((await verifyBooks(t.platform)).ok).toBe(true);
  });

  it('12 racing joiners paying by provider: exactly 4 hold seats (unpaid seats count), the rest are told the group is full', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 10);
    const c = await campaign(sku);
    const groupId = (await open(c.id, await customer())).json().group.id as string;
    const racers = await Promise.all(Array.from({ length: 12 }, () => customer(0)));
    const results = await Promise.all(racers.map((r) => join(groupId, r, 'sandbox')));
    expect(results.filter((r) => r.statusCode === 201)).toHaveLength(4);
    for (const r of results.filter((x) => x.statusCode !== 201)) expect(r.json().error).toMatchObject({ code: 'CONFLICT', message: 'this group is full' });
    expect(await sql('select seats_taken, status from group_buy_groups where id = $1', [groupId])).toEqual([{ seats_taken: 5, status: 'open' }]);
    expect(await sql("select status, count(*)::int as n from group_buy_members where group_id = $1 group by status order by status", [groupId])).toEqual([{ status: 'paid', n: 1 }, { status: 'pending_payment', n: 4 }]);
    expect(await sql("select count(*)::int as n from orders where offer_id = $1 and status = 'pending_payment'", [groupId])).toEqual([{ n: 4 }]);
  });

  it('one customer racing itself gets one seat; racing leaders never open more than max_groups', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 10);
    const c = await campaign(sku, { group_size: 10, max_groups: 3, per_customer_limit: 3 });
    const groupId = (await open(c.id, await customer())).json().group.id as string;
    const eager = await customer();
    const mine = await Promise.all(Array.from({ length: 5 }, () => join(groupId, eager)));
    expect(mine.filter((r) => r.statusCode === 201)).toHaveLength(1);
    for (const r of mine.filter((x) => x.statusCode !== 201)) expect(r.json().error.message).toBe('this customer is already a member of this group');
    expect(await balance(eager.id)).toBe(15_000);
    const leaders = await Promise.all(Array.from({ length: 6 }, () => customer()));
    const opened = await Promise.all(leaders.map((l) => open(c.id, l)));
    expect(opened.filter((r) => r.statusCode === 201)).toHaveLength(2);
    for (const r of opened.filter((x) => x.statusCode !== 201)) expect(r.json().error.message).toBe('no more groups can be opened in this campaign');
    expect(await sql('select groups_opened from group_buy_campaigns where id = $1', [c.id])).toEqual([{ groups_opened: 3 }]);
    expect(await sql('select count(*)::int as n from group_buy_groups where campaign_id = $1', [c.id])).toEqual([{ n: 3 }]);
  });

  it('a member cannot join twice, a full or expired group answers 409, a retry replays', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 10);
    const c = await campaign(sku, { group_size: 3, per_customer_limit: 5 });
    const leader = await customer();
    const groupId = (await open(c.id, leader)).json().group.id as string;
    const again = await join(groupId, leader);
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({ message: 'this customer is already a member of this group', details: [{ field: 'customer' }] });

    const m = await customer();
    const first = await join(groupId, m, 'balance', 'join-replay-key-1');
    expect(first.statusCode).toBe(201);
    const replay = await join(groupId, m, 'balance', 'join-replay-key-1');
    expect(replay.statusCode).toBe(200);
    expect(replay.json().order.id).toBe(first.json().order.id);
    expect(await balance(m.id)).toBe(15_000);
    const changed = await call('POST', `/open/v1/group-buys/groups/${groupId}/join`, { payment: 'sandbox', customer: m.ref }, 'join-replay-key-1');
    expect(changed.json().error.code).toBe('IDEMPOTENCY_CONFLICT');

    expect((await join(groupId, await customer())).statusCode).toBe(201); // third seat: complete
    const full = await join(groupId, await customer());
    expect(full.statusCode).toBe(409);
    expect(full.json().error.message).toBe('this group is already complete');

    const g2 = (await open(c.id, await customer())).json().group.id as string;
    clock.advance(61 * MINUTE);
    const expired = await join(g2, await customer());
    expect(expired.statusCode).toBe(409);
    expect(expired.json().error.message).toBe('this group has expired');
    await t.services.groupBuys.expireDue();
  });
});

describe('leaders and limits', () => {
  it('a group-leader agent opens a group for a customer (the orders name the agent); one seat per customer per campaign', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 5);
    const c = await campaign(sku, { group_size: 3 });
    const owner = (await t.loginAs('owner')).token;
    const agent = await t.services.agents.create({ name: 'Leader', role: 'group_leader' });
    const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: agent.id, name: 'leader bot' } })).json() as { id: string; secret: string };
    const agentCall = (url: string, body: object, idem: string) => {
      const raw = JSON.stringify(body);
      return t.inject({ method: 'POST', url, payload: raw, headers: { 'content-type': 'application/json', 'idempotency-key': idem, ...signedHeaders(key.id, key.secret, 'POST', url, raw, clock.now()) } });
    };
    const buyer = await customer();
    const opened = await agentCall(`/open/v1/group-buys/${c.id}/groups`, { payment: 'balance', customer: buyer.ref }, 'agent-open-key-1');
    expect(opened.statusCode, opened.body).toBe(201);
    const groupId = opened.json().group.id as string;
    expect(await sql('select leader_customer_id, leader_agent_id from group_buy_groups where id = $1', [groupId])).toEqual([{ leader_customer_id: buyer.id, leader_agent_id: agent.id }]);
    expect((await t.services.orders.get(opened.json().order.id)).agent_id).toBe(agent.id);
    expect(await balance(buyer.id)).toBe(15_000);
    // per_customer_limit 1: the same customer can neither open another group nor join someone else's.
    const twice = await open(c.id, buyer);
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error.details).toEqual([{ field: 'customer', message: 'at most 1 group(s) per customer in this campaign' }]);
    const other = (await open(c.id, await customer())).json().group.id as string;
    expect((await join(other, buyer)).json().error.details[0].field).toBe('customer');
    // Unknown group or campaign: 404.
    expect((await join('gbg_01JAAAAAAAAAAAAAAAAAAAAAAA', await customer())).statusCode).toBe(404);
    expect((await open('gbc_01JAAAAAAAAAAAAAAAAAAAAAAA', await customer())).statusCode).toBe(404);
  });
});

describe('expiry', () => {
  it('fails a group past its deadline and refunds every paid member (balances back, codes untouched, books balanced); idempotent', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 5);
    const before = await stateCounts(sku);
    const c = await campaign(sku, { group_size: 4, duration_minutes: 30 });
    const people = [await customer(), await customer(), await customer()];
    const groupId = (await open(c.id, people[0]!)).json().group.id as string;
    for (const p of people.slice(1)) expect((await join(groupId, p)).statusCode).toBe(201);
    for (const p of people) expect(await balance(p.id)).toBe(15_000);
    // Not yet: nothing happens before the deadline.
    expect((await t.services.groupBuys.expireDue()).failed).toBe(0);
    clock.advance(31 * MINUTE);
    const runs = await Promise.all([t.services.groupBuys.expireDue(), t.services.groupBuys.expireDue()]);
    expect(runs.reduce((s, r) => s + r.failed, 0)).toBe(1);
    expect((await t.services.groupBuys.expireDue()).failed).toBe(0);
    for (const p of people) expect(await balance(p.id)).toBe(20_000);
    const orders = await sql<{ status: string; refunded_fen: number }>('select status, refunded_fen from orders where offer_id = $1', [groupId]);
    expect(orders).toEqual(Array(3).fill({ status: 'refunded', refunded_fen: 5_000 }));
    expect(await sql('select status from group_buy_groups where id = $1', [groupId])).toEqual([{ status: 'failed' }]);
    expect(await sql('select distinct status from group_buy_members where group_id = $1', [groupId])).toEqual([{ status: 'refunded' }]);
    expect(await stateCounts(sku)).toEqual(before);
    const books = await verifyBooks(t.platform);
    expect(books.checks.filter((x) => !x.ok)).toEqual([]);
  });
});

describe('provider payments', () => {
  it('an unpaid seat holds its place until its order is cancelled; a provider payment that fills the group completes it', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 5);
    const c = await campaign(sku, { group_size: 2, duration_minutes: 120 });
    const groupId = (await open(c.id, await customer())).json().group.id as string;
    const payer = await customer(0);
    const held = await join(groupId, payer, 'sandbox');
    expect(held.statusCode, held.body).toBe(201);
    expect(held.json().order.status).toBe('pending_payment');
    expect(held.json().group).toMatchObject({ seats_taken: 2, seats_left: 0 });
    expect((await join(groupId, await customer())).json().error.message).toBe('this group is full');
    // The unpaid order passes its payment deadline: cancelled, the seat is free again.
    clock.advance(t.config.orderPaymentWindowMinutes * MINUTE + 1_000);
    await t.services.orders.cancelExpired();
    expect(await sql('select seats_taken from group_buy_groups where id = $1', [groupId])).toEqual([{ seats_taken: 1 }]);

    const second = await join(groupId, await customer(0), 'sandbox');
    const pay = second.json().payment as { trade_no: string; amount_fen: number };
    const note = signSandboxNotification(sandboxSecret(t.platform), { trade_no: pay.trade_no, amount_fen: pay.amount_fen, status: 'succeeded', txn_id: `gb-${n}` }, clock.now());
    expect((await t.inject({ method: 'POST', url: '/payments/notify/sandbox', headers: note.headers, payload: note.body })).statusCode).toBe(204);
    expect((await call('GET', `/open/v1/group-buys/groups/${groupId}`)).json()).toMatchObject({ status: 'completed', seats_taken: 2 });
    expect((await t.services.orders.get(second.json().order.id)).status).toBe('delivered');
    expect((await verifyBooks(t.platform)).ok).toBe(true);
  });

  it('a failed group refunds a provider-paid member through the payments module', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 5);
    const c = await campaign(sku, { group_size: 3, duration_minutes: 30 });
    const groupId = (await open(c.id, await customer())).json().group.id as string;
    const joined = await join(groupId, await customer(0), 'sandbox');
    const pay = joined.json().payment as { trade_no: string; amount_fen: number };
    const note = signSandboxNotification(sandboxSecret(t.platform), { trade_no: pay.trade_no, amount_fen: pay.amount_fen, status: 'succeeded', txn_id: `gb-${++n}` }, clock.now());
    expect((await t.inject({ method: 'POST', url: '/payments/notify/sandbox', headers: note.headers, payload: note.body })).statusCode).toBe(204);
    expect((await t.services.orders.get(joined.json().order.id)).status).toBe('awaiting_group');
    clock.advance(31 * MINUTE);
    const run = await t.services.groupBuys.expireDue();
    // (groups other tests left open fail too; only this one had a paid provider seat)
    expect(run.failed).toBeGreaterThanOrEqual(1);
    expect(run.refunded).toBe(1);
    expect(await sql('select status from group_buy_groups where id = $1', [groupId])).toEqual([{ status: 'failed' }]);
    expect((await t.services.orders.get(joined.json().order.id)).status).toBe('refunded');
    expect(await sql('select destination, amount_fen from refunds where order_id = $1', [joined.json().order.id])).toEqual([{ destination: 'original', amount_fen: 5_000 }]);
    expect(await sql('select distinct status from group_buy_members where group_id = $1', [groupId])).toEqual([{ status: 'refunded' }]);
    expect((await t.services.groupBuys.expireDue()).refunded).toBe(0);
    expect((await verifyBooks(t.platform)).ok).toBe(true);
  });

  it('a payment that arrives after its group failed is refunded to the provider by the next run', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 5);
    const window = t.config.orderPaymentWindowMinutes;
    const c = await campaign(sku, { group_size: 3, duration_minutes: Math.max(1, window - 5) });
    const groupId = (await open(c.id, await customer())).json().group.id as string;
    const late = await join(groupId, await customer(0), 'sandbox');
    const pay = late.json().payment as { trade_no: string; amount_fen: number };
    clock.advance(Math.max(1, window - 5) * MINUTE + 1_000);
    await t.services.groupBuys.expireDue();
    expect(await sql('select status from group_buy_groups where id = $1', [groupId])).toEqual([{ status: 'failed' }]);
    const note = signSandboxNotification(sandboxSecret(t.platform), { trade_no: pay.trade_no, amount_fen: pay.amount_fen, status: 'succeeded', txn_id: `gb-${++n}` }, clock.now());
    expect((await t.inject({ method: 'POST', url: '/payments/notify/sandbox', headers: note.headers, payload: note.body })).statusCode).toBe(204);
    expect((await t.services.orders.get(late.json().order.id)).status).toBe('awaiting_group');
    expect((await t.services.groupBuys.expireDue()).refunded).toBe(1);
    expect((await t.services.orders.get(late.json().order.id)).status).toBe('refunded');
    expect(await sql('select distinct status from group_buy_members where group_id = $1', [groupId])).toEqual([{ status: 'refunded' }]);
    expect((await verifyBooks(t.platform)).ok).toBe(true);
  });
});

describe('completion edge cases', () => {
  it('short of stock when the group fills: the short member waits paid and is delivered on restock', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 1);
    const c = await campaign(sku, { group_size: 2 });
    const groupId = (await open(c.id, await customer())).json().group.id as string;
    expect((await join(groupId, await customer())).statusCode).toBe(201);
    const orders = await sql<{ id: string; status: string }>('select id, status from orders where offer_id = $1 order by id', [groupId]);
    expect(orders.map((o) => o.status).sort()).toEqual(['delivered', 'paid_awaiting_stock']);
    await stockCodes(t, sku, 1);
    expect(await t.services.orders.fulfilAwaiting()).toBeGreaterThanOrEqual(1);
    for (const o of orders) expect((await t.services.orders.get(o.id)).status).toBe('delivered');
    expect((await verifyBooks(t.platform)).ok).toBe(true);
  });

  it('a waiting member refunded by staff frees its seat: the group does not complete on it', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 5);
    const c = await campaign(sku, { group_size: 2 });
    const leader = await customer();
    const opened = (await open(c.id, leader)).json();
    await t.services.payments.refundOrder(opened.order.id, { reason: 'customer asked' }, { id: 'staff-test', type: 'staff' });
    expect(await balance(leader.id)).toBe(20_000);
    // The joiner makes "2 paid" on paper, but one of them was refunded: the group stays open with one seat taken.
    expect((await join(opened.group.id, await customer())).statusCode).toBe(201);
    expect(await sql('select seats_taken, status from group_buy_groups where id = $1', [opened.group.id])).toEqual([{ seats_taken: 1, status: 'open' }]);
    expect((await join(opened.group.id, await customer())).statusCode).toBe(201);
    expect(await sql('select seats_taken, status from group_buy_groups where id = $1', [opened.group.id])).toEqual([{ seats_taken: 2, status: 'completed' }]);
    expect((await verifyBooks(t.platform)).ok).toBe(true);
  });
});
