import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, TEST_PASSWORD } from '../helpers/boot.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { roles, rolePermissions, type Permission } from '../../src/modules/auth/permissions.js';
import { assertSafeResponse, buildWorld, businessSnapshot, mp, signedCall, uniq, type World } from './world.js';

/** OWASP API Security Top 10 (2023), API1-API3: who may touch which object, function and property. */
let w: World;
let bWithdrawal: string;
let bTicket: string;
let bGift: string;
const bank = { method: 'bank_transfer', payout_account: '6222 0212 3456 7890 123' };

beforeAll(async () => {
  w = await buildWorld();
  const { t, agentB, custB } = w;
  // Agent B has settled commission and asks for a withdrawal; customer B has a ticket and a pending gift.
  await t.platform.db.transaction((tx) =>
    t.services.ledger.post(tx, { kind: 'commission_settled', refType: 'test', refId: agentB.id, postings: [{ account: accounts.commissionExpense, amountFen: -50_000 }, { account: accounts.commissionAvailable(agentB.id), amountFen: 50_000 }] }),
  );
  const wd = await signedCall(t, agentB.key, 'POST', '/open/v1/withdrawals', { amount_fen: 20_000, ...bank }, `wd-${uniq()}`);
  expect(wd.statusCode, wd.body).toBe(201);
  bWithdrawal = wd.json().id;
  const codeId = (await mp(t, custB, 'POST', `/mp/v1/orders/${custB.orderId}/reveal`)).json().codes[0].code_id as string;
  const ticket = await mp(t, custB, 'POST', '/mp/v1/after-sales', { order_id: custB.orderId, code_ids: [codeId], description: 'does not work' }, `ast-${uniq()}`);
  expect(ticket.statusCode, ticket.body).toBe(201);
  bTicket = ticket.json().id;
  const second = await mp(t, custB, 'POST', '/mp/v1/orders', { sku_id: w.skuId, quantity: 1, payment: 'balance' }, `o-${uniq()}`);
  expect(second.statusCode, second.body).toBe(201);
  const ready = (await mp(t, custB, 'GET', '/mp/v1/wallet?state=ready')).json().data[0].id as string;
  const gift = await mp(t, custB, 'POST', `/mp/v1/wallet/codes/${ready}/gift`, {}, `g-${uniq()}`);
  expect(gift.statusCode, gift.body).toBe(201);
  bGift = gift.json().id;
});
afterAll(() => w?.close());

