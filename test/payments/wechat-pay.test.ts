import { createPublicKey, verify } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WeChatPayError, createWeChatPayProvider } from '../../src/modules/payments/wechat-pay.js';
import { APP_ID, MCH_ID, MERCHANT_SERIAL, nextTradeNo, paymentInput, rsaKeyPair, startWeChatHarness, type WeChatHarness } from './wechat-fixture.js';

let h: WeChatHarness;
beforeAll(async () => {
  h = await startWeChatHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.fake.behaviour.responseSignature = 'valid';
  h.fake.behaviour.latencyMs = 0;
  h.fake.behaviour.refundStatus = 'PROCESSING';
});

async function rejection(p: Promise<unknown>): Promise<WeChatPayError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WeChatPayError);
  return err as WeChatPayError;
}

describe('create', () => {
  it('sends a correctly signed JSAPI order and returns wx.requestPayment parameters signed with the merchant key', async () => {
    const input = paymentInput(h);
    const before = h.fake.requests.length;
    const { clientParams, providerData } = await h.provider.create(input);

    const req = h.fake.requests[before];
    expect(req).toMatchObject({ method: 'POST', path: '/v3/pay/transactions/jsapi', signatureValid: true, status: 200 });
    expect(JSON.parse(req?.body ?? '')).toEqual({
      appid: APP_ID,
      mchid: MCH_ID,
      description: '腾讯视频VIP月卡',
      out_trade_no: input.tradeNo,
      time_expire: '2026-03-01T12:15:00+08:00',
      notify_url: input.notifyUrl,
      amount: { total: 1999, currency: 'CNY' },
      payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    });

    const tx = h.fake.transactions.get(input.tradeNo);
    expect(providerData).toEqual({ prepay_id: tx?.prepayId });
    expect(clientParams).toMatchObject({ appId: APP_ID, package: `prepay_id=${tx?.prepayId}`, signType: 'RSA', timeStamp: '1772337600' });
    const { timeStamp, nonceStr, package: pkg, paySign } = clientParams as Record<string, string>;
    expect(nonceStr).toMatch(/^[0-9A-Z]{32}$/);
    const message = `${APP_ID}\n${timeStamp}\n${nonceStr}\n${pkg}\n`;
    expect(verify('sha256', Buffer.from(message), createPublicKey(h.merchantPublicKeyPem), Buffer.from(paySign ?? '', 'base64'))).toBe(true);
  });

  it('puts the merchant serial and mchid in the Authorization header', async () => {
    const before = h.fake.requests.length;
    await h.provider.create(paymentInput(h));
    expect(h.fake.requests[before]?.signatureValid).toBe(true);
    // The fake was started with merchantSerialNo and would have answered 401 SIGN_ERROR otherwise.
    expect(h.options.merchantSerialNo).toBe(MERCHANT_SERIAL);
  });

  it('repeating the same create returns the same prepay_id; other terms under the same trade number are refused', async () => {
    const input = paymentInput(h);
    const first = await h.provider.create(input);
    const again = await h.provider.create(input);
    expect(again.providerData).toEqual(first.providerData);
    const err = await rejection(h.provider.create({ ...input, amountFen: 2999 }));
    expect(err).toMatchObject({ code: 'INVALID_REQUEST', httpStatus: 400, signatureVerified: true });
  });

  it('refuses bad input before calling WeChat', async () => {
    const before = h.fake.requests.length;
    await expect(h.provider.create(paymentInput(h, { amountFen: 19.99 }))).rejects.toThrow(/positive integer of fen/);
    await expect(h.provider.create(paymentInput(h, { amountFen: 0 }))).rejects.toThrow(/positive integer of fen/);
    await expect(h.provider.create(paymentInput(h, { payer: {} }))).rejects.toThrow(/openid/);
    await expect(h.provider.create(paymentInput(h, { tradeNo: 'bad no!' }))).rejects.toThrow(/trade number/);
    await expect(h.provider.create(paymentInput(h, { expiresAt: h.clock.now() }))).rejects.toThrow(/future/);
    expect(h.fake.requests.length).toBe(before);
  });

  it('cuts an over-long description to 127 bytes of UTF-8 without splitting a character', async () => {
    const input = paymentInput(h, { description: '卡'.repeat(60) });
    const before = h.fake.requests.length;
    await h.provider.create(input);
    const sent = JSON.parse(h.fake.requests[before]?.body ?? '{}') as { description: string };
    expect(sent.description).toBe('卡'.repeat(42));
  });

  it('a request signed with another merchant key gets 401 SIGN_ERROR', async () => {
    const other = rsaKeyPair();
    const err = await rejection(h.providerWith({ merchantPrivateKeyPem: other.privateKeyPem }).create(paymentInput(h)));
    expect(err).toMatchObject({ code: 'SIGN_ERROR', httpStatus: 401, signatureVerified: false });
    expect(h.fake.requests.at(-1)).toMatchObject({ signatureValid: false, status: 401 });
  });
});

