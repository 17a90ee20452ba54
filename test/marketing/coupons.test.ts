import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { signSandboxNotification } from '../../src/modules/payments/sandbox.js';
import { sandboxSecret } from '../../src/services.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let marketing: string;
let ownerId: string;
let call: (method: 'GET' | 'POST', url: string, body?: object, idem?: string) => ReturnType<TestApp['inject']>;

beforeAll(async () => {
  // No seeded risk rules: this file claims many coupons from one IP at a frozen clock; one test adds its own rule.
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  const owner = await t.loginAs('owner');
  ownerId = owner.userId;
  marketing = (await t.loginAs('operations')).token;
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'partner', owner_id: 'shop-coupons', name: 'shop' } })).json() as { id: string; secret: string };
  call = (method, url, body, idem) => {
    const raw = body ? JSON.stringify(body) : '';
    return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
  };
});
afterAll(() => t.close());

const inDays = (d: number) => new Date(clock.now().getTime() + d * 24 * 60 * MINUTE).toISOString();
const uniq = () => randomBytes(6).toString('hex');
const who = (id = uniq()) => ({ provider: 'partner' as const, external_id: `c-${id}` });
const admin = (method: 'GET' | 'POST', url: string, payload?: object, headers: Record<string, string> = {}) => t.inject({ method, url, payload, headers: { ...bearer(marketing), ...headers } });
async function template(body: object): Promise<{ id: string }> {
  const res = await admin('POST', '/admin/marketing/coupon-templates', { name: `coupon ${uniq()}`, kind: 'fixed', amount_off_fen: 1_000, valid_days: 30, ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}
const one = async <R>(text: string, values: unknown[]) => (await t.platform.database.executeSql<R>(text, values)).rows[0]!;
const counters = (id: string) => one<{ issued_count: number; used_count: number; spent_fen: string }>('select issued_count, used_count, spent_fen from coupon_templates where id = $1', [id]).then((r) => ({ issued: Number(r.issued_count), used: Number(r.used_count), spent: Number(r.spent_fen) }));
async function customerId(c: { provider: 'partner'; external_id: string }) {
  return (await t.services.customers.resolve({ identity: { provider: c.provider, externalId: c.external_id } })).customerId;
}
async function grantTo(templateId: string, customer: string) {
  return (await t.platform.db.transaction((tx) => t.services.coupons.grant(tx, { templateId, customerId: customer, source: 'test', sourceRef: uniq() }))).couponId;
}

describe('campaigns and templates', () => {
  it('creates, lists and reads campaigns; a template names its campaign', async () => {
    const res = await admin('POST', '/admin/marketing/campaigns', { name: 'Double 11', kind: 'coupon', budget_fen: 1_000_000, ends_at: inDays(10) });
    expect(res.statusCode, res.body).toBe(201);
    const cmp = res.json();
    expect(cmp).toMatchObject({ name: 'Double 11', kind: 'coupon', budget_fen: 1_000_000, status: 'active' });
    expect((await admin('GET', `/admin/marketing/campaigns/${cmp.id}`)).json().id).toBe(cmp.id);
    const list = (await admin('GET', '/admin/marketing/campaigns?limit=1&kind=coupon')).json();
    expect(list.data.map((c: { id: string }) => c.id)).toEqual([cmp.id]);
    const tpl = await template({ campaign_id: cmp.id });
    expect((await admin('GET', `/admin/marketing/coupon-templates/${tpl.id}`)).json()).toMatchObject({ campaign_id: cmp.id, issued_count: 0, status: 'active' });
    expect((await admin('POST', '/admin/marketing/campaigns', { name: 'x', kind: 'coupon', starts_at: inDays(2), ends_at: inDays(1) })).json().error.details).toEqual([{ field: 'ends_at', message: 'must be after starts_at' }]);
  });

  it('refuses inconsistent terms with 400 naming the field, and writes nothing', async () => {
    const cases: [object, string][] = [
      [{ kind: 'percent', amount_off_fen: undefined }, 'percent_off_bps'],
      [{ kind: 'threshold', amount_off_fen: 5_000, min_amount_fen: 5_000 }, 'amount_off_fen'],
      [{ kind: 'threshold' }, 'min_amount_fen'],
      [{ scope: 'products' }, 'scope_ids'],
      [{ valid_days: undefined }, 'valid_until'],
      [{ per_user_limit: 5, total_limit: 2 }, 'per_user_limit'],
      [{ campaign_id: 'cmp_01ARZ3NDEKTSV4RRFFQ69G5FAV' }, 'campaign_id'],
      [{ amount_off_fen: -1 }, 'amount_off_fen'],
      [{ surprise: true }, 'surprise'],
    ];
    const before = (await t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from coupon_templates')).rows[0]!.n;
    for (const [body, field] of cases) {
      const res = await admin('POST', '/admin/marketing/coupon-templates', { name: 'bad', kind: 'fixed', amount_off_fen: 1_000, valid_days: 30, ...body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    expect((await t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from coupon_templates')).rows[0]!.n).toBe(before);
    const support = await t.loginAs('support');
    expect((await t.inject({ method: 'POST', url: '/admin/marketing/coupon-templates', headers: bearer(support.token), payload: { name: 'x', kind: 'fixed', amount_off_fen: 1, valid_days: 1 } })).statusCode).toBe(403);
  });
});

describe('claims', () => {
  it('per-customer and total limits, idempotent retries, pause/resume, grant-only templates', async () => {
    const tpl = await template({ claimable: true, per_user_limit: 2, total_limit: 3 });
    const a = who();
    const first = await call('POST', '/open/v1/coupons/claim', { template_id: tpl.id, customer: a }, `claim-${uniq()}`);
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({ template_id: tpl.id, state: 'available', source: 'claim', terms: { kind: 'fixed', amount_off_fen: 1_000 } });
    const key = `claim-${uniq()}`;
    const second = await call('POST', '/open/v1/coupons/claim', { template_id: tpl.id, customer: a }, key);
    expect(second.statusCode).toBe(201);
    const replay = await call('POST', '/open/v1/coupons/claim', { template_id: tpl.id, customer: a }, key);
    expect([replay.statusCode, replay.json().id]).toEqual([200, second.json().id]);
    const third = await call('POST', '/open/v1/coupons/claim', { template_id: tpl.id, customer: a }, `claim-${uniq()}`);
    expect(third.statusCode).toBe(409);
    expect(third.json().error.details).toEqual([expect.objectContaining({ field: 'template_id', code: 'COUPON_PER_USER_LIMIT' })]);

    await admin('POST', `/admin/marketing/coupon-templates/${tpl.id}/pause`);
    const paused = await call('POST', '/open/v1/coupons/claim', { template_id: tpl.id, customer: who() }, `claim-${uniq()}`);
    expect([paused.statusCode, paused.json().error.details[0].field]).toEqual([422, 'template_id']);
    await admin('POST', `/admin/marketing/coupon-templates/${tpl.id}/resume`);
    expect((await call('POST', '/open/v1/coupons/claim', { template_id: tpl.id, customer: who() }, `claim-${uniq()}`)).statusCode).toBe(201);
    const over = await call('POST', '/open/v1/coupons/claim', { template_id: tpl.id, customer: who() }, `claim-${uniq()}`);
    expect([over.statusCode, over.json().error.details[0].code]).toEqual([409, 'COUPONS_EXHAUSTED']);
    expect(await counters(tpl.id)).toEqual({ issued: 3, used: 0, spent: 0 });

    // The customer's wallet through the open API, with the state filter; an unknown customer has none.
    const mine = (await call('GET', `/open/v1/coupons?provider=partner&external_id=${a.external_id}&limit=1`)).json();
    expect([mine.data.length, mine.has_more]).toEqual([1, true]);
    const rest = (await call('GET', `/open/v1/coupons?provider=partner&external_id=${a.external_id}&limit=5&cursor=${mine.next_cursor}`)).json();
    expect(rest.data.length).toBe(1);
    expect((await call('GET', `/open/v1/coupons?provider=partner&external_id=${a.external_id}&state=used`)).json().data).toEqual([]);
    expect((await call('GET', `/open/v1/coupons?provider=partner&external_id=nobody-${uniq()}`)).json().data).toEqual([]);

    const grantOnly = await template({});
    expect((await call('POST', '/open/v1/coupons/claim', { template_id: grantOnly.id, customer: a }, `claim-${uniq()}`)).statusCode).toBe(404);
  });

  it('staff grant: audited, the same Idempotency-Key gives the same coupon; void', async () => {
    const tpl = await template({ per_user_limit: 3 });
    const cus = await customerId(who());
    const key = `grant-${uniq()}`;
    const g = await admin('POST', `/admin/marketing/coupon-templates/${tpl.id}/grant`, { customer_id: cus, reason: 'apology for a late delivery' }, { 'idempotency-key': key });
    expect(g.statusCode, g.body).toBe(201);
    const again = await admin('POST', `/admin/marketing/coupon-templates/${tpl.id}/grant`, { customer_id: cus, reason: 'apology for a late delivery' }, { 'idempotency-key': key });
    expect([again.statusCode, again.json().id]).toEqual([200, g.json().id]);
    const audit = await t.platform.database.executeSql<{ action: string }>("select action from audit_log where target_id = $1", [g.json().id]);
    expect(audit.rows.map((r) => r.action)).toEqual(['coupon.granted']);
    const issued = (await admin('GET', `/admin/marketing/coupons?template_id=${tpl.id}`)).json();
    expect(issued.data.map((c: { id: string }) => c.id)).toEqual([g.json().id]);
    const voided = await admin('POST', `/admin/marketing/coupons/${g.json().id}/void`, { reason: 'granted by mistake' });
    expect(voided.json().state).toBe('void');
    expect((await admin('POST', `/admin/marketing/coupons/${g.json().id}/void`, { reason: 'granted by mistake' })).statusCode).toBe(409);
  });

  it('the risk gate (coupon_claim) can refuse a claim: nothing is written', async () => {
    const tpl = await template({ claimable: true, amount_off_fen: 8_000 });
    const rule = await t.services.risk.createRule({ name: 'no big coupons', action: 'block', mode: 'enforce', condition: { field: 'couponValueFen', op: 'gte', value: 8_000 }, appliesTo: ['coupon_claim'] }, { id: ownerId });
    try {
      const res = await call('POST', '/open/v1/coupons/claim', { template_id: tpl.id, customer: who() }, `claim-${uniq()}`);
      expect([res.statusCode, res.json().error.code]).toEqual([403, 'RISK_BLOCKED']);
      expect(await counters(tpl.id)).toEqual({ issued: 0, used: 0, spent: 0 });
    } finally {
      await t.services.risk.updateRule(rule.id, { enabled: false }, { id: ownerId });
    }
    expect((await call('POST', '/open/v1/coupons/claim', { template_id: tpl.id, customer: who() }, `claim-${uniq()}`)).statusCode).toBe(201);
  });

  it('50 customers claim at once a coupon limited to 10: exactly 10 issued', async () => {
    const tpl = await template({ claimable: true, total_limit: 10 });
    const results = await Promise.all(Array.from({ length: 50 }, () => call('POST', '/open/v1/coupons/claim', { template_id: tpl.id, customer: who() }, `claim-${uniq()}`)));
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 201)).toHaveLength(10);
    expect(codes.filter((c) => c === 409)).toHaveLength(40);
    expect(Number((await one<{ n: number }>('select count(*)::int as n from customer_coupons where template_id = $1', [tpl.id])).n)).toBe(10);
    expect(await counters(tpl.id)).toEqual({ issued: 10, used: 0, spent: 0 });
  });
});

describe('coupons on orders', () => {
  let sku: string;
  beforeAll(async () => {
    sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 40);
  });
  const order = (customer: { provider: 'partner'; external_id: string }, couponId: string) => call('POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'sandbox', customer, coupon_id: couponId }, `order-${uniq()}`);

  it('20 orders at once on a budget that covers 5: exactly 5 use their coupon, spent never above the budget', async () => {
    const tpl = await template({ amount_off_fen: 1_000, budget_fen: 5_000 });
    const buyers = Array.from({ length: 20 }, () => who());
    const coupons = await Promise.all(buyers.map(async (b) => grantTo(tpl.id, await customerId(b))));
    const results = await Promise.all(buyers.map((b, i) => order(b, coupons[i]!)));
    const won = results.filter((r) => r.statusCode === 201);
    expect(won).toHaveLength(5);
    for (const r of won) expect(r.json().order).toMatchObject({ discount_fen: 1_000, amount_fen: 8_600, coupon_id: expect.stringMatching(/^ucp_/) });
    for (const r of results.filter((x) => x.statusCode !== 201)) expect([r.statusCode, r.json().error.details[0]]).toEqual([422, expect.objectContaining({ field: 'coupon_id', code: 'COUPON_BUDGET_EXHAUSTED' })]);
    expect(await counters(tpl.id)).toEqual({ issued: 20, used: 5, spent: 5_000 });
    const used = await one<{ n: number }>("select count(*)::int as n from customer_coupons where template_id = $1 and state = 'used'", [tpl.id]);
    expect(Number(used.n)).toBe(5);
    const orders = await one<{ n: number; d: string }>('select count(*)::int as n, sum(discount_fen)::text as d from orders where coupon_id = any($1::text[])', [coupons]);
    expect([Number(orders.n), Number(orders.d)]).toEqual([5, 5_000]);
  });

  it('one coupon, two orders racing: one wins; cancelling it gives the coupon back', async () => {
    const tpl = await template({ amount_off_fen: 500, budget_fen: 10_000 });
    const buyer = who();
    const coupon = await grantTo(tpl.id, await customerId(buyer));
    const [a, b] = await Promise.all([order(buyer, coupon), order(buyer, coupon)]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409]);
    const loser = a.statusCode === 409 ? a : b;
    expect(loser.json().error.details[0]).toMatchObject({ field: 'coupon_id', code: 'COUPON_USED' });
    const winner = (a.statusCode === 201 ? a : b).json().order;
    expect(await counters(tpl.id)).toEqual({ issued: 1, used: 1, spent: 500 });

    // Unpaid past its deadline: cancelled, and the coupon and the budget come back in the same transaction.
    clock.advance(30 * MINUTE);
    await t.services.orders.cancelExpired();
    expect((await t.services.orders.get(winner.id)).status).toBe('cancelled');
    expect(await t.services.coupons.getCoupon(coupon)).toMatchObject({ state: 'available', order_id: null });
    expect(await counters(tpl.id)).toEqual({ issued: 1, used: 0, spent: 0 });
    const again = await order(buyer, coupon);
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json().order.discount_fen).toBe(500);
  });

  it('a payment after the deadline takes the coupon again, or is honoured if the coupon was used meanwhile', async () => {
    const tpl = await template({ amount_off_fen: 700, budget_fen: 10_000 });
    const payLate = async (res: Awaited<ReturnType<typeof order>>) => {
      const pay = res.json().payment as { trade_no: string; amount_fen: number };
      const note = signSandboxNotification(sandboxSecret(t.platform), { trade_no: pay.trade_no, amount_fen: pay.amount_fen, status: 'succeeded', txn_id: `late-${uniq()}` }, clock.now());
      expect((await t.inject({ method: 'POST', url: '/payments/notify/sandbox', headers: note.headers, payload: note.body })).statusCode).toBe(204);
    };
    // Not used meanwhile: the late payment takes it again.
    const buyer = who();
    const coupon = await grantTo(tpl.id, await customerId(buyer));
    const first = await order(buyer, coupon);
    expect(first.statusCode, first.body).toBe(201);
    clock.advance(30 * MINUTE);
    await t.services.orders.cancelExpired();
    expect(await t.services.coupons.getCoupon(coupon)).toMatchObject({ state: 'available' });
    await payLate(first);
    expect((await t.services.orders.get(first.json().order.id)).status).toBe('delivered');
    expect(await t.services.coupons.getCoupon(coupon)).toMatchObject({ state: 'used', order_id: first.json().order.id });
    expect(await counters(tpl.id)).toMatchObject({ used: 1, spent: 700 });

    // Used by a second order meanwhile: the late payment is still honoured; the coupon stays with the second order.
    const other = who();
    const coupon2 = await grantTo(tpl.id, await customerId(other));
    const late = await order(other, coupon2);
    clock.advance(30 * MINUTE);
    await t.services.orders.cancelExpired();
    const second = await order(other, coupon2);
    expect(second.statusCode, second.body).toBe(201);
    await payLate(late);
    expect((await t.services.orders.get(late.json().order.id)).status).toBe('delivered');
    expect(await t.services.coupons.getCoupon(coupon2)).toMatchObject({ state: 'used', order_id: second.json().order.id });
    expect(await counters(tpl.id)).toMatchObject({ used: 2, spent: 1_400 });
    expect((await verifyBooks(t.platform)).ok).toBe(true);
  });

  it('someone else\'s coupon, a coupon for another product or one taken out of scope: 422 on coupon_id, no order', async () => {
    const other = await createCodeSku(t, { retailPriceFen: 9_600 });
    const scoped = await template({ scope: 'skus', scope_ids: [other] });
    const buyer = who();
    const mine = await grantTo(scoped.id, await customerId(buyer));
    const wrongSku = await order(buyer, mine);
    expect([wrongSku.statusCode, wrongSku.json().error.details[0].field]).toEqual([422, 'coupon_id']);
    const theirs = await grantTo((await template({})).id, await customerId(who()));
    const stolen = await order(buyer, theirs);
    expect([stolen.statusCode, stolen.json().error.details[0].field]).toEqual([422, 'coupon_id']);
    expect((await t.services.coupons.getCoupon(theirs)).state).toBe('available');
  });
  it('a coupon past its end shows as expired, cannot be used, and the job marks it', async () => {
    const tpl = await template({ valid_days: 1 });
    const buyer = who();
    const coupon = await grantTo(tpl.id, await customerId(buyer));
    clock.advance(2 * 24 * 60 * MINUTE);
    expect((await t.services.coupons.getCoupon(coupon)).state).toBe('expired');
    expect((await admin('GET', `/admin/marketing/coupons?template_id=${tpl.id}&state=expired`)).json().data.map((c: { id: string }) => c.id)).toEqual([coupon]);
    const late = await order(buyer, coupon);
    expect([late.statusCode, late.json().error.details[0].message]).toEqual([422, 'the coupon has expired']);
    expect(await t.services.coupons.expireDue()).toBeGreaterThanOrEqual(1);
    expect(await one<{ state: string }>('select state from customer_coupons where id = $1', [coupon])).toEqual({ state: 'expired' });
  });
});

describe('new-user pack', () => {
  it('is issued exactly once to a new customer, even when its first contacts race', async () => {
    const packs = [await template({ new_user_pack: true, amount_off_fen: 300 }), await template({ new_user_pack: true, kind: 'percent', amount_off_fen: undefined, percent_off_bps: 1_000, max_off_fen: 2_000 })];
    try {
      const identity = { provider: 'telegram' as const, externalId: `tg-${uniq()}` };
      const resolved = await Promise.all(Array.from({ length: 8 }, () => t.services.customers.resolve({ identity })));
      const ids = new Set(resolved.map((r) => r.customerId));
      expect(ids.size).toBe(1);
      expect(resolved.filter((r) => r.created)).toHaveLength(1);
      const [cus] = [...ids];
      // And whoever else asks for the pack at the same time (a retry, a second channel) gets nothing more.
      const extra = await Promise.all(Array.from({ length: 5 }, () => t.services.coupons.issueNewUserPack(cus!)));
      expect(extra.flatMap((e) => e.issued)).toEqual([]);
      const held = await t.platform.database.executeSql<{ template_id: string; n: number }>("select template_id, count(*)::int as n from customer_coupons where customer_id = $1 and source = 'new_user_pack' group by template_id order by template_id", [cus]);
      expect(held.rows.map((r) => [r.template_id, Number(r.n)])).toEqual(packs.map((p) => [p.id, 1]).sort());
      // A customer that already existed gets nothing from resolve.
      await t.services.customers.resolve({ identity });
      expect(Number((await one<{ n: number }>("select count(*)::int as n from customer_coupons where customer_id = $1", [cus])).n)).toBe(2);
    } finally {
      for (const p of packs) await admin('POST', `/admin/marketing/coupon-templates/${p.id}/pause`);
    }
  });
});
