import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { DAY, HOUR, ManualClock } from '../../src/lib/clock.js';
import { AppError } from '../../src/lib/errors.js';
import { createChatCore } from '../../bots/core/core.js';
import type { ChatUser, HandleResult } from '../../bots/core/types.js';

/**
 * The wallet on the real app and database: the asset pack groups a customer's
 * codes by state and pages through them; only the owner reveals; a gift moves
 * ownership on claim (of 30 racing claimers exactly one wins), can be
 * cancelled, lapses back to the giver; a revealed code cannot be gifted; the
 * chat core's gift and claim commands.
 */
const clock = new ManualClock(new Date());
let t: TestApp;
let owner: string;
let key: { id: string; secret: string };

beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  owner = (await t.loginAs('owner')).token;
  const res = await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'partner', owner_id: 'wallet-partner', name: 'app' } });
  expect(res.statusCode).toBe(201);
  key = res.json();
});
afterAll(() => t?.close());

const call = (method: 'GET' | 'POST', url: string, body?: object, idem?: string) => {
  const raw = body ? JSON.stringify(body) : '';
  return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
};
const who = (name: string) => ({ provider: 'partner' as const, external_id: name });
const customerId = async (name: string) => (await t.services.customers.resolve({ identity: { provider: 'partner', externalId: name } })).customerId;
const sql = async <R>(text: string, values: unknown[] = []) => (await t.platform.database.executeSql<R>(text, values)).rows;

/** A delivered (unrevealed) order of `qty` codes for the customer, paid from its balance; returns the order and code ids. */
async function buy(name: string, sku: string, qty: number): Promise<{ orderId: string; codeIds: string[] }> {
  const id = await customerId(name);
  await t.services.orders.creditBalance({ type: 'customer', id }, qty * 9_600, `top-up ${name}`, { id: 'stf_test' });
  const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id }, skuId: sku, quantity: qty, channel: 'test', payment: 'balance' }, tx));
  expect(order.status).toBe('delivered');
  const codes = await sql<{ id: string; state: string }>('select id, state from codes where order_id = $1 order by id', [order.id]);
  expect(codes.every((c) => c.state === 'delivered')).toBe(true);
  return { orderId: order.id, codeIds: codes.map((c) => c.id) };
}
const wallet = async (name: string, query = '') => {
  const res = await call('GET', `/open/v1/wallet?provider=partner&external_id=${name}${query}`);
  expect(res.statusCode).toBe(200);
  return res.json() as { data: { id: string; group: string; state: string; acquired: string; order_id: string | null; giftable: boolean; pending_gift: { id: string } | null; secret_masked: string; activation: { redeem_url: string } | null; product_name: string }[]; has_more: boolean; next_cursor: string | null; counts: Record<string, number> };
};
const gift = (name: string, codeId: string, idem: string, extra: object = {}) => call('POST', `/open/v1/wallet/codes/${codeId}/gift`, { customer: who(name), ...extra }, idem);
const claim = (name: string, token: string) => call('POST', '/open/v1/wallet/gifts/claim', { token, customer: who(name) });
const reveal = (name: string, codeId: string) => call('POST', `/open/v1/wallet/codes/${codeId}/reveal`, { customer: who(name) });
const holderOf = async (codeId: string) => (await sql<{ customer_id: string }>('select customer_id from wallet_holdings where code_id = $1', [codeId])).map((r) => r.customer_id);

let plainSku: string;
beforeAll(async () => {
  plainSku = await createCodeSku(t);
  await stockCodes(t, plainSku, 60);
});