describe('API1 broken object level authorization', () => {
  it("agent A cannot read or act on agent B's orders, codes, withdrawals, statement or team", async () => {
    const { t, agentA, agentB } = w;
    const probes: [string, string, unknown?][] = [
      ['GET', `/open/v1/orders/${agentB.orderId}`],
      ['GET', `/open/v1/orders/${agentB.orderId}/codes`],
      ['POST', `/open/v1/orders/${agentB.orderId}/reveal-link`, {}],
      ['POST', `/open/v1/orders/${agentB.orderId}/awaiting-choice`, { choice: 'refund' }],
      ['GET', `/open/v1/agent/team/${agentB.id}/scope`],
      ['PUT', `/open/v1/agent/team/${agentB.id}/scope`, { mode: 'all' }],
      ['POST', `/open/v1/agent/applications/${agentB.id}/approve`, {}],
    ];
    for (const [method, url, body] of probes) {
      const res = await signedCall(t, agentA.key, method, url, body, `p-${uniq()}`);
      assertSafeResponse(res, w.secrets, `${method} ${url}`);
      expect([400, 403, 404], `${method} ${url}: ${res.body}`).toContain(res.statusCode);
    }
    // Lists show only A's own objects.
    const orders = (await signedCall(t, agentA.key, 'GET', '/open/v1/orders?limit=100')).json().data as { id: string; buyer_id: string }[];
    expect(orders.map((o) => o.id)).toEqual([agentA.orderId]);
    const withdrawals = await signedCall(t, agentA.key, 'GET', '/open/v1/withdrawals');
    expect(withdrawals.statusCode).toBe(200);
    expect(withdrawals.json().data).toEqual([]);
    expect(withdrawals.body).not.toContain(bWithdrawal);
    const statement = await signedCall(t, agentA.key, 'GET', '/open/v1/statement');
    expect(statement.body).not.toContain(agentB.id);
    for (const url of ['/open/v1/agent/summary', '/open/v1/agent/sales', '/open/v1/agent/team', '/open/v1/agent/applications']) {
      const res = await signedCall(t, agentA.key, 'GET', url);
      assertSafeResponse(res, w.secrets, url);
      expect(res.body, url).not.toContain(agentB.orderId);
      expect(res.body, url).not.toContain(agentB.id);
    }
    // Not even a query parameter naming B widens A's view.
    const sneaky = await signedCall(t, agentA.key, 'GET', `/open/v1/orders?limit=100&buyer_id=${agentB.id}`);
    expect(sneaky.statusCode).toBe(400);
  });

  it("customer A cannot read customer B's order, codes, wallet, ticket or gift through /mp/v1", async () => {
    const { t, custA, custB } = w;
    const before = await businessSnapshot(t);
    for (const [method, url, body] of [
      ['GET', `/mp/v1/orders/${custB.orderId}`],
      ['POST', `/mp/v1/orders/${custB.orderId}/reveal`],
      ['GET', `/mp/v1/after-sales/${bTicket}`],
      ['POST', `/mp/v1/wallet/gifts/${bGift}/cancel`],
      ['POST', '/mp/v1/after-sales', { order_id: custB.orderId, code_ids: [], description: 'mine?' }],
    ] as [string, string, object?][]) {
      const res = await mp(t, custA, method, url, body, `k-${uniq()}`);
      assertSafeResponse(res, w.secrets, url);
      expect([400, 404], `${method} ${url}: ${res.body}`).toContain(res.statusCode);
    }
    const bCodes = (await mp(t, custB, 'GET', '/mp/v1/wallet')).json().data.map((c: { id: string }) => c.id) as string[];
    expect(bCodes.length).toBeGreaterThan(0);
    for (const id of bCodes) {
      expect((await mp(t, custA, 'POST', `/mp/v1/wallet/codes/${id}/reveal`)).statusCode).toBe(404);
      expect((await mp(t, custA, 'POST', `/mp/v1/wallet/codes/${id}/gift`, {}, `g-${uniq()}`)).statusCode).toBe(404);
    }
    const lists = await Promise.all(['/mp/v1/orders', '/mp/v1/wallet', '/mp/v1/after-sales', '/mp/v1/coupons'].map((u) => mp(t, custA, 'GET', u)));
    for (const res of lists) for (const id of [custB.orderId, bTicket, ...bCodes]) expect(res.body).not.toContain(id);
    expect(await businessSnapshot(t)).toBe(before);
  });

  it('an agent key cannot read a customer session route, nor a customer token an agent route', async () => {
    const { t, custA, agentA } = w;
    expect((await t.inject({ method: 'GET', url: `/open/v1/orders/${agentA.orderId}`, headers: bearer(custA.token) })).statusCode).toBe(401);
    expect((await signedCall(t, agentA.key, 'GET', `/mp/v1/orders/${custA.orderId}`)).statusCode).toBe(401);
  });
});

