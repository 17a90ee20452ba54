import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { stockCodes } from '../helpers/codes.js';
import { ManualClock } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import type { AgentView } from '../../src/modules/agents/service.js';

/**
 * Agent price lists by level (explicit prices and markup rules), product
 * scopes along the agent tree, and stock quotas per agent, through the
 * signed open API and the admin API.
 */
const clock = new ManualClock('2026-06-01T03:00:00Z');
let t: TestApp;
let owner: string;
let readonly: string;
let root: AgentView;
let mid: AgentView;
let leaf: AgentView;
let other: AgentView;
type Key = { id: string; secret: string };
const keys: Record<string, Key> = {};
let partnerKey: Key;
let giftA: string;
let giftB: string;
let games: string;
let n = 0;

const issueKey = async (ownerType: 'agent' | 'partner', ownerId: string): Promise<Key> => {
  const res = await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: ownerType, owner_id: ownerId, name: 'pricing' } });
  expect(res.statusCode).toBe(201);
  return res.json() as Key;
};
const signed = (key: Key, method: 'GET' | 'POST' | 'PUT', url: string, body?: object) => {
  const raw = body ? JSON.stringify(body) : '';
  const idem = method === 'POST' ? { 'idempotency-key': `psq-order-${++n}` } : {};
  return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...idem, ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
};
const buy = (agent: AgentView, sku: string, quantity = 1) => signed(keys[agent.id]!, 'POST', '/open/v1/orders', { sku_id: sku, quantity, payment: 'balance' });
const customerBuys = (sku: string, quantity = 1) => signed(partnerKey, 'POST', '/open/v1/orders', { sku_id: sku, quantity, payment: 'balance', customer: { provider: 'partner', external_id: 'customer-1' } });
const balance = (agent: AgentView) => t.services.ledger.balance(accounts.agentBalance(agent.id).id);
const admin = (method: 'GET' | 'PUT' | 'DELETE' | 'POST', url: string, payload?: object, token = owner) => t.inject({ method, url, headers: bearer(token), payload });
const putRule = (body: object, token = owner) => admin('PUT', '/admin/catalog/level-rules', body, token);
const product = async (category: string, costFen: number, retailPriceFen: number, agentPrices: Record<string, number> = {}) =>
  (await t.services.catalog.createProduct({ name: `${category} card`, brand: 'Brand', category, kind: 'code', skus: [{ name: 'card', faceValueFen: retailPriceFen, costFen, retailPriceFen, agentPrices, lowStockThreshold: 0 }] })).skus[0]!.id;

beforeAll(async () => {
  // The risk gate runs but with no rules: this file buys and withdraws many times per account at a frozen clock, which
  // the velocity rules rightly challenge; the gate's rules are tested in test/risk/gate.test.ts.
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  owner = (await t.loginAs('owner')).token;
  readonly = (await t.loginAs('readonly')).token;
  root = await t.services.agents.create({ name: 'Distributor', role: 'distributor' });
  mid = await t.services.agents.create({ name: 'Sub-agent', role: 'sub_agent', parentId: root.id });
  leaf = await t.services.agents.create({ name: 'Group leader', role: 'group_leader', parentId: mid.id });
  other = await t.services.agents.create({ name: 'Other distributor', role: 'distributor' });
  for (const a of [root, mid, leaf, other]) {
    const credit = await admin('POST', '/admin/balances/credit', { buyer_type: 'agent', buyer_id: a.id, amount_fen: 1_000_000, reference: 'bank transfer' });
    expect(credit.statusCode).toBe(200);
    keys[a.id] = await issueKey('agent', a.id);
  }
  partnerKey = await issueKey('partner', 'partner-psq');
  await t.services.orders.creditBalance({ type: 'customer', id: (await t.services.customers.resolve({ identity: { provider: 'partner', externalId: 'customer-1' } })).customerId }, 1_000_000, 'top-up', { id: 'stf_test' });
  giftA = await product('gift', 8_000, 10_000);
  giftB = await product('gift', 8_000, 10_000);
  games = await product('games', 5_000, 6_000);
  for (const sku of [giftA, giftB, games]) await stockCodes(t, sku, 20);
});
afterAll(() => t.close());

