import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECOND } from '../../src/lib/clock.js';
import { InvalidNotificationError, type PaymentProvider, type ProviderPaymentState } from '../../src/modules/payments/provider.js';
import { nextTradeNo, paymentInput, startWeChatHarness, type WeChatHarness } from './wechat-fixture.js';

let h: WeChatHarness;
let receiver: Server;
let notifyUrl: string;
const received: ProviderPaymentState[] = [];
const refused: string[] = [];

/** A notify endpoint as the orders module will have one: raw body in, provider verdict, provider's acknowledgement out. */
function startReceiver(provider: PaymentProvider): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      provider.parseNotification(req.headers, Buffer.concat(chunks).toString('utf8')).then(
        (state) => {
          received.push(state);
          const ack = provider.acknowledge(true);
          res.writeHead(ack.statusCode).end();
        },
        (err: unknown) => {
          refused.push(err instanceof InvalidNotificationError ? err.message : `unexpected: ${String(err)}`);
          const ack = provider.acknowledge(false);
          res.writeHead(ack.statusCode, { 'Content-Type': 'application/json' }).end(JSON.stringify(ack.body));
        },
      );
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  h = await startWeChatHarness();
  receiver = await startReceiver(h.provider);
  notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/payments/wechat/notify`;
});
afterAll(async () => {
  await new Promise((resolve) => receiver.close(resolve));
  await h.close();
});

async function paidTrade(amountFen = 1999, payAmountFen?: number): Promise<string> {
  const input = paymentInput(h, { amountFen });
  await h.provider.create(input);
  h.fake.pay(input.tradeNo, payAmountFen === undefined ? undefined : { amountFen: payAmountFen });
  return input.tradeNo;
}

async function invalidReason(provider: PaymentProvider, n: { headers: Record<string, string>; body: string }): Promise<string> {
  const err = await provider.parseNotification(n.headers, n.body).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidNotificationError);
  return (err as Error).message;
}

describe('WeChat Pay notifications', () => {
  it('a real notification over HTTP parses to exactly the trade, amount and transaction id', async () => {
    const tradeNo = await paidTrade(1999);
    const statuses = await h.fake.sendNotification(tradeNo, { url: notifyUrl });
    expect(statuses).toEqual([204]);
    const tx = h.fake.transactions.get(tradeNo);
    expect(received.at(-1)).toEqual({ tradeNo, status: 'succeeded', providerTxnId: tx?.transactionId, amountFen: 1999, paidAt: h.clock.now() });
  });

  it('repeated and concurrent deliveries each parse to the same state (idempotency is the caller’s)', async () => {
    const tradeNo = await paidTrade(50);
    const before = received.length;
    expect(await h.fake.sendNotification(tradeNo, { url: notifyUrl, times: 3, concurrent: true })).toEqual([204, 204, 204]);
    expect(await h.fake.sendNotification(tradeNo, { url: notifyUrl, times: 2, delayMs: 5 })).toEqual([204, 204]);
    const states = received.slice(before);
    expect(states).toHaveLength(5);
    expect(new Set(states.map((s) => JSON.stringify(s))).size).toBe(1);
  });

  it('exposes the amount WeChat reports exactly, even when it is not the order amount', async () => {
    const tradeNo = await paidTrade(1999, 1);
    const state = await h.provider.parseNotification(...args(h.fake.buildNotification(tradeNo)));
    expect(state.amountFen).toBe(1);
    const big = await paidTrade(9_007_199_254_740);
    expect((await h.provider.parseNotification(...args(h.fake.buildNotification(big)))).amountFen).toBe(9_007_199_254_740);
  });

  it('an invalid notification is answered 500 FAIL so that WeChat retries', async () => {
    const tradeNo = await paidTrade();
    expect(await h.fake.sendNotification(tradeNo, { url: notifyUrl, tamper: 'signature' })).toEqual([500]);
    expect(refused.at(-1)).toMatch(/signature does not verify/);
  });

  it.each([
    ['signature', /signature does not verify/],
    ['serial', /unknown platform serial 0000/],
    ['timestamp', /600 s away from now/],
    ['amount', /signature does not verify/],
    ['ciphertext', /does not decrypt/],
  ] as const)('tamper %s -> InvalidNotificationError', async (tamper, reason) => {
    const tradeNo = await paidTrade();
    expect(await invalidReason(h.provider, h.fake.buildNotification(tradeNo, { tamper }))).toMatch(reason);
  });

  it('a notification older (or newer) than the tolerance is refused; at the edge it passes', async () => {
    const tradeNo = await paidTrade();
    const n = h.fake.buildNotification(tradeNo);
    h.clock.advance(300 * SECOND);
    await expect(h.provider.parseNotification(n.headers, n.body)).resolves.toMatchObject({ tradeNo });
    h.clock.advance(1 * SECOND);
    expect(await invalidReason(h.provider, n)).toMatch(/301 s away/);
    h.clock.advance(-602 * SECOND);
    expect(await invalidReason(h.provider, n)).toMatch(/301 s away/);
    h.clock.advance(301 * SECOND);
    const strict = h.providerWith({ notificationToleranceSeconds: 10 });
    h.clock.advance(11 * SECOND);
    expect(await invalidReason(strict, n)).toMatch(/tolerance 10 s/);
    h.clock.advance(-11 * SECOND);
  });

  it('a provider with another APIv3 key cannot decrypt; a resource sealed under another key is refused', async () => {
    const tradeNo = await paidTrade();
    const wrongKey = h.providerWith({ apiV3Key: 'AnotherApiV3Key00000000000000032' });
    expect(await invalidReason(wrongKey, h.fake.buildNotification(tradeNo))).toMatch(/does not decrypt/);
    expect(await invalidReason(h.provider, h.fake.buildNotification(tradeNo, { apiV3Key: 'AnotherApiV3Key00000000000000032' }))).toMatch(/does not decrypt/);
  });

  it('a genuine notification for another merchant or app is refused', async () => {
    const tradeNo = await paidTrade();
    expect(await invalidReason(h.provider, h.fake.buildNotification(tradeNo, { resourcePatch: { mchid: '1900000999' } }))).toMatch(/mchid 1900000999/);
    expect(await invalidReason(h.provider, h.fake.buildNotification(tradeNo, { resourcePatch: { appid: 'wxOTHER' } }))).toMatch(/appid wxOTHER/);
  });

  it('amounts must be integers of fen in CNY', async () => {
    const tradeNo = await paidTrade();
    const patch = (amount: Record<string, unknown>) => h.fake.buildNotification(tradeNo, { resourcePatch: { amount } });
    expect(await invalidReason(h.provider, patch({ total: 19.99, currency: 'CNY' }))).toMatch(/not a positive integer/);
    expect(await invalidReason(h.provider, patch({ total: '1999', currency: 'CNY' }))).toMatch(/not a positive integer/);
    expect(await invalidReason(h.provider, patch({ total: 0, currency: 'CNY' }))).toMatch(/not a positive integer/);
    expect(await invalidReason(h.provider, patch({ total: 1999, currency: 'USD' }))).toMatch(/USD/);
  });

  it('maps the trade state and requires a transaction id on success', async () => {
    const tradeNo = await paidTrade();
    const n = (resourcePatch: Record<string, unknown>) => args(h.fake.buildNotification(tradeNo, { resourcePatch }));
    expect(await h.provider.parseNotification(...n({ trade_state: 'PAYERROR' }))).toMatchObject({ tradeNo, status: 'failed' });
    expect(await h.provider.parseNotification(...n({ trade_state: 'CLOSED' }))).toEqual({ tradeNo, status: 'closed', providerTxnId: h.fake.transactions.get(tradeNo)?.transactionId });
    expect(await invalidReason(h.provider, h.fake.buildNotification(tradeNo, { resourcePatch: { trade_state: 'WHATEVER' } }))).toMatch(/unknown trade_state/);
    expect(await invalidReason(h.provider, h.fake.buildNotification(tradeNo, { resourcePatch: { transaction_id: '' } }))).toMatch(/no transaction_id/);
  });

  it('missing or repeated headers are refused, header names are case-insensitive', async () => {
    const tradeNo = await paidTrade();
    const n = h.fake.buildNotification(tradeNo);
    const lower = Object.fromEntries(Object.entries(n.headers).map(([k, v]) => [k.toLowerCase(), v]));
    await expect(h.provider.parseNotification(lower, n.body)).resolves.toMatchObject({ tradeNo, status: 'succeeded' });
    const { 'Wechatpay-Signature': _dropped, ...noSignature } = n.headers;
    expect(await invalidReason(h.provider, { headers: noSignature, body: n.body })).toMatch(/header missing/);
    const twice: Record<string, string | string[]> = { ...lower, 'wechatpay-timestamp': [n.headers['Wechatpay-Timestamp'] ?? '', '1'] };
    await expect(h.provider.parseNotification(twice, n.body)).rejects.toThrow(InvalidNotificationError);
  });

  it('the fake only notifies trades it knows and that were paid, like WeChat', async () => {
    expect(() => h.fake.buildNotification(nextTradeNo())).toThrow(/no transaction/);
    const input = paymentInput(h);
    await h.provider.create(input);
    expect(() => h.fake.buildNotification(input.tradeNo)).toThrow(/only notifies payments/);
  });
});

function args(n: { headers: Record<string, string>; body: string }): [Record<string, string>, string] {
  return [n.headers, n.body];
}
