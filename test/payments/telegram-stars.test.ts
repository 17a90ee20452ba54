import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { ManualClock, MINUTE, SECOND } from '../../src/lib/clock.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createTelegramStarsProvider, TelegramStarsError } from '../../src/modules/payments/telegram-stars.js';
import { startFakeBotApi, type FakeBotApi, type TelegramUpdate } from '../fakes/telegram-bot-api/server.js';

const TOKEN = '123456789:AAFakeTokenForKaquanTests_0123456789ab';
const SECRET = 'stars-webhook-secret-for-tests-0123';
const WEBHOOK = '/payments/notify/stars';
const TELEGRAM_ENV = { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_STARS_FEN_PER_STAR: '13', TELEGRAM_WEBHOOK_SECRET: SECRET };

const clock = new ManualClock(new Date());
let t: TestApp;
let fake: FakeBotApi;
let owner: string;
beforeAll(async () => {
  fake = await startFakeBotApi({ token: TOKEN, clock, webhookSecret: SECRET });
  t = await bootTestApp({ clock, env: { ...TELEGRAM_ENV, TELEGRAM_API_ROOT: fake.url, SESSION_TTL_MINUTES: '43200' } });
  owner = (await t.loginAs('owner')).token;
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

/** A fresh agent with a signed API key (one agent per order keeps clear of the unpaid-orders limit). */
async function agentCall() {
  const agent = await t.services.agents.create({ name: 'Telegram shop', role: 'group_leader' });
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: agent.id, name: 'bot' } })).json() as { id: string; secret: string };
  return (method: 'GET' | 'POST', url: string, body?: object, idem?: string) => {
    const raw = body ? JSON.stringify(body) : '';
    return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
  };
}

interface PlacedPayment {
  payment_id: string;
  trade_no: string;
  amount_fen: number;
  client_params: { invoice_link: string; stars: number };
}

/** An order placed through the open API with payment 'stars'. */
async function placeOrder(opts: { priceFen?: number; quantity?: number } = {}) {
  const sku = await createCodeSku(t, { retailPriceFen: opts.priceFen ?? 2_500 });
  await stockCodes(t, sku, 3);
  const call = await agentCall();
  const res = await call('POST', '/open/v1/orders', { sku_id: sku, quantity: opts.quantity ?? 1, payment: 'stars' }, `stars-${randomBytes(6).toString('hex')}`);
  expect(res.statusCode, res.body).toBe(201);
  const body = res.json() as { order: { id: string; status: string; amount_fen: number }; payment: PlacedPayment };
  return { sku, order: body.order, payment: body.payment };
}

/** Telegram's webhook POST of an update, through the real app. */
function post(update: TelegramUpdate, secret?: string | null) {
  const { headers, body } = fake.webhookRequest(update, { secret });
  return t.inject({ method: 'POST', url: WEBHOOK, headers, payload: body });
}

async function preCheckout(tradeNo: string, opts: Parameters<FakeBotApi['preCheckoutUpdate']>[1] = {}) {
  const update = fake.preCheckoutUpdate(tradeNo, opts);
  const res = await post(update);
  expect(res.statusCode).toBe(200);
  return fake.preCheckoutAnswers.get(update.pre_checkout_query!.id);
}

const orderStatus = async (orderId: string) => (await t.services.orders.get(orderId)).status;
const outcomes = async (tradeNo: string) => (await t.platform.database.executeSql<{ outcome: string }>('select outcome from payment_notifications where trade_no = $1', [tradeNo])).rows.map((r) => r.outcome).sort();
const sold = async (sku: string) => Number((await t.platform.database.executeSql<{ n: number }>(`select count(*)::int as n from code_events e join codes c on c.id = e.code_id where c.sku_id = $1 and e.to_state = 'sold'`, [sku])).rows[0]!.n);

