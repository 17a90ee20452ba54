import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { ManualClock } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let owner: { token: string; userId: string };
let support: string;
let finance: string;
let partner: { id: string; secret: string };
let sku: string;
let seq = 0;
const uniq = () => `${Date.now().toString(36)}-${++seq}`;
const PARTNER = 'as-partner';

beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  owner = await t.loginAs('owner');
  support = (await t.loginAs('support')).token;
  finance = (await t.loginAs('finance')).token;
  partner = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'partner', owner_id: PARTNER, name: 'after-sales' } })).json();
  sku = await createCodeSku(t, { retailPriceFen: 9_600, costFen: 8_800 });
  await stockCodes(t, sku, 30);
}, 60_000);
afterAll(() => t?.close());

function call(method: 'GET' | 'POST', url: string, body?: object, idem?: string) {
  const raw = body ? JSON.stringify(body) : '';
  return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(partner.id, partner.secret, method, url, raw, clock.now()) } });
}

const rows = async <R>(sql: string, params: unknown[] = []) => (await t.platform.database.executeSql<R>(sql, params)).rows;
const codeState = async (id: string) => (await rows<{ state: string }>('select state from codes where id = $1', [id]))[0]!.state;

/** A customer of the partner with a paid, delivered and revealed order of `quantity` codes (paid from their balance). */
async function customerWithCodes(quantity = 2, deliveryTarget?: Record<string, unknown>) {
  const external = `cust-${uniq()}`;
  const { customerId } = await t.services.customers.resolve({ identity: { provider: 'partner', externalId: external } });
  const buyer = { type: 'customer' as const, id: customerId };
  await t.services.orders.creditBalance(buyer, 9_600 * quantity, `topup-${external}`, { id: owner.userId });
  const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer, skuId: sku, quantity, channel: 'api', payment: 'balance', apiKeyOwner: `partner:${PARTNER}`, deliveryTarget }, tx));
  expect(order.status).toBe('delivered');
  const codes = await t.services.orders.revealCodes(order.id, { buyer });
  return { external, customerId, buyer, orderId: order.id, codes, customer: { provider: 'partner', external_id: external } };
}

async function openTicket(c: Awaited<ReturnType<typeof customerWithCodes>>, codeIds: string[], idem = `as-${uniq()}`) {
  return call('POST', '/open/v1/after-sales', { customer: c.customer, order_id: c.orderId, code_ids: codeIds, description: 'the brand says the code is invalid', evidence_urls: ['https://img.example.com/shot1.png'] }, idem);
}

function decide(id: string, body: object, token = support) {
  return t.inject({ method: 'POST', url: `/admin/after-sales/${id}/decide`, headers: bearer(token), payload: body });
}

async function expectBooksClean() {
  const v = await verifyBooks(t.platform);
  expect(v.checks.filter((c) => !c.ok)).toEqual([]);
}