describe('the asset pack', () => {
  it('groups the codes by state: ready, revealed, redeemed, expiring soon, expired; masked; with one-tap activation', async () => {
    // A SKU with a redemption URL (added through the admin API) whose codes expire in 3 days, and one expiring in 2 hours.
    const created = await t.inject({
      method: 'POST',
      url: '/admin/products',
      headers: bearer(owner),
      payload: { name: 'Brand card', brand: 'Brand', category: 'gift', kind: 'code', skus: [{ name: '¥50', face_value_fen: 5_000, cost_fen: 4_000, retail_price_fen: 4_800, usage_instructions: 'Open the brand app', redeem_url: 'https://brand.example/redeem?code={code}', low_stock_threshold: 0 }] },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json().skus[0].redeem_url).toBe('https://brand.example/redeem?code={code}');
    const soonSku = created.json().skus[0].id as string;
    const soonSecrets = await stockCodes(t, soonSku, 1, { expiresAt: new Date(clock.now().getTime() + 3 * DAY) });
    const shortSku = await createCodeSku(t);
    await stockCodes(t, shortSku, 1, { expiresAt: new Date(clock.now().getTime() + 2 * HOUR) });

    const a = await buy('alice', plainSku, 3);
    await buy('alice', soonSku, 1);
    await buy('alice', shortSku, 1);
    expect((await reveal('alice', a.codeIds[0]!)).statusCode).toBe(200);
    await t.services.vault.transition([a.codeIds[1]!], 'redeem', { actorType: 'system', ref: 'test redeem' });
    clock.advance(3 * HOUR);

    const w = await wallet('alice');
    expect(w.counts).toEqual({ ready: 1, revealed: 1, redeemed: 1, expiring_soon: 1, expired: 1 });
    expect(w.data).toHaveLength(5);
    const soon = w.data.find((c) => c.group === 'expiring_soon')!;
    expect(soon.activation).toEqual({ kind: 'url', redeem_url: 'https://brand.example/redeem?code={code}' });
    expect(soon.secret_masked).toBe(`****${soonSecrets[0]!.slice(-4)}`);
    expect(soon.giftable).toBe(true);
    expect(w.data.find((c) => c.group === 'expired')!.giftable).toBe(false);
    expect(w.data.find((c) => c.group === 'revealed')!.giftable).toBe(false);
    // No secret anywhere in the pack.
    expect(JSON.stringify(w)).not.toContain(soonSecrets[0]);

    // One group at a time; a narrower "soon" makes the 3-day code plain ready.
    expect((await wallet('alice', '&state=expired')).data.map((c) => c.group)).toEqual(['expired']);
    expect((await wallet('alice', '&expiring_within_days=1')).counts).toMatchObject({ ready: 2, expiring_soon: 0 });
    // The activation link is filled with the code only when its owner reveals it.
    const shown = await reveal('alice', soon.id);
    expect(shown.json()).toMatchObject({ secret: soonSecrets[0], usage_instructions: 'Open the brand app', activation_url: `https://brand.example/redeem?code=${encodeURIComponent(soonSecrets[0]!)}` });
  });

  it('pages through the codes with a cursor; a stranger has an empty pack', async () => {
    const { codeIds } = await buy('bob', plainSku, 5);
    const seen: string[] = [];
    let cursor = '';
    const sizes: number[] = [];
    for (;;) {
      const page = await wallet('bob', `&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      sizes.push(page.data.length);
      seen.push(...page.data.map((c) => c.id));
      expect(page.counts.ready).toBe(5);
      if (!page.has_more) break;
      cursor = page.next_cursor!;
    }
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual([...codeIds].sort().reverse());
    expect((await wallet('nobody-here')).data).toEqual([]);
  });

  it('only the owner reveals a code (another customer: 404); the reveal is in the code history', async () => {
    const { codeIds } = await buy('carl', plainSku, 1);
    await customerId('mallory');
    expect((await reveal('mallory', codeIds[0]!)).statusCode).toBe(404);
    expect((await reveal('unknown-person', codeIds[0]!)).statusCode).toBe(404);
    expect((await sql<{ state: string }>('select state from codes where id = $1', [codeIds[0]]))[0]!.state).toBe('delivered');
    const res = await reveal('carl', codeIds[0]!);
    expect(res.statusCode).toBe(200);
    expect(res.json().secret).toBeTypeOf('string');
    const events = await sql<{ to_state: string; actor_type: string; actor_id: string }>('select to_state, actor_type, actor_id from code_events where code_id = $1 order by id', [codeIds[0]]);
    expect(events.at(-1)).toEqual({ to_state: 'revealed', actor_type: 'customer', actor_id: await customerId('carl') });
  });
});

describe('gifts', () => {
  it('gift -> claim moves the code to the friend: the giver can no longer reveal, refund or re-gift it; the state stays delivered', async () => {
    const { orderId, codeIds } = await buy('dora', plainSku, 2);
    const [code, kept] = codeIds as [string, string];
    const first = await gift('dora', code, 'gift-key-0001', { message: 'happy birthday' });
    expect(first.statusCode).toBe(201);
    const card = first.json();
    expect(card).toMatchObject({ code_id: code, status: 'pending', message: 'happy birthday' });
    expect(card.card_text).toContain(card.token);
    expect(card.claim_url).toContain(card.token);
    // Only the token's hash is stored.
    expect(JSON.stringify(await sql('select * from wallet_gifts where id = $1', [card.id]))).not.toContain(card.token);
    // A retry with the same key shows the same gift; another key for the same code is refused while it is open.
    const again = await gift('dora', code, 'gift-key-0001', { message: 'happy birthday' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: card.id, token: card.token });
    expect((await gift('dora', code, 'gift-key-0002')).json().error.details.code).toBe('GIFT_PENDING');
    expect((await wallet('dora')).data.find((c) => c.id === code)!.pending_gift).toEqual({ id: card.id, expires_at: card.expires_at });

    const claimed = await claim('fred', card.token);
    expect(claimed.statusCode).toBe(200);
    expect(claimed.json()).toMatchObject({ code_id: code, gift: { status: 'claimed' } });
    expect(await holderOf(code)).toEqual([await customerId('fred')]);
    expect((await sql<{ state: string }>('select state from codes where id = $1', [code]))[0]!.state).toBe('delivered');
    expect((await claim('gina', card.token)).json().error.details.code).toBe('GIFT_CLAIMED');

    const fredPack = await wallet('fred');
    expect(fredPack.data).toHaveLength(1);
    expect(fredPack.data[0]).toMatchObject({ id: code, acquired: 'gift', order_id: null, group: 'ready', giftable: true });
    expect((await wallet('dora')).data.map((c) => c.id)).toEqual([kept]);
    // The giver: no reveal through the wallet, and the order-level reveal and refund no longer reach the code.
    expect((await reveal('dora', code)).statusCode).toBe(404);
    const doraId = await customerId('dora');
    const orderCodes = await t.services.orders.revealCodes(orderId, { buyer: { type: 'customer', id: doraId } });
    expect(orderCodes.map((c) => c.code_id)).toEqual([kept]);
    // Refunds stay with the order, but a gifted code is no longer the giver's to refund.
    await expect(t.services.payments.refundOrder(orderId, { reason: 'test', codeIds: [code] }, { id: 'stf_test' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(t.services.payments.refundOrder(orderId, { reason: 'test', codeIds: [code] }, { id: 'stf_test' })).rejects.toBeInstanceOf(AppError);
    expect(await holderOf(code)).toEqual([await customerId('fred')]);
    expect((await sql<{ state: string; order_id: string }>('select state, order_id from codes where id = $1', [code]))[0]).toEqual({ state: 'delivered', order_id: orderId });
    // The friend sees it.
    const shown = await reveal('fred', code);
    expect(shown.statusCode).toBe(200);
  });

  it('30 racing claimers: exactly one becomes the owner', async () => {
    const { codeIds } = await buy('hank', plainSku, 1);
    const card = (await gift('hank', codeIds[0]!, 'race-gift-01')).json();
    const names = Array.from({ length: 30 }, (_, i) => `racer-${i}`);
    for (const n of names) await customerId(n);
    const results = await Promise.all(names.map((n) => claim(n, card.token)));
    const winners = results.map((r, i) => ({ r, n: names[i]! })).filter((x) => x.r.statusCode === 200);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.statusCode === 409).map((r) => r.json().error.details.code)).toEqual(Array(29).fill('GIFT_CLAIMED'));
    const winner = await customerId(winners[0]!.n);
    expect(await holderOf(codeIds[0]!)).toEqual([winner]);
    const rows = await sql<{ status: string; claimed_by: string }>('select status, claimed_by from wallet_gifts where code_id = $1', [codeIds[0]]);
    expect(rows).toEqual([{ status: 'claimed', claimed_by: winner }]);
    // Exactly one wallet holds it.
    let holders = 0;
    for (const n of [...names, 'hank']) if ((await wallet(n)).data.some((c) => c.id === codeIds[0])) holders++;
    expect(holders).toBe(1);
  });

  it('the giver cancels before the claim: the token is dead, the code is the giver\'s again (reveal was held while open)', async () => {
    const { codeIds } = await buy('ivy', plainSku, 1);
    const card = (await gift('ivy', codeIds[0]!, 'cancel-gift-1')).json();
    expect((await reveal('ivy', codeIds[0]!)).json().error.details.code).toBe('GIFT_PENDING');
    expect((await call('POST', `/open/v1/wallet/gifts/${card.id}/cancel`, { customer: who('fred') })).statusCode).toBe(404);
    const cancelled = await call('POST', `/open/v1/wallet/gifts/${card.id}/cancel`, { customer: who('ivy') });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json().status).toBe('cancelled');
    expect((await call('POST', `/open/v1/wallet/gifts/${card.id}/cancel`, { customer: who('ivy') })).statusCode).toBe(409);
    expect((await claim('jack', card.token)).json().error.details.code).toBe('GIFT_CANCELLED');
    expect(await holderOf(codeIds[0]!)).toEqual([]);
    expect((await wallet('ivy')).data[0]).toMatchObject({ id: codeIds[0], giftable: true, pending_gift: null });
    expect((await reveal('ivy', codeIds[0]!)).statusCode).toBe(200);
  });

  it('an expired gift goes back to the giver; a giver cannot claim its own gift', async () => {
    const { codeIds } = await buy('kate', plainSku, 1);
    const card = (await gift('kate', codeIds[0]!, 'expire-gift-1', { expires_in_hours: 1 })).json();
    expect((await claim('kate', card.token)).json().error.details.code).toBe('OWN_GIFT');
    clock.advance(2 * HOUR);
    const late = await claim('liam', card.token);
    expect(late.statusCode).toBe(409);
    expect(late.json().error.details.code).toBe('GIFT_EXPIRED');
    expect(await holderOf(codeIds[0]!)).toEqual([]);
    expect((await sql<{ status: string }>('select status from wallet_gifts where id = $1', [card.id]))[0]!.status).toBe('expired');
    expect((await wallet('kate')).data[0]).toMatchObject({ id: codeIds[0], giftable: true, pending_gift: null });
    // It can be gifted again, and the job's sweep tidies lapsed ones.
    const second = (await gift('kate', codeIds[0]!, 'expire-gift-2', { expires_in_hours: 1 })).json();
    clock.advance(2 * HOUR);
    expect(await t.services.wallet.expireDue()).toBeGreaterThanOrEqual(1);
    expect((await sql<{ status: string }>('select status from wallet_gifts where id = $1', [second.id]))[0]!.status).toBe('expired');
  });

  it('a revealed code cannot be gifted (409); nor a code of somebody else (404)', async () => {
    const { codeIds } = await buy('mona', plainSku, 2);
    expect((await reveal('mona', codeIds[0]!)).statusCode).toBe(200);
    const res = await gift('mona', codeIds[0]!, 'revealed-gift-1');
    expect(res.statusCode).toBe(409);
    expect(res.json().error.details.code).toBe('CODE_REVEALED');
    expect((await gift('fred', codeIds[1]!, 'foreign-gift-1')).statusCode).toBe(404);
    expect(await sql('select id from wallet_gifts where code_id = any($1::text[])', [codeIds])).toEqual([]);
  });
});

describe('the OpenAPI document', () => {
  it('lists every wallet route', async () => {
    const doc = (await t.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    for (const path of ['/open/v1/wallet', '/open/v1/wallet/codes/{id}/reveal', '/open/v1/wallet/codes/{id}/gift', '/open/v1/wallet/gifts/claim', '/open/v1/wallet/gifts/{id}/cancel']) expect(doc.paths[path], path).toBeTruthy();
  });
});

describe('the chat core', () => {
  it('"gift" lists giftable codes as buttons, makes the gift with its claim text; "领取 TOKEN" claims it; the friend sees the code', async () => {
    const core = createChatCore(t.platform, t.services, {});
    let seq = 0;
    const nina: ChatUser = { provider: 'telegram', externalId: '880001', displayName: 'Nina', languageHint: 'en' };
    const omar: ChatUser = { provider: 'telegram', externalId: '880002', displayName: 'Omar', languageHint: 'zh-CN' };
    const dm = (u: ChatUser) => ({ channel: 'telegram' as const, chatId: u.externalId, kind: 'private' as const });
    const say = (u: ChatUser, text: string): Promise<HandleResult> => core.handle({ user: u, place: dm(u), payload: { type: 'text', text }, messageId: `w${++seq}` });
    const press = (u: ChatUser, data: string): Promise<HandleResult> => core.handle({ user: u, place: dm(u), payload: { type: 'button', data }, messageId: `w${++seq}` });
    await say(nina, '/start');
    const ninaId = (await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: nina.externalId } })).customerId;
    await t.services.orders.creditBalance({ type: 'customer', id: ninaId }, 9_600, 'chat top-up', { id: 'stf_test' });
    const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: ninaId }, skuId: plainSku, quantity: 1, channel: 'telegram', payment: 'balance' }, tx));
    const [code] = await sql<{ id: string }>('select id from codes where order_id = $1', [order.id]);

    const list = await say(nina, 'gift');
    const buttons = list.replies.flatMap((r) => r.buttons?.flat() ?? []);
    expect(buttons.map((b) => b.data)).toContain(`gift:c:${code!.id}`);
    const made = await press(nina, `gift:c:${code!.id}`);
    const text = made.replies[0]!.text;
    expect(text).toContain('Gift ready');
    const token = /claim ([A-Za-z0-9_-]{20,})/.exec(text)?.[1];
    expect(token).toBeTruthy();
    // The code is in an open gift: no longer offered.
    expect((await say(nina, '赠送')).replies[0]!.text).toMatch(/no code that can be given/);

    await say(omar, '/start');
    const claimed = await say(omar, `领取 ${token}`);
    expect(claimed.replies[0]!.text).toContain('领取成功');
    const omarId = (await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: omar.externalId } })).customerId;
    expect(await holderOf(code!.id)).toEqual([omarId]);
    expect((await say(omar, `claim ${token}`)).replies[0]!.text).toContain('礼物已被领取');
    const shown = await press(omar, `gift:r:${code!.id}`);
    expect(shown.replies[0]!.secret?.codeIds).toEqual([code!.id]);
    // The giver's button to show it is refused.
    expect((await press(nina, `gift:r:${code!.id}`)).replies[0]!.secret).toBeUndefined();
  });
});
