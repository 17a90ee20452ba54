import { describe, expect, it } from 'vitest';
import { bearer, type TestApp } from '../helpers/boot.js';
import type { FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { bootMpAppForFile, mpLogin, uniq, type MpSession } from '../helpers/mp-app.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';

// /mp/v1/after-sales asks the wallet who holds the code now: a gift's receiver reports it (no order id needed), the giver cannot.
let t: TestApp;
let wx: FakeWechatMp;
let finance: string;
bootMpAppForFile(async (app) => {
  ({ t, wx } = app);
  finance = (await t.loginAs('finance')).token;
});

const mp = (s: MpSession, method: 'GET' | 'POST', url: string, payload?: object, idem?: string) =>
  t.inject({ method, url, payload, headers: { ...bearer(s.token), ...(idem ? { 'idempotency-key': idem } : {}) } });

describe('mini-program after-sales for a gifted code', () => {
  it('the receiver opens and lists the ticket; the giver gets 404', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 5_000 });
    await stockCodes(t, sku, 1);
    const giver = await mpLogin({ t, wx });
    const receiver = await mpLogin({ t, wx });
    expect((await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'customer', buyer_id: giver.customerId, amount_fen: 5_000, reference: `topup-${uniq()}` } })).statusCode).toBe(200);
    const order = (await mp(giver, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, `o-${uniq()}`)).json().order;
    const codeId = (await mp(giver, 'GET', '/mp/v1/wallet')).json().data[0].id as string;
    const gift = await mp(giver, 'POST', `/mp/v1/wallet/codes/${codeId}/gift`, {}, `g-${uniq()}`);
    expect(gift.statusCode, gift.body).toBe(201);
    expect((await mp(receiver, 'POST', '/mp/v1/wallet/gifts/claim', { token: gift.json().token })).statusCode).toBe(200);
    expect((await mp(receiver, 'POST', `/mp/v1/wallet/codes/${codeId}/reveal`)).statusCode).toBe(200);

    const body = { code_ids: [codeId], description: 'the brand says the code is invalid' };
    const byGiver = await mp(giver, 'POST', '/mp/v1/after-sales', { order_id: order.id, ...body }, `ast-${uniq()}`);
    expect([byGiver.statusCode, byGiver.json().error.code]).toEqual([404, 'NOT_FOUND']);
    const opened = await mp(receiver, 'POST', '/mp/v1/after-sales', body, `ast-${uniq()}`);
    expect(opened.statusCode, opened.body).toBe(201);
    expect(opened.json()).toMatchObject({ customer_id: receiver.customerId, order_id: order.id, code_ids: [codeId], status: 'open' });
    expect((await mp(receiver, 'GET', '/mp/v1/after-sales')).json().data.map((x: { id: string }) => x.id)).toEqual([opened.json().id]);
    expect((await mp(giver, 'GET', '/mp/v1/after-sales')).json().data).toEqual([]);
  });
});