describe('after-sales tickets (open API)', () => {
  it('opens a ticket for a revealed code, replays the same Idempotency-Key, lists and shows only the own ones', async () => {
    const c = await customerWithCodes(2);
    const idem = `as-${uniq()}`;
    const res = await openTicket(c, [c.codes[0]!.code_id], idem);
    expect(res.statusCode).toBe(201);
    const ticket = res.json();
    expect(ticket).toMatchObject({ order_id: c.orderId, customer_id: c.customerId, code_ids: [c.codes[0]!.code_id], status: 'open', evidence_urls: ['https://img.example.com/shot1.png'] });
    expect(ticket.id).toMatch(/^ast_/);
    expect(ticket.history).toEqual([expect.objectContaining({ from_status: null, to_status: 'open', actor_type: 'api_key' })]);
    const replay = await openTicket(c, [c.codes[0]!.code_id], idem);
    expect([replay.statusCode, replay.json().id]).toEqual([200, ticket.id]);
    expect((await rows<{ n: number }>('select count(*)::int as n from after_sales_tickets where order_id = $1', [c.orderId]))[0]!.n).toBe(1);

    const mine = (await call('GET', `/open/v1/after-sales?provider=partner&external_id=${c.external}&limit=1`)).json();
    expect(mine.data.map((x: { id: string }) => x.id)).toEqual([ticket.id]);
    expect((await call('GET', `/open/v1/after-sales/${ticket.id}?provider=partner&external_id=${c.external}`)).statusCode).toBe(200);
    const other = await customerWithCodes(1);
    expect((await call('GET', `/open/v1/after-sales/${ticket.id}?provider=partner&external_id=${other.external}`)).statusCode).toBe(404);
    expect((await call('GET', `/open/v1/after-sales?provider=partner&external_id=${other.external}`)).json().data).toEqual([]);
  });

  it('refuses a code not of the customer\'s order (422), another customer\'s order (404), an unrevealed code (422)', async () => {
    const c = await customerWithCodes(1);
    const other = await customerWithCodes(1);
    const foreign = await openTicket(c, [other.codes[0]!.code_id]);
    expect(foreign.statusCode).toBe(422);
    expect(foreign.json().error.details[0].field).toBe('code_ids');
    const badEvidence = await call('POST', '/open/v1/after-sales', { customer: c.customer, order_id: c.orderId, code_ids: [c.codes[0]!.code_id], description: 'broken', evidence_urls: ['javascript:alert(1)'] }, `as-${uniq()}`);
    expect(badEvidence.statusCode).toBe(400);
    const tooMany = await call('POST', '/open/v1/after-sales', { customer: c.customer, order_id: c.orderId, code_ids: [c.codes[0]!.code_id], description: 'broken', evidence_urls: ['https://a.example/1', 'https://a.example/2', 'https://a.example/3', 'https://a.example/4'] }, `as-${uniq()}`);
    expect(tooMany.statusCode).toBe(400);
    const notMine = await call('POST', '/open/v1/after-sales', { customer: c.customer, order_id: other.orderId, code_ids: [other.codes[0]!.code_id], description: 'broken' }, `as-${uniq()}`);
    expect(notMine.statusCode).toBe(404);
    // An unrevealed code: delivered but never seen.
    const buyer = c.buyer;
    await t.services.orders.creditBalance(buyer, 9_600, `topup-${uniq()}`, { id: owner.userId });
    const hidden = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer, skuId: sku, quantity: 1, channel: 'api', payment: 'balance', apiKeyOwner: `partner:${PARTNER}` }, tx));
    const [code] = await rows<{ id: string }>('select id from codes where order_id = $1', [hidden.id]);
    const unseen = await call('POST', '/open/v1/after-sales', { customer: c.customer, order_id: hidden.id, code_ids: [code!.id], description: 'broken' }, `as-${uniq()}`);
    expect(unseen.statusCode).toBe(422);
    expect((await rows<{ n: number }>('select count(*)::int as n from after_sales_tickets where customer_id = $1', [c.customerId]))[0]!.n).toBe(0);
  });

  it('one open ticket per code, also when 6 requests race (409 for the others)', async () => {
    const c = await customerWithCodes(1);
    const code = c.codes[0]!.code_id;
    const results = await Promise.all(Array.from({ length: 6 }, () => openTicket(c, [code])));
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect((await rows<{ n: number }>('select count(*)::int as n from after_sales_ticket_codes where code_id = $1 and active', [code]))[0]!.n).toBe(1);
    expect((await rows<{ n: number }>('select count(*)::int as n from after_sales_tickets where order_id = $1', [c.orderId]))[0]!.n).toBe(1);
  });
});