describe('response signatures', () => {
  it.each(['wrong', 'unknown-serial', 'missing'] as const)('a 2xx answer with a %s signature is rejected', async (mode) => {
    const input = paymentInput(h);
    await h.provider.create(input);
    h.fake.behaviour.responseSignature = mode;
    const err = await rejection(h.provider.query(input.tradeNo));
    expect(err.code).toBe('INVALID_RESPONSE_SIGNATURE');
    await expect(h.provider.create(paymentInput(h))).rejects.toMatchObject({ code: 'INVALID_RESPONSE_SIGNATURE' });
  });

  it('an unsigned ORDER_NOT_EXIST is not taken as "closed"', async () => {
    h.fake.behaviour.responseSignature = 'wrong';
    const err = await rejection(h.provider.query(nextTradeNo()));
    expect(err).toMatchObject({ code: 'ORDER_NOT_EXIST', httpStatus: 404, signatureVerified: false });
  });

  it('accepts a platform key under a second serial during a rotation', async () => {
    const rotated = h.providerWith({ platformPublicKeys: { OLDSERIAL: rsaKeyPair().publicKeyPem, [h.fake.platformSerial]: h.fake.platformPublicKeyPem } });
    const input = paymentInput(h);
    await rotated.create(input);
    await expect(rotated.query(input.tradeNo)).resolves.toMatchObject({ status: 'pending' });
  });
});