describe('Telegram Stars payments (against a local fake Bot API)', () => {
  it('an order placed with payment "stars" gets an invoice link for ceil(fen / fen per star) stars in XTR', async () => {
    const { order, payment } = await placeOrder({ priceFen: 2_500 });
    expect(order.status).toBe('pending_payment');
    // 2500 / 13 = 192.3: never charge less than the price.
    expect(payment).toMatchObject({ amount_fen: 2_500, client_params: { invoice_link: expect.stringMatching(/^https:\/\/t\.me\/\$/), stars: 193 } });
    const created = fake.callsOf('createInvoiceLink').find((c) => c.params.payload === payment.trade_no)!;
    expect(created.status).toBe(200);
    expect(created.params).toMatchObject({ currency: 'XTR', provider_token: '', prices: [{ label: 'Total', amount: 193 }] });
    expect(fake.invoices.get(payment.trade_no)!.link).toBe(payment.client_params.invoice_link);
    expect((await t.services.payments.get(payment.payment_id)).providerData).toMatchObject({ stars: 193, fen_per_star: 13 });

    // An exact multiple is not rounded up.
    expect((await placeOrder({ priceFen: 2_600 })).payment.client_params.stars).toBe(200);
  });

  it('pre-checkout says ok only for the invoiced stars in XTR of a payable order, and refuses with a message otherwise', async () => {
    const { payment } = await placeOrder();
    const tradeNo = payment.trade_no;
    expect(await preCheckout(tradeNo, { totalAmount: 192 })).toEqual({ ok: false, error_message: expect.stringMatching(/price/) });
    expect(await preCheckout(tradeNo, { totalAmount: 194 })).toMatchObject({ ok: false });
    expect(await preCheckout(tradeNo, { currency: 'USD', totalAmount: 193 })).toMatchObject({ ok: false });
    expect(await preCheckout('KQ_NOT_OURS_0000000001')).toEqual({ ok: false, error_message: expect.stringMatching(/not known/) });
    expect(await preCheckout(tradeNo, { userId: 7_000_100 })).toEqual({ ok: true });
    // While that payer's charge is under way, a second payer of the same link is turned away...
    expect(await preCheckout(tradeNo, { userId: 7_000_200 })).toEqual({ ok: false, error_message: expect.stringMatching(/in progress/) });
    // ...but not once the charge evidently did not happen.
    clock.advance(61 * SECOND);
    expect(await preCheckout(tradeNo, { userId: 7_000_200 })).toEqual({ ok: true });

    const late = await placeOrder();
    clock.advance(11 * MINUTE);
    expect(await preCheckout(late.payment.trade_no)).toEqual({ ok: false, error_message: expect.stringMatching(/run out/) });
    // Every query got exactly one answer.
    expect(fake.callsOf('answerPreCheckoutQuery').every((c) => c.status === 200)).toBe(true);

    // An answer Telegram no longer takes (query expired) is logged, not retried: the update is still acknowledged.
    const stale = fake.preCheckoutUpdate(late.payment.trade_no);
    stale.pre_checkout_query!.id = '999';
    expect((await post(stale)).statusCode).toBe(200);
    expect(fake.callsOf('answerPreCheckoutQuery').at(-1)).toMatchObject({ status: 400, params: { pre_checkout_query_id: '999' } });
    // Updates that are not about payments are acknowledged and ignored.
    expect((await post({ update_id: 1, message: { message_id: 1, date: 0, text: 'hello' } })).statusCode).toBe(200);
  });

  it('a successful_payment sent three times at once delivers the order exactly once and keeps the payer for refunds', async () => {
    const { sku, order, payment } = await placeOrder({ quantity: 2 });
    expect(payment.client_params.stars).toBe(385); // 5000 / 13 = 384.6
    expect(await preCheckout(payment.trade_no, { userId: 7_000_042 })).toEqual({ ok: true });
    const update = fake.pay(payment.trade_no, { userId: 7_000_042 });
    const statuses = await Promise.all([post(update), post(update), post(update)]);
    expect(statuses.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(await orderStatus(order.id)).toBe('delivered');
    expect(await sold(sku)).toBe(2);
    expect(await outcomes(payment.trade_no)).toEqual(['applied', 'duplicate', 'duplicate']);
    const row = await t.services.payments.get(payment.payment_id);
    const chargeId = (update.message!.successful_payment as { telegram_payment_charge_id: string }).telegram_payment_charge_id;
    expect(row).toMatchObject({ status: 'succeeded', amountFen: 5_000, providerTxnId: chargeId, providerData: { stars: 385, payer_telegram_id: '7000042' } });

    // A redelivery later changes nothing, and the paid invoice cannot be paid again.
    expect((await post(update)).statusCode).toBe(200);
    expect(await sold(sku)).toBe(2);
    expect(await preCheckout(payment.trade_no, { userId: 7_000_043 })).toMatchObject({ ok: false });
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('a wrong or missing secret token is refused with 401: no payment applied, no pre-checkout answered', async () => {
    const { order, payment } = await placeOrder();
    const update = fake.pay(payment.trade_no);
    expect((await post(update, 'not-the-secret-0000000000000000000')).statusCode).toBe(401);
    expect((await post(update, null)).statusCode).toBe(401);
    expect((await post(update, `${SECRET}x`)).statusCode).toBe(401);
    expect(await orderStatus(order.id)).toBe('pending_payment');
    expect((await t.services.payments.get(payment.payment_id)).status).toBe('pending');

    const answered = fake.callsOf('answerPreCheckoutQuery').length;
    expect((await post(fake.preCheckoutUpdate(payment.trade_no), 'not-the-secret-0000000000000000000')).statusCode).toBe(401);
    expect(fake.callsOf('answerPreCheckoutQuery').length).toBe(answered);
    const refused = (await t.platform.database.executeSql<{ n: number }>(`select count(*)::int as n from payment_notifications where provider = 'stars' and outcome = 'invalid_signature'`)).rows[0]!.n;
    expect(Number(refused)).toBeGreaterThanOrEqual(4);

    // The genuine update still pays it.
    expect((await post(update)).statusCode).toBe(200);
    expect(await orderStatus(order.id)).toBe('delivered');
  });

  it('a payment of other than the invoiced stars is an amount_mismatch and the order stays unpaid', async () => {
    const { order, payment } = await placeOrder();
    expect((await post(fake.pay(payment.trade_no, { totalAmount: 192 }))).statusCode).toBe(200);
    expect((await post(fake.pay(payment.trade_no, { totalAmount: 194 }))).statusCode).toBe(200);
    expect(await outcomes(payment.trade_no)).toEqual(['amount_mismatch', 'amount_mismatch']);
    expect(await orderStatus(order.id)).toBe('pending_payment');
    const details = (await t.platform.database.executeSql<{ detail: string }>('select detail from payment_notifications where trade_no = $1 order by detail', [payment.trade_no])).rows.map((r) => r.detail);
    expect(details).toEqual(['paid 192 XTR', 'paid 194 XTR']);
    expect((await t.services.payments.get(payment.payment_id)).status).toBe('pending');
  });

  it('a lost update is caught by reconcile reading getStarTransactions page by page, before the deadline cancels the order', async () => {
    const { sku, order, payment } = await placeOrder();
    for (let i = 0; i < 120; i++) fake.addUnrelatedTransaction(i % 3 === 0 ? 'fragment' : 'other-payload');
    const charge = fake.pay(payment.trade_no, { userId: 7_000_555 }); // charged, but the update never arrives
    for (let i = 0; i < 30; i++) fake.addUnrelatedTransaction();
    const unpaid = await placeOrder();
    const pagesBefore = fake.callsOf('getStarTransactions').length;

    // Before the deadline nothing is due; after it, ask Telegram first, then cancel.
    clock.advance(11 * MINUTE);
    for (const id of await t.services.orders.dueForCancel()) await t.services.payments.reconcile(id);
    await t.services.orders.cancelExpired();
    expect(await orderStatus(order.id)).toBe('delivered');
    expect(await sold(sku)).toBe(1);
    expect(await orderStatus(unpaid.order.id)).toBe('cancelled');
    const offsets = fake.callsOf('getStarTransactions').slice(pagesBefore).map((c) => c.params.offset ?? 0);
    expect(offsets).toContain(100);
    const row = await t.services.payments.get(payment.payment_id);
    const chargeId = (charge.message!.successful_payment as { telegram_payment_charge_id: string }).telegram_payment_charge_id;
    expect(row).toMatchObject({ status: 'succeeded', providerTxnId: chargeId, providerData: { payer_telegram_id: '7000555' } });

    // The update that finally arrives is a duplicate.
    expect((await post(charge)).statusCode).toBe(200);
    expect(await outcomes(payment.trade_no)).toEqual(['duplicate']);
    expect(await sold(sku)).toBe(1);
  });

  it('reconcile also finds a payment when the Bot API lists newest first, and a wrong amount there is still refused', async () => {
    fake.behaviour.newestFirst = true;
    try {
      const paid = await placeOrder();
      fake.pay(paid.payment.trade_no);
      const short = await placeOrder();
      fake.pay(short.payment.trade_no, { totalAmount: 1 });
      for (let i = 0; i < 5; i++) fake.addUnrelatedTransaction();
      expect(await t.services.payments.reconcile(paid.order.id)).toBe('applied');
      expect(await t.services.payments.reconcile(short.order.id)).toBe('not_paid');
      expect(await orderStatus(paid.order.id)).toBe('delivered');
      expect(await orderStatus(short.order.id)).toBe('pending_payment');
    } finally {
      fake.behaviour.newestFirst = false;
    }
  });

  it('reconcile does not count a charge that was already refunded at Telegram', async () => {
    const { order, payment } = await placeOrder();
    const charge = fake.pay(payment.trade_no, { userId: 7_000_888 }).message!.successful_payment as { telegram_payment_charge_id: string };
    // Refunded by hand (another tool on the same bot) before any update reached us.
    const res = await fetch(`${fake.url}/bot${TOKEN}/refundStarPayment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: 7_000_888, telegram_payment_charge_id: charge.telegram_payment_charge_id }) });
    expect(res.status).toBe(200);
    expect(await t.services.payments.reconcile(order.id)).toBe('not_paid');
    expect(await orderStatus(order.id)).toBe('pending_payment');
  });

  it('a refund returns the whole charge to the payer through refundStarPayment', async () => {
    const { payment } = await placeOrder();
    const update = fake.pay(payment.trade_no, { userId: 7_000_777 });
    expect((await post(update)).statusCode).toBe(200);
    const chargeId = (update.message!.successful_payment as { telegram_payment_charge_id: string }).telegram_payment_charge_id;

    await expect(t.services.payments.refundThroughProvider(payment.payment_id, { refundId: 'rf_part', amountFen: 1_000, reason: 'partial' })).rejects.toThrow(/whole/);
    const result = await t.services.payments.refundThroughProvider(payment.payment_id, { refundId: 'rf_1', amountFen: 2_500, reason: 'customer asked' });
    expect(result).toEqual({ status: 'succeeded', providerRefundId: chargeId });
    const refunds = fake.callsOf('refundStarPayment');
    expect(refunds.at(-1)).toMatchObject({ status: 200, params: { user_id: 7_000_777, telegram_payment_charge_id: chargeId } });
    expect(fake.transactions.filter((tx) => tx.id === chargeId && tx.receiver?.type === 'user')).toHaveLength(1);
    // A retry after a lost answer: Telegram says it is already refunded, which is success.
    expect(await t.services.payments.refundThroughProvider(payment.payment_id, { refundId: 'rf_1', amountFen: 2_500, reason: 'customer asked' })).toEqual({ status: 'succeeded', providerRefundId: chargeId });
    expect(fake.transactions.filter((tx) => tx.id === chargeId && tx.receiver?.type === 'user')).toHaveLength(1);

    const unpaid = await placeOrder();
    await expect(t.services.payments.refundThroughProvider(unpaid.payment.payment_id, { refundId: 'rf_2', amountFen: 2_500, reason: 'x' })).rejects.toThrow(/not paid/);
  });

  it('a wrong bot token gets 401 from the Bot API and no invoice', async () => {
    const provider = createTelegramStarsProvider({ botToken: '123456789:AAWrongTokenWrongTokenWrongToken00', fenPerStar: 13, webhookSecret: SECRET, apiRoot: fake.url, invoices: async () => null });
    const attempt = provider.create({ tradeNo: 'KQWRONGTOKEN000001', orderId: 'ord_x', amountFen: 100, description: 'x', notifyUrl: '', expiresAt: new Date(clock.now().getTime() + MINUTE) });
    await expect(attempt).rejects.toBeInstanceOf(TelegramStarsError);
    await expect(attempt).rejects.toMatchObject({ errorCode: 401 });
    await expect(attempt).rejects.not.toThrow(/AAWrongToken/);
    expect(fake.calls.at(-1)).toMatchObject({ method: 'createInvoiceLink', status: 401 });
  });

  it('configuration: all needed variables or a one-line error naming the missing or wrong one', () => {
    const base = Object.fromEntries(Object.entries(t.env).filter(([k]) => !k.startsWith('TELEGRAM_')));
    const load = (env: Record<string, string>) => loadConfig({ ...base, ...env });
    const failure = (env: Record<string, string>) => {
      try {
        load(env);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).not.toContain('\n');
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(load({}).telegramStars).toBeNull();
    // A token alone is for the bot; Stars need the price of a star too.
    expect(load({ TELEGRAM_BOT_TOKEN: TOKEN }).telegramStars).toBeNull();
    expect(load(TELEGRAM_ENV).telegramStars).toEqual({ botToken: TOKEN, fenPerStar: 13, webhookSecret: SECRET, apiRoot: 'https://api.telegram.org' });
    expect(failure({ TELEGRAM_STARS_FEN_PER_STAR: '13' })).toMatch(/TELEGRAM_BOT_TOKEN is required/);
    expect(failure({ ...TELEGRAM_ENV, TELEGRAM_STARS_FEN_PER_STAR: '12.5' })).toMatch(/TELEGRAM_STARS_FEN_PER_STAR must be an integer/);
    expect(failure({ ...TELEGRAM_ENV, TELEGRAM_STARS_FEN_PER_STAR: '0' })).toMatch(/TELEGRAM_STARS_FEN_PER_STAR must be an integer/);
    expect(failure({ ...TELEGRAM_ENV, TELEGRAM_WEBHOOK_SECRET: '' })).toMatch(/TELEGRAM_WEBHOOK_SECRET is required/);
    expect(failure({ ...TELEGRAM_ENV, TELEGRAM_WEBHOOK_SECRET: 'short' })).toMatch(/TELEGRAM_WEBHOOK_SECRET must be/);
    const badToken = failure({ ...TELEGRAM_ENV, TELEGRAM_BOT_TOKEN: 'not a token' });
    expect(badToken).toMatch(/TELEGRAM_BOT_TOKEN must be/);
    expect(badToken).not.toContain('not a token');
    expect(failure({ ...TELEGRAM_ENV, TELEGRAM_API_ROOT: 'ftp://example' })).toMatch(/TELEGRAM_API_ROOT must start with/);
  });
});