describe('API5 broken function level authorization (table-driven over the permissions map)', () => {
  it('every admin route refuses, with 403, each role that lacks its permission, and admits the roles that have it', async () => {
    const { t } = w;
    // Logging out or changing one's password would end the session the table runs on (replay.test.ts covers them).
    const selfEnding = new Set(['POST /admin/auth/logout', 'POST /admin/auth/password']);
    const guards = (t.app as unknown as { routeGuards: { method: string; url: string; permission?: Permission }[] }).routeGuards.filter((g) => g.permission && !selfEnding.has(`${g.method} ${g.url}`));
    expect(guards.length).toBeGreaterThan(150);
    const tokens = Object.fromEntries(await Promise.all(roles.map(async (r) => [r, (await t.loginAs(r)).token] as const)));
    let refused = 0;
    let admitted = 0;
    let turn = 0;
    for (const g of guards) {
      const url = g.url.replace(/:(\w+)/g, 'xxx_00000000000000000000000000');
      // Every role without the permission is tried; of those with it, one per route, in turn (each role gets its share).
      const holders = roles.filter((r) => rolePermissions[r].has(g.permission!));
      const admittedProbe = holders[turn++ % Math.max(holders.length, 1)];
      for (const role of roles.filter((r) => !rolePermissions[r].has(g.permission!) || r === admittedProbe)) {
        const res = await t.inject({ method: g.method as 'GET', url, headers: bearer(tokens[role]!) });
        const allowed = rolePermissions[role].has(g.permission!);
        const what = `${role} ${g.method} ${g.url} (${g.permission}) -> ${res.statusCode} ${res.body.slice(0, 200)}`;
        assertSafeResponse(res, w.secrets, what);
        if (allowed) {
          expect(res.json()?.error?.code, what).not.toBe('FORBIDDEN');
          admitted++;
        } else {
          expect([res.statusCode, res.json().error.code], what).toEqual([403, 'FORBIDDEN']);
          refused++;
        }
      }
    }
    console.log(`function-level: ${guards.length} admin routes x ${roles.length} roles: ${refused} refused, ${admitted} admitted`);
    expect(refused).toBeGreaterThan(300);
    expect(admitted).toBe(guards.length);
  });

  it('a store staff key may only redeem; an agent key, a customer token and nobody get 401 on admin routes', async () => {
    const { t, agentA, custA } = w;
    expect((await t.inject({ method: 'GET', url: '/admin/orders?limit=1', headers: bearer(custA.token) })).statusCode).toBe(401);
    expect((await signedCall(t, agentA.key, 'GET', '/admin/orders?limit=1')).statusCode).toBe(401);
    expect((await t.inject({ method: 'GET', url: '/admin/orders?limit=1' })).statusCode).toBe(401);
    const merchant = await t.inject({ method: 'POST', url: '/admin/merchants', headers: { ...bearer(w.owner.token), 'idempotency-key': `m-${uniq()}` }, payload: { name: 'Cafe', product_ids: [(await t.services.catalog.getSku(w.skuId)).productId] } });
    expect(merchant.statusCode, merchant.body).toBe(201);
    const store = await t.inject({ method: 'POST', url: `/admin/merchants/${merchant.json().id}/stores`, headers: { ...bearer(w.owner.token), 'idempotency-key': `s-${uniq()}` }, payload: { name: 'Front desk' } });
    expect(store.statusCode, store.body).toBe(201);
    const staff = await t.inject({ method: 'POST', url: `/admin/stores/${store.json().id}/staff`, headers: { ...bearer(w.owner.token), 'idempotency-key': `ss-${uniq()}` }, payload: { name: 'Clerk' } });
    expect(staff.statusCode, staff.body).toBe(201);
    const key = staff.json().api_key as { id: string; secret: string };
    const buy = await signedCall(t, key, 'POST', '/open/v1/orders', { sku_id: w.skuId, quantity: 1, payment: 'balance' }, `o-${uniq()}`);
    expect([buy.statusCode, buy.json().error.code]).toEqual([403, 'FORBIDDEN']);
    expect((await signedCall(t, key, 'GET', `/open/v1/orders/${agentA.orderId}`)).statusCode).toBe(403);
    expect((await signedCall(t, key, 'GET', '/open/v1/redemptions')).statusCode).toBe(200);
  });
});

describe('API3 excessive data exposure: secrets are shown once, to whoever asked, and never in lists or reads', () => {
  it('API key, webhook and supplier secrets, payout accounts and phones stay out of every list and read', async () => {
    const { t, owner, agentA, custA } = w;
    const as = (method: string, url: string, payload?: object) => t.inject({ method: method as 'POST', url, payload, headers: { ...bearer(owner.token), 'idempotency-key': `k-${uniq()}` } });
    const hook = await as('POST', '/admin/webhooks/endpoints', { owner_type: 'agent', owner_id: agentA.id, url: 'https://hooks.example.com/x', events: ['order.paid'] });
    expect(hook.statusCode, hook.body).toBe(201);
    const hookSecret = (await as('POST', `/admin/webhooks/endpoints/${hook.json().id}/rotate-secret`, {})).json().secret as string;
    const supplier = await as('POST', '/admin/suppliers', { name: 'creds', base_url: 'https://api.supplier.example.com/', api_key: 'supplier-api-key-0123456789', callback_secret: 'supplier-callback-0123456789' });
    expect(supplier.statusCode, supplier.body).toBe(201);
    const hidden = [hookSecret, 'supplier-api-key-0123456789', 'supplier-callback-0123456789', agentA.key.secret, w.agentB.key.secret, '6222021234567890123', '6222 0212 3456 7890 123', custA.phone];
    const reads = [
      as('GET', '/admin/webhooks/endpoints?limit=100'), as('GET', '/admin/api-keys'), as('GET', '/admin/suppliers?limit=100'), as('GET', `/admin/suppliers/${supplier.json().id}/products?limit=5`),
      as('GET', '/admin/withdrawals?limit=100'), as('GET', `/admin/withdrawals/${bWithdrawal}`), as('GET', '/admin/customers?limit=100'), as('GET', `/admin/customers/${custA.id}`),
      as('GET', '/admin/audit?limit=100'), as('GET', '/admin/orders?limit=100'), signedCall(t, agentA.key, 'GET', '/open/v1/webhooks/endpoints'), signedCall(t, w.agentB.key, 'GET', '/open/v1/withdrawals'),
      mp(t, custA, 'GET', '/mp/v1/me'),
    ];
    for (const res of await Promise.all(reads)) {
      expect(res.statusCode, res.body).toBe(200);
      for (const s of hidden) expect(res.body.includes(s), `${res.raw.req.url} shows ${s.slice(0, 6)}…`).toBe(false);
    }
    // The one place a payout account is shown in full: its own audited read, for finance.
    const payout = await as('GET', `/admin/withdrawals/${bWithdrawal}/payout-account`);
    expect(payout.statusCode, payout.body).toBe(200);
  });
});