describe('query', () => {
  it('maps trade states and reports the paid amount, transaction id and time exactly', async () => {
    const input = paymentInput(h, { amountFen: 123_456_789 });
    await h.provider.create(input);
    expect(await h.provider.query(input.tradeNo)).toEqual({ tradeNo: input.tradeNo, status: 'pending' });

    h.clock.advance(42_000);
    const tx = h.fake.pay(input.tradeNo);
    const state = await h.provider.query(input.tradeNo);
    expect(state).toEqual({
      tradeNo: input.tradeNo,
      status: 'succeeded',
      providerTxnId: tx.transactionId,
      amountFen: 123_456_789,
      paidAt: h.clock.now(),
    });
    expect(Number.isInteger(state.amountFen)).toBe(true);
    expect(h.fake.requests.at(-1)?.path).toBe(`/v3/pay/transactions/out-trade-no/${input.tradeNo}?mchid=${MCH_ID}`);
  });

  it('an unknown trade (404 ORDER_NOT_EXIST) is closed: no payment can exist for it', async () => {
    const tradeNo = nextTradeNo();
    expect(await h.provider.query(tradeNo)).toEqual({ tradeNo, status: 'closed' });
  });

  it.each([
    ['CLOSED', 'closed'],
    ['REVOKED', 'closed'],
    ['PAYERROR', 'failed'],
    ['USERPAYING', 'pending'],
  ] as const)('%s -> %s', async (wechatState, status) => {
    const input = paymentInput(h);
    await h.provider.create(input);
    h.fake.setState(input.tradeNo, wechatState);
    expect(await h.provider.query(input.tradeNo)).toMatchObject({ tradeNo: input.tradeNo, status });
  });

  it('an unpaid trade past time_expire is closed', async () => {
    const input = paymentInput(h);
    await h.provider.create(input);
    h.clock.advance(16 * 60_000);
    expect(await h.provider.query(input.tradeNo)).toMatchObject({ status: 'closed' });
  });

  it('a slow answer is a TIMEOUT error', async () => {
    h.fake.behaviour.latencyMs = 400;
    const started = Date.now();
    const err = await rejection(h.providerWith({ timeoutMs: 100 }).query(nextTradeNo()));
    expect(err.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(350);
  });

  it('an unreachable WeChat is a NETWORK_ERROR', async () => {
    const err = await rejection(h.providerWith({ baseUrl: 'http://127.0.0.1:1' }).query(nextTradeNo()));
    expect(err.code).toBe('NETWORK_ERROR');
  });
});

describe('refund', () => {
  async function paidTrade(amountFen = 5000): Promise<string> {
    const input = paymentInput(h, { amountFen });
    await h.provider.create(input);
    h.fake.pay(input.tradeNo);
    return input.tradeNo;
  }

  it('sends a refund and maps SUCCESS; the same refund id again is the same refund', async () => {
    const tradeNo = await paidTrade();
    h.fake.behaviour.refundStatus = 'SUCCESS';
    const input = { refundId: 'RF2026030100001', tradeNo, amountFen: 1200, totalFen: 5000, reason: '卡密无效' };
    const result = await h.provider.refund(input);
    const stored = h.fake.refunds.get('RF2026030100001');
    expect(result).toEqual({ status: 'succeeded', providerRefundId: stored?.refundId });
    expect(JSON.parse(h.fake.requests.at(-1)?.body ?? '{}')).toEqual({
      out_trade_no: tradeNo,
      out_refund_no: 'RF2026030100001',
      reason: '卡密无效',
      amount: { refund: 1200, total: 5000, currency: 'CNY' },
    });
    expect(await h.provider.refund(input)).toEqual(result);
    expect(h.fake.transactions.get(tradeNo)?.refundedFen).toBe(1200);
    // A refunded payment was still paid.
    expect(await h.provider.query(tradeNo)).toMatchObject({ status: 'succeeded', amountFen: 5000 });
  });

  it.each([
    ['PROCESSING', 'pending'],
    ['ABNORMAL', 'pending'],
    ['CLOSED', 'failed'],
  ] as const)('%s -> %s', async (wechatStatus, status) => {
    const tradeNo = await paidTrade();
    h.fake.behaviour.refundStatus = wechatStatus;
    const result = await h.provider.refund({ refundId: `RF${nextTradeNo()}`, tradeNo, amountFen: 5000, totalFen: 5000, reason: 'test' });
    expect(result.status).toBe(status);
    expect(result.providerRefundId).toMatch(/^5030\d{25}$/);
  });

  it('refunding more than is left is WeChat INVALID_REQUEST', async () => {
    const tradeNo = await paidTrade(3000);
    await h.provider.refund({ refundId: `RF${nextTradeNo()}`, tradeNo, amountFen: 2000, totalFen: 3000, reason: 'part' });
    const err = await rejection(h.provider.refund({ refundId: `RF${nextTradeNo()}`, tradeNo, amountFen: 1001, totalFen: 3000, reason: 'rest' }));
    expect(err).toMatchObject({ code: 'INVALID_REQUEST', httpStatus: 400 });
  });

  it('refunding an unknown trade is RESOURCE_NOT_EXISTS; bad amounts never leave', async () => {
    await expect(h.provider.refund({ refundId: 'RF1', tradeNo: nextTradeNo(), amountFen: 1, totalFen: 1, reason: 'x' })).rejects.toMatchObject({
      code: 'RESOURCE_NOT_EXISTS',
      httpStatus: 404,
    });
    const before = h.fake.requests.length;
    const base = { refundId: 'RF2', tradeNo: nextTradeNo(), reason: 'x' };
    await expect(h.provider.refund({ ...base, amountFen: 10.5, totalFen: 100 })).rejects.toThrow(/positive integer of fen/);
    await expect(h.provider.refund({ ...base, amountFen: 101, totalFen: 100 })).rejects.toThrow(/more than/);
    expect(h.fake.requests.length).toBe(before);
  });
});

describe('construction and acknowledge', () => {
  it('stops at start on a bad key or APIv3 key', () => {
    expect(() => h.providerWith({ apiV3Key: 'short' })).toThrow(/32 bytes/);
    expect(() => h.providerWith({ merchantPrivateKeyPem: 'not a key' })).toThrow(/merchantPrivateKeyPem/);
    expect(() => h.providerWith({ platformPublicKeys: {} })).toThrow(/platform public key/);
    expect(() => h.providerWith({ platformPublicKeys: { X: 'garbage' } })).toThrow(/platform public key X/);
  });

  it('acknowledges with 204, or 500 FAIL so WeChat retries', () => {
    const provider = createWeChatPayProvider(h.options, h.clock);
    expect(provider.name).toBe('wechat');
    expect(provider.acknowledge(true)).toEqual({ statusCode: 204 });
    expect(provider.acknowledge(false)).toMatchObject({ statusCode: 500, body: { code: 'FAIL' } });
  });
});