describe('level price rules (markup)', () => {
  it('refuses a rule without a markup, for an unknown category, or from a role without catalog:write', async () => {
    const none = await putRule({ level: 1 });
    expect(none.statusCode).toBe(400);
    expect(none.json().error.details[0].field).toBe('markup_bps');
    const unknown = await putRule({ level: 1, category_id: 'nope', markup_bps: 100 });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.details[0].field).toBe('category_id');
    expect((await putRule({ level: 1, markup_bps: 100 }, readonly)).statusCode).toBe(403);
    expect((await admin('GET', '/admin/catalog/level-rules')).json().data).toEqual([]);
  });

  it('prices each level over the one above (cost at level 0); the order is charged that price and the ledger agrees', async () => {
    expect((await putRule({ level: 1, markup_bps: 500 })).statusCode).toBe(200); // 8000 -> 8400
    expect((await putRule({ level: 2, markup_fen: 100 })).statusCode).toBe(200); // 8400 -> 8500
    expect((await putRule({ level: 3, markup_bps: 1_000, markup_fen: 0 })).statusCode).toBe(200); // 8500 -> 9350
    // Setting a level again replaces its rule.
    const again = await putRule({ level: 3, markup_bps: 1_000, markup_fen: 5 }); // 8500 -> 9355
    expect(again.statusCode).toBe(200);
    expect((await admin('GET', '/admin/catalog/level-rules')).json().data).toHaveLength(3);

    const preview = await admin('GET', `/admin/catalog/skus/${giftA}/level-prices`);
    expect(preview.statusCode).toBe(200);
    expect(preview.json().levels.map((l: { price_fen: number; derived: string; based_on_level: number | null; capped: boolean }) => [l.price_fen, l.derived, l.based_on_level, l.capped])).toEqual([
      [8_400, 'markup', 0, false],
      [8_500, 'markup', 1, false],
      [9_355, 'markup', 2, false],
    ]);

    const before = await balance(leaf);
    const revenueBefore = await t.services.ledger.balance(accounts.revenue.id);
    const res = await buy(leaf, giftA, 2);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().order).toMatchObject({ unit_price_fen: 9_355, amount_fen: 18_710 });
    expect(before - (await balance(leaf))).toBe(18_710);
    expect(Math.abs((await t.services.ledger.balance(accounts.revenue.id)) - revenueBefore)).toBe(18_710);
    expect(await t.services.ledger.globalSum()).toBe(0);

    // Level 1 buys at level 1's price; an explicit level price beats the rule.
    const top = await buy(root, giftA);
    expect(top.json().order.unit_price_fen).toBe(8_400);
    await t.services.catalog.updateSku(giftB, { agentPrices: { '2': 9_000 } }, { id: 'stf_test' });
    expect((await buy(leaf, giftB)).json().order.unit_price_fen).toBe(9_905); // 9000 explicit at level 2, +10% +5
    expect((await buy(mid, giftB)).json().order.unit_price_fen).toBe(9_000);

    const audit = await t.services.audit.list({ limit: 10, action: 'catalog.level_rule_put' });
    expect(audit.data.length).toBe(4);
  });

  it('a category rule beats the global one of its level', async () => {
    expect((await putRule({ level: 1, category_id: 'gift', markup_bps: 1_000 })).statusCode).toBe(200); // gift: 8000 -> 8800
    expect((await buy(root, giftA)).json().order.unit_price_fen).toBe(8_800);
    expect((await buy(root, games)).json().order.unit_price_fen).toBe(5_250); // global 5%
    const preview = (await admin('GET', `/admin/catalog/skus/${giftA}/level-prices?levels=1`)).json();
    expect(preview.levels[0]).toMatchObject({ price_fen: 8_800, derived: 'markup', explanation: expect.stringContaining('category gift') });
  });

  it('never charges above retail: capped, and the preview says so', async () => {
    const rule = await putRule({ level: 1, category_id: 'games', markup_bps: 5_000 }); // 5000 -> 7500 > 6000
    expect(rule.statusCode).toBe(200);
    const preview = (await admin('GET', `/admin/catalog/skus/${games}/level-prices?levels=2`)).json();
    expect(preview.levels[0]).toMatchObject({ price_fen: 6_000, derived: 'markup', capped: true, explanation: expect.stringContaining('capped at retail') });
    expect(preview.levels[1]).toMatchObject({ price_fen: 6_000, capped: true });
    const res = await buy(root, games);
    expect(res.json().order).toMatchObject({ unit_price_fen: 6_000, amount_fen: 6_000 });
    // Deleting the rule brings back the global one (audited).
    const del = await admin('DELETE', `/admin/catalog/level-rules/${rule.json().id}`);
    expect(del.statusCode).toBe(200);
    expect((await admin('DELETE', `/admin/catalog/level-rules/${rule.json().id}`)).statusCode).toBe(404);
    expect((await buy(root, games)).json().order.unit_price_fen).toBe(5_250);
    expect((await t.services.audit.list({ limit: 10, action: 'catalog.level_rule_delete' })).data).toHaveLength(1);
  });
});

