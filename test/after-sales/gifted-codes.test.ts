import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { ManualClock } from '../../src/lib/clock.js';

// After a gift the receiver holds the code: they report it, the giver cannot; a replacement goes to the receiver, a refund is refused.
const clock = new ManualClock(new Date());
let t: TestApp;
let owner: { token: string; userId: string };
let support: string;
let partner: { id: string; secret: string };
let sku: string;
let seq = 0;
const uniq = () => `${Date.now().toString(36)}-${++seq}`;
const PARTNER = 'gift-as-partner';

beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  owner = await t.loginAs('owner');
  support = (await t.loginAs('support')).token;
  partner = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'partner', owner_id: PARTNER, name: 'gift after-sales' } })).json();
  sku = await createCodeSku(t, { retailPriceFen: 9_600, costFen: 8_800 });
  await stockCodes(t, sku, 20);
}, 60_000);
afterAll(() => t?.close());

function call(method: 'GET' | 'POST', url: string, body?: object, idem?: string) {
  const raw = body ? JSON.stringify(body) : '';
  return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(partner.id, partner.secret, method, url, raw, clock.now()) } });
}
const rows = async <R>(sql: string, params: unknown[] = []) => (await t.platform.database.executeSql<R>(sql, params)).rows;
const who = (external: string) => ({ provider: 'partner', external_id: external });
const customerIdOf = async (external: string) => (await t.services.customers.resolve({ identity: { provider: 'partner', externalId: external } })).customerId;

/** The giver buys one code (delivery to their chat), gifts it unseen; the receiver claims and reveals it. */
async function giftedCode() {
  const giver = `giver-${uniq()}`;
  const receiver = `recv-${uniq()}`;
  const giverId = await customerIdOf(giver);
  const receiverId = await customerIdOf(receiver);
  await t.services.orders.creditBalance({ type: 'customer', id: giverId }, 9_600, `topup-${giver}`, { id: owner.userId });
  const chat = { channel: 'telegram', chat_id: `chat-${giver}`, kind: 'private', locale: 'en' };
  const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: giverId }, skuId: sku, quantity: 1, channel: 'api', payment: 'balance', apiKeyOwner: `partner:${PARTNER}`, deliveryTarget: chat }, tx));
  expect(order.status).toBe('delivered');
  const [code] = await rows<{ id: string }>('select id from codes where order_id = $1', [order.id]);
  const gift = await t.services.wallet.give({ codeId: code!.id, giverId });
  await t.services.wallet.claim(gift.gift.token, receiverId);
  await t.services.wallet.reveal(code!.id, receiverId);
  return { giver, receiver, giverId, receiverId, orderId: order.id, codeId: code!.id };
}

const open = (external: string, codeId: string, orderId?: string, idem = `gas-${uniq()}`) =>
  call('POST', '/open/v1/after-sales', { customer: who(external), ...(orderId ? { order_id: orderId } : {}), code_ids: [codeId], description: 'the brand says the code is invalid' }, idem);
const decide = (id: string, body: object) => t.inject({ method: 'POST', url: `/admin/after-sales/${id}/decide`, headers: bearer(support), payload: body });