describe('support decides', () => {
  it('replace: the customer gets a new code of the same SKU, the old one is voided, told by chat and webhook; books clean; decided twice -> 409', async () => {
    const c = await customerWithCodes(2, { channel: 'telegram', chat_id: '777001', kind: 'private', locale: 'en' });
    const faulty = c.codes[1]!;
    const ticket = (await openTicket(c, [faulty.code_id])).json();
    const promoBefore = await t.services.ledger.balance(accounts.promotionExpense.id);
    const res = await decide(ticket.id, { decision: 'replace', note: 'confirmed with the brand' });
    expect(res.statusCode).toBe(200);
    const done = res.json();
    expect(done).toMatchObject({ status: 'resolved_replaced', decision: 'replace', supplier_fault: false });
    expect(done.history.map((h: { to_status: string }) => h.to_status)).toEqual(['open', 'in_review', 'resolved_replaced']);
    expect(await codeState(faulty.code_id)).toBe('voided');
    expect(await codeState(c.codes[0]!.code_id)).toBe('revealed');
    // The new code, through the replacement order (paid by the promotion budget, same customer and partner).
    const replacement = await t.services.orders.get(done.replacement_order_id);
    expect(replacement).toMatchObject({ buyer_id: c.customerId, sku_id: sku, quantity: 1, status: 'delivered', payment_provider: 'promotion' });
    const fresh = await t.services.orders.revealCodes(replacement.id, { buyer: c.buyer });
    expect(fresh).toHaveLength(1);
    expect(c.codes.map((x) => x.secret)).not.toContain(fresh[0]!.secret);
    expect(await t.services.ledger.balance(accounts.promotionExpense.id)).toBe(promoBefore - 9_600);
    // The customer is told: a chat message (once per status) and a webhook event for the partner.
    const messages = await rows<{ chat_id: string; reason: string }>('select chat_id, reason from bot_outbound_messages where dedupe_key = $1', [`after-sales:${ticket.id}:resolved_replaced`]);
    expect(messages).toEqual([{ chat_id: '777001', reason: 'after_sales.decided' }]);
    const events = await rows<{ owner_id: string; status: string }>(`select owner_id, data->>'status' as status from outbox_events where type = 'after_sales.decided' and data->>'ticket_id' = $1`, [ticket.id]);
    expect(events).toEqual([{ owner_id: PARTNER, status: 'resolved_replaced' }]);
    // Decided twice: refused, nothing more moves.
    const again = await decide(ticket.id, { decision: 'refund' });
    expect(again.statusCode).toBe(409);
    expect((await t.services.orders.get(c.orderId)).refunded_fen).toBe(0);
    // The code can be reported again once decided (a new ticket), and the audit trail has the decision.
    expect((await rows<{ n: number }>(`select count(*)::int as n from audit_log where action = 'after_sales.replace' and target_id = $1`, [ticket.id]))[0]!.n).toBe(1);
    await expectBooksClean();
  });

  it('refund: the money goes back to the customer, the revealed code is voided; books clean', async () => {
    const c = await customerWithCodes(2);
    const faulty = c.codes[0]!;
    const ticket = (await openTicket(c, [faulty.code_id])).json();
    const before = await t.services.ledger.balance(accounts.customerBalance(c.customerId).id);
    const res = await decide(ticket.id, { decision: 'refund', note: 'refund one code' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'resolved_refunded', refunded_fen: 9_600 });
    expect(await t.services.ledger.balance(accounts.customerBalance(c.customerId).id)).toBe(before + 9_600);
    expect(await codeState(faulty.code_id)).toBe('voided');
    expect(await t.services.orders.get(c.orderId)).toMatchObject({ status: 'partially_refunded', refunded_fen: 9_600 });
    expect((await decide(ticket.id, { decision: 'refund' })).statusCode).toBe(409);
    expect(await t.services.ledger.balance(accounts.customerBalance(c.customerId).id)).toBe(before + 9_600);
    await expectBooksClean();
  });

  it('two refund decisions racing: one refunds, the other gets 409; the money moves once', async () => {
    const c = await customerWithCodes(1);
    const ticket = (await openTicket(c, [c.codes[0]!.code_id])).json();
    const before = await t.services.ledger.balance(accounts.customerBalance(c.customerId).id);
    const results = await Promise.all(Array.from({ length: 4 }, () => decide(ticket.id, { decision: 'refund' })));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409, 409, 409]);
    expect(await t.services.ledger.balance(accounts.customerBalance(c.customerId).id)).toBe(before + 9_600);
    expect((await rows<{ n: number }>(`select count(*)::int as n from ledger_transactions where kind = 'order_refund' and ref_id = $1`, [c.orderId]))[0]!.n).toBe(1);
    expect((await rows<{ n: number }>(`select count(*)::int as n from outbox_events where type = 'after_sales.decided' and data->>'ticket_id' = $1`, [ticket.id]))[0]!.n).toBe(1);
  });

  it('a refund interrupted after the money moved: a twin is refused while fresh, a retry later closes the ticket without refunding twice', async () => {
    const c = await customerWithCodes(1);
    const ticket = (await openTicket(c, [c.codes[0]!.code_id])).json();
    // As if a decision claimed the ticket, refunded, and the process died before closing it.
    await rows(`update after_sales_tickets set status = 'in_review', pending_decision = 'refund', pending_since = $2::timestamptz where id = $1`, [ticket.id, clock.now().toISOString()]);
    await t.services.payments.refundOrder(c.orderId, { reason: `after-sales ${ticket.id}`, afterSales: true, codeIds: [c.codes[0]!.code_id] }, { id: owner.userId });
    const balance = await t.services.ledger.balance(accounts.customerBalance(c.customerId).id);
    expect((await decide(ticket.id, { decision: 'refund' })).statusCode).toBe(409);
    await rows(`update after_sales_tickets set pending_since = $2::timestamptz where id = $1`, [ticket.id, new Date(clock.now().getTime() - 120_000).toISOString()]);
    const res = await decide(ticket.id, { decision: 'refund' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'resolved_refunded', refunded_fen: null });
    expect(await t.services.ledger.balance(accounts.customerBalance(c.customerId).id)).toBe(balance);
    expect((await rows<{ n: number }>(`select count(*)::int as n from ledger_transactions where kind = 'order_refund' and ref_id = $1`, [c.orderId]))[0]!.n).toBe(1);
    await expectBooksClean();
  });

  it('replace without stock: 409 OUT_OF_STOCK and nothing changes (code still revealed, ticket still open)', async () => {
    const c = await customerWithCodes(1);
    const ticket = (await openTicket(c, [c.codes[0]!.code_id])).json();
    // Empty the SKU's stock for this test: the remaining codes are voided by staff (test-only shortcut through the vault).
    const left = (await rows<{ id: string }>(`select id from codes where sku_id = $1 and state = 'available'`, [sku])).map((r) => r.id);
    await t.services.vault.transition(left, 'void', { actorType: 'system', ref: 'test: empty stock' });
    const res = await decide(ticket.id, { decision: 'replace' });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('OUT_OF_STOCK');
    expect(await codeState(c.codes[0]!.code_id)).toBe('revealed');
    expect((await t.services.afterSales.get(ticket.id)).status).toBe('open');
    await stockCodes(t, sku, 10);
    expect((await decide(ticket.id, { decision: 'replace' })).statusCode).toBe(200);
    await expectBooksClean();
  });

  it('reject: a note is required; nothing moves', async () => {
    const c = await customerWithCodes(1);
    const ticket = (await openTicket(c, [c.codes[0]!.code_id])).json();
    const bare = await decide(ticket.id, { decision: 'reject' });
    expect(bare.statusCode).toBe(400);
    expect(bare.json().error.details[0].field).toBe('note');
    const withFault = await decide(ticket.id, { decision: 'reject', note: 'x', supplier_fault: true });
    expect(withFault.statusCode).toBe(400);
    const res = await decide(ticket.id, { decision: 'reject', note: 'the brand shows it was used on 11-02' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'rejected', decision_note: 'the brand shows it was used on 11-02' });
    expect(await codeState(c.codes[0]!.code_id)).toBe('revealed');
    // Decided: the code may be reported again.
    expect((await openTicket(c, [c.codes[0]!.code_id])).statusCode).toBe(201);
  });

  it('supplier fault: the faulty code\'s cost is charged back to the supplier payable in one balanced transaction; books clean', async () => {
    const c = await customerWithCodes(1);
    const ticket = (await openTicket(c, [c.codes[0]!.code_id])).json();
    const payable = await t.services.ledger.balance(accounts.supplierPayable.id);
    const cogs = await t.services.ledger.balance(accounts.costOfGoods.id);
    const res = await decide(ticket.id, { decision: 'refund', note: 'supplier sent a dead batch', supplier_fault: true });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'resolved_refunded', supplier_fault: true, chargeback_fen: 8_800 });
    // The refund of a voided code keeps its cost (no reversal); the chargeback takes it back from the supplier.
    expect(await t.services.ledger.balance(accounts.supplierPayable.id)).toBe(payable - 8_800);
    expect(await t.services.ledger.balance(accounts.costOfGoods.id)).toBe(cogs + 8_800);
    const [txn] = await rows<{ n: number; s: number }>(`select count(*)::int as n, sum(e.amount_fen)::int as s from ledger_transactions l join ledger_entries e on e.transaction_id = l.id where l.kind = 'supplier_chargeback' and l.ref_id = $1`, [ticket.id]);
    expect(txn).toEqual({ n: 2, s: 0 });
    await expectBooksClean();
  });

  it('support and owners decide; finance cannot (403); the admin list filters by status', async () => {
    const c = await customerWithCodes(1);
    const ticket = (await openTicket(c, [c.codes[0]!.code_id])).json();
    expect((await decide(ticket.id, { decision: 'reject', note: 'no' }, finance)).statusCode).toBe(403);
    expect((await t.inject({ method: 'GET', url: '/admin/after-sales', headers: bearer(finance) })).statusCode).toBe(403);
    const open = (await t.inject({ method: 'GET', url: '/admin/after-sales?status=open&limit=100', headers: bearer(support) })).json();
    expect(open.data.map((x: { id: string }) => x.id)).toContain(ticket.id);
    expect(open.data.every((x: { status: string }) => x.status === 'open')).toBe(true);
    const reviewed = await t.inject({ method: 'POST', url: `/admin/after-sales/${ticket.id}/review`, headers: bearer(support) });
    expect(reviewed.json().status).toBe('in_review');
    expect((await decide(ticket.id, { decision: 'reject', note: 'works for us' }, owner.token)).statusCode).toBe(200);
    const twice = await Promise.all([decide(ticket.id, { decision: 'replace' }), decide(ticket.id, { decision: 'refund' })]);
    expect(twice.map((r) => r.statusCode)).toEqual([409, 409]);
  });
});