describe('product scope per agent', () => {
  it('an upline sets a direct child\'s scope only within its own; a child never sells outside its upline\'s scope', async () => {
    const set = await admin('PUT', `/admin/agents/${root.id}/scope`, { entries: [{ scope_type: 'category', ref_id: 'gift' }] });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json()).toMatchObject({ agent_id: root.id, restricted: true, entries: [{ scope_type: 'category', ref_id: 'gift' }] });
    expect((await admin('PUT', `/admin/agents/${root.id}/scope`, { entries: [{ scope_type: 'sku', ref_id: 'sku_01J00000000000000000000000' }] })).json().error.details[0].field).toBe('entries.0.ref_id');

    // Outside the upline's own scope: refused, with the field.
    const outside = await signed(keys[root.id]!, 'PUT', `/open/v1/agent/team/${mid.id}/scope`, { entries: [{ scope_type: 'sku', ref_id: giftA }, { scope_type: 'sku', ref_id: games }] });
    expect(outside.statusCode).toBe(403);
    expect(outside.json().error.details[0]).toEqual({ field: 'entries.1.ref_id', message: "outside this agent's product scope" });
    // Not a direct child: as if it did not exist.
    expect((await signed(keys[root.id]!, 'PUT', `/open/v1/agent/team/${leaf.id}/scope`, { entries: [] })).statusCode).toBe(404);
    expect((await signed(keys[other.id]!, 'GET', `/open/v1/agent/team/${mid.id}/scope`)).statusCode).toBe(404);
    const inside = await signed(keys[root.id]!, 'PUT', `/open/v1/agent/team/${mid.id}/scope`, { entries: [{ scope_type: 'sku', ref_id: giftA }] });
    expect(inside.statusCode, inside.body).toBe(200);
    expect((await signed(keys[root.id]!, 'GET', `/open/v1/agent/team/${mid.id}/scope`)).json().entries).toEqual([{ scope_type: 'sku', ref_id: giftA }]);
    expect((await admin('GET', `/admin/agents/${leaf.id}/scope`)).json()).toMatchObject({ restricted: false, entries: [] });
    expect((await t.services.audit.list({ limit: 10, action: 'agent.scope_set' })).data.map((a) => a.actor_type).sort()).toEqual(['agent', 'staff']);

    // The leaf has no scope of its own: it inherits mid's (giftA only) and root's (gift).
    const refused = await buy(leaf, giftB);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.details).toEqual([{ field: 'sku_id', message: "outside this agent's product scope" }]);
    expect((await buy(leaf, games)).statusCode).toBe(403);
    expect((await buy(root, games)).statusCode).toBe(403);
    expect((await buy(leaf, giftA)).statusCode).toBe(201);
    expect((await buy(root, giftB)).statusCode).toBe(201);
    // Outside the API, the same rule.
    await expect(t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: leaf.id }, skuId: giftB, quantity: 1, channel: 'admin', payment: 'balance' }, tx))).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // A customer order sold by an agent: the seller's scope holds too.
    await expect(t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: 'cus_x' }, agentId: leaf.id, skuId: games, quantity: 1, channel: 'miniprogram', payment: 'external', provider: 'sandbox' }, tx))).rejects.toMatchObject({ code: 'FORBIDDEN' });

    // The back office lists only what the agent may sell.
    const listed = await signed(keys[leaf.id]!, 'GET', '/open/v1/agent/products?limit=50');
    expect(listed.statusCode).toBe(200);
    expect(listed.json().data.map((p: { id: string }) => p.id)).toEqual([giftA]);
    expect(listed.json().data[0].price_fen).toBe(9_795); // gift level 1: 8800, level 2: 8900, level 3: 9790 + 5
    const rootList = (await signed(keys[root.id]!, 'GET', '/open/v1/agent/products?limit=50')).json().data.map((p: { id: string }) => p.id);
    expect(rootList.sort()).toEqual([giftA, giftB].sort());

    // Empty lists: everyone inherits again.
    expect((await admin('PUT', `/admin/agents/${mid.id}/scope`, { entries: [] })).json().restricted).toBe(false);
    expect((await admin('PUT', `/admin/agents/${root.id}/scope`, { entries: [] })).statusCode).toBe(200);
    expect((await buy(leaf, games)).statusCode).toBe(201);
  });
});