describe('after-sales for a gifted code', () => {
  it('refuses the giver (404, with or without the order id) and lets the receiver open a ticket without knowing the order', async () => {
    const g = await giftedCode();
    const byGiver = await open(g.giver, g.codeId, g.orderId);
    expect([byGiver.statusCode, byGiver.json().error.code]).toEqual([404, 'NOT_FOUND']);
    expect(byGiver.json().error.message).toContain(g.codeId);
    expect((await open(g.giver, g.codeId)).statusCode).toBe(404);
    // A stranger with the order id learns nothing either.
    expect((await open(`stranger-${uniq()}`, g.codeId, g.orderId)).statusCode).toBe(404);

    const res = await open(g.receiver, g.codeId);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ customer_id: g.receiverId, order_id: g.orderId, code_ids: [g.codeId], status: 'open' });
    // With the order id it is the same code: the one open ticket per code still holds.
    expect((await open(g.receiver, g.codeId, g.orderId)).statusCode).toBe(409);
    // The receiver sees the ticket they opened; the giver sees none.
    const mine = (await call('GET', `/open/v1/after-sales?provider=partner&external_id=${g.receiver}`)).json();
    expect(mine.data.map((x: { id: string }) => x.id)).toEqual([res.json().id]);
    expect((await call('GET', `/open/v1/after-sales?provider=partner&external_id=${g.giver}`)).json().data).toEqual([]);
    expect((await call('GET', `/open/v1/after-sales/${res.json().id}?provider=partner&external_id=${g.giver}`)).statusCode).toBe(404);
  });

  it('refuses a refund with the reason and leaves the ticket open; a replacement goes to the receiver, not to the giver or their chat', async () => {
    const g = await giftedCode();
    const ticket = (await open(g.receiver, g.codeId)).json();
    const refund = await decide(ticket.id, { decision: 'refund' });
    expect(refund.statusCode).toBe(422);
    expect(refund.json().error).toMatchObject({ code: 'UNPROCESSABLE', details: [{ field: 'decision', message: 'no refund for a gifted code' }] });
    expect(refund.json().error.message).toMatch(/received as a gift.*money belongs to the buyer who paid/);
    const still = await rows<{ status: string; pending_decision: string | null; refunded_fen: number }>('select t.status, t.pending_decision, o.refunded_fen from after_sales_tickets t join orders o on o.id = t.order_id where t.id = $1', [ticket.id]);
    expect(still).toEqual([{ status: 'open', pending_decision: null, refunded_fen: 0 }]);

    const replaced = await decide(ticket.id, { decision: 'replace', note: 'new code' });
    expect(replaced.statusCode).toBe(200);
    const replacementId = replaced.json().replacement_order_id as string;
    const [repl] = await rows<{ buyer_id: string; delivery_target: unknown; api_key_owner: string | null; status: string }>('select buyer_id, delivery_target, api_key_owner, status from orders where id = $1', [replacementId]);
    expect(repl).toEqual({ buyer_id: g.receiverId, delivery_target: null, api_key_owner: `partner:${PARTNER}`, status: 'delivered' });
    expect((await rows<{ state: string }>('select state from codes where id = $1', [g.codeId]))[0]!.state).toBe('voided');
    // The new code is in the receiver's wallet (bought, by the promotion order), not in the giver's.
    const receiverWallet = await t.services.wallet.list(g.receiverId, { limit: 10 });
    expect(receiverWallet.data.filter((w) => w.order_id === replacementId).map((w) => [w.acquired, w.state])).toEqual([['purchase', 'delivered']]);
    const giverWallet = await t.services.wallet.list(g.giverId, { limit: 10 });
    expect(giverWallet.data.some((w) => w.order_id === replacementId)).toBe(false);
    // Nothing was queued for the giver's chat (neither the codes nor the decision message).
    expect(await rows('select chat_id from bot_outbound_messages where dedupe_key like $1', [`after-sales:${ticket.id}:%`])).toEqual([]);
  });

  it('the buyer who kept their code still reports it with the order id and may still be refunded', async () => {
    const buyer = `buyer-${uniq()}`;
    const id = await customerIdOf(buyer);
    await t.services.orders.creditBalance({ type: 'customer', id }, 9_600, `topup-${buyer}`, { id: owner.userId });
    const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id }, skuId: sku, quantity: 1, channel: 'api', payment: 'balance', apiKeyOwner: `partner:${PARTNER}` }, tx));
    const [code] = await t.services.orders.revealCodes(order.id, { buyer: { type: 'customer', id } });
    const res = await open(buyer, code!.code_id, order.id);
    expect(res.statusCode).toBe(201);
    const refunded = await decide(res.json().id, { decision: 'refund' });
    expect([refunded.statusCode, refunded.json().status, refunded.json().refunded_fen]).toEqual([200, 'resolved_refunded', 9_600]);
  });
});