describe('API3 broken object property level authorization (mass assignment)', () => {
  it('price, status, owner, role and balance fields in bodies are refused with 400 and change nothing', async () => {
    const { t, agentA, custA, owner } = w;
    const before = await businessSnapshot(t);
    const cases: [string, () => ReturnType<typeof signedCall>][] = [
      ['open order price', () => signedCall(t, agentA.key, 'POST', '/open/v1/orders', { sku_id: w.skuId, quantity: 1, payment: 'balance', amount_fen: 1 }, `m-${uniq()}`)],
      ['open order status', () => signedCall(t, agentA.key, 'POST', '/open/v1/orders', { sku_id: w.skuId, quantity: 1, payment: 'balance', status: 'delivered' }, `m-${uniq()}`)],
      ['open order buyer', () => signedCall(t, agentA.key, 'POST', '/open/v1/orders', { sku_id: w.skuId, quantity: 1, payment: 'balance', buyer_id: w.agentB.id }, `m-${uniq()}`)],
      ['mp order price', () => mp(t, custA, 'POST', '/mp/v1/orders', { sku_id: w.skuId, quantity: 1, payment: 'balance', price_fen: 1 }, `m-${uniq()}`)],
      ['mp order owner', () => mp(t, custA, 'POST', '/mp/v1/orders', { sku_id: w.skuId, quantity: 1, payment: 'balance', customer_id: w.custB.id }, `m-${uniq()}`)],
      ['withdrawal status', () => signedCall(t, agentA.key, 'POST', '/open/v1/withdrawals', { amount_fen: 10_000, ...bank, status: 'paid' }, `m-${uniq()}`)],
      ['withdrawal fee', () => signedCall(t, agentA.key, 'POST', '/open/v1/withdrawals', { amount_fen: 10_000, ...bank, fee_fen: 0 }, `m-${uniq()}`)],
      ['api key secret', () => t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'agent', owner_id: agentA.id, name: 'x', secret: 'sk_chosen' } })],
      ['staff role escalation by self', () => t.inject({ method: 'POST', url: '/admin/auth/password', headers: bearer(owner.token), payload: { current_password: TEST_PASSWORD, new_password: 'another long password 1', role: 'owner' } })],
      ['customer resolve balance', () => signedCall(t, agentA.key, 'POST', '/open/v1/customers/resolve', { provider: 'telegram', external_id: '1', balance_fen: 1_000_000 })],
      ['coupon claim amount', () => mp(t, custA, 'POST', '/mp/v1/coupons/claim', { template_id: 'cpt_00000000000000000000000000', amount_off_fen: 99_999 }, `m-${uniq()}`)],
    ];
    for (const [what, call] of cases) {
      const res = await call();
      assertSafeResponse(res, w.secrets, what);
      expect([res.statusCode, res.json().error.code], `${what}: ${res.body}`).toEqual([400, 'VALIDATION_FAILED']);
      expect(res.json().error.details.some((d: { message: string }) => d.message === 'is not an allowed field'), `${what}: ${res.body}`).toBe(true);
    }
    expect(await businessSnapshot(t)).toBe(before);
    // Read back: prices and balances are what the platform set, not what anyone sent.
    const order = (await signedCall(t, agentA.key, 'GET', `/open/v1/orders/${agentA.orderId}`)).json();
    expect(order.order?.amount_fen ?? order.amount_fen).toBe(1_000);
  });

  it('a non-owner cannot give a staff member a role above theirs (403), and a role change is read back unchanged', async () => {
    const { t } = w;
    const ops = await t.loginAs('operations');
    const support = await t.loginAs('support');
    const res = await t.inject({ method: 'PATCH', url: `/admin/staff/${support.userId}`, headers: bearer(ops.token), payload: { role: 'owner' } });
    expect(res.statusCode).toBe(403);
    const me = await t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(support.token) });
    expect(me.json().user.role).toBe('support');
  });
});