describe('stock quotas per agent', () => {
  it('an agent claims its quota before the free pool; customers and other chains never drain it; a descendant uses its ancestor\'s', async () => {
    const sku = await product('quota', 1_000, 2_000);
    await stockCodes(t, sku, 5);
    const alloc = await admin('POST', '/admin/stock/allocations', { sku_id: sku, holder_type: 'agent', holder_id: root.id, quantity: 3 });
    expect(alloc.statusCode, alloc.body).toBe(201);
    const allocationId = alloc.json().id as string;
    const figures = async () => {
      const f = (await admin('GET', `/admin/stock?sku_id=${sku}`)).json().data[0];
      return { quota: (await t.services.inventory.get(allocationId)).available, free: f.available_free as number };
    };
    expect(await figures()).toEqual({ quota: 3, free: 2 });

    // The holder itself: from its quota first.
    expect((await buy(root, sku)).statusCode).toBe(201);
    expect(await figures()).toEqual({ quota: 2, free: 2 });

    // Customers take only the free pool; with it empty they are out of stock though the quota has codes.
    expect((await customerBuys(sku, 2)).statusCode).toBe(201);
    expect(await figures()).toEqual({ quota: 2, free: 0 });
    const sold = await customerBuys(sku, 1);
    expect(sold.statusCode).toBe(409);
    expect(sold.json().error.code).toBe('OUT_OF_STOCK');
    // Another chain's agent too.
    expect((await buy(other, sku)).statusCode).toBe(409);
    expect(await figures()).toEqual({ quota: 2, free: 0 });

    // The back office shows the quota next to the general stock.
    const listed = (await signed(keys[leaf.id]!, 'GET', '/open/v1/agent/products?limit=50')).json().data.find((p: { id: string }) => p.id === sku);
    expect(listed).toMatchObject({ quota_available: 2, free_available: 0, available: 2 });
    expect((await signed(keys[other.id]!, 'GET', '/open/v1/agent/products?limit=50')).json().data.find((p: { id: string }) => p.id === sku)).toMatchObject({ quota_available: 0, free_available: 0 });

    // A descendant (two levels down) buys from its ancestor's quota.
    const leafOrder = await buy(leaf, sku, 2);
    expect(leafOrder.statusCode, leafOrder.body).toBe(201);
    expect(await figures()).toEqual({ quota: 0, free: 0 });
    expect((await buy(leaf, sku)).statusCode).toBe(409);

    // With free stock again, the quota-less buyer takes the free pool; the agent's own quota is still used first.
    await stockCodes(t, sku, 2);
    await admin('POST', `/admin/stock/allocations/${allocationId}/adjust`, { delta: 1 });
    expect(await figures()).toEqual({ quota: 1, free: 1 });
    expect((await buy(mid, sku)).statusCode).toBe(201);
    expect(await figures()).toEqual({ quota: 0, free: 1 });
    expect((await buy(mid, sku)).statusCode).toBe(201);
    expect(await figures()).toEqual({ quota: 0, free: 0 });
  });
});
