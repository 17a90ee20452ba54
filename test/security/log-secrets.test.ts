import { Writable } from 'node:stream';
import { authenticator } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/boot.js';
import { randomSecrets } from '../helpers/codes.js';
import { createLogger } from '../../src/lib/logger.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { buildWorld, mp, signedCall, uniq, type World } from './world.js';

/**
 * A full journey at log level trace, every line captured: staff login with a
 * second factor, code import, agent order and delivery, reveals (staff, agent,
 * one-time link), mini-program login with a phone, a gift, a withdrawal, keys
 * and webhook secrets. No line may hold any secret the journey used.
 */
const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, cb) {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    cb();
  },
});
let w: World;
beforeAll(async () => {
  w = await buildWorld({ logger: createLogger('trace', sink) });
});
afterAll(() => w?.close());

describe('secrets never appear in logs', () => {
  it('a full journey leaves no code secret, password, token, key secret, TOTP secret, payout account or full phone number in any line', async () => {
    const { t, owner, agentA, custA, custB } = w;
    const used: string[] = [...w.secrets];
    const admin = (method: string, url: string, payload?: object, token = owner.token) => t.inject({ method: method as 'POST', url, payload, headers: { ...bearer(token), 'idempotency-key': `k-${uniq()}` } });

    // Staff: a new finance member with a second factor; a failed login with a near-miss password.
    const email = `fin-${uniq()}@log.test`;
    const password = `Fin-password-${uniq()}`;
    used.push(password, 'Fin-password-wrong-guess');
    expect((await admin('POST', '/admin/staff', { email, name: 'Fin', role: 'finance', password })).statusCode).toBe(201);
    const login = (pw: string, otp?: string) => t.inject({ method: 'POST', url: '/admin/auth/login', payload: { email, password: pw, ...(otp ? { otp } : {}) }, headers: { 'x-device-id': 'log-device-1' }, remoteAddress: '192.0.2.10' });
    const first = await login(password);
    expect(first.statusCode).toBe(200);
    const firstToken = first.json().token as string;
    used.push(firstToken);
    const enrol = (await admin('POST', '/admin/auth/totp/enroll', undefined, firstToken)).json() as { secret: string; otpauth_url: string };
    used.push(enrol.secret);
    const otp = () => authenticator.clone({ epoch: t.platform.clock.now().getTime() }).generate(enrol.secret);
    expect((await admin('POST', '/admin/auth/totp/confirm', { otp: otp() }, firstToken)).statusCode).toBe(200);
    expect((await login('Fin-password-wrong-guess', otp())).statusCode).toBe(401);
    expect((await login(password)).statusCode).toBe(401);
    const second = await login(password, otp());
    expect(second.statusCode, second.body).toBe(200);
    const finance = second.json().token as string;
    used.push(finance, second.cookies.find((c) => c.name === 'kq_session')!.value);

    // Codes imported over HTTP, bought by an agent, revealed three ways.
    const imported = randomSecrets(3);
    used.push(...imported);
    const imp = await admin('POST', '/admin/vault/imports/text', { sku_id: w.skuId, supplier: 'log-supplier', unit_cost_fen: 800, mode: 'all_or_nothing', text: imported.join('\n') });
    expect(imp.statusCode, imp.body).toBe(201);
    const order = await signedCall(t, agentA.key, 'POST', '/open/v1/orders', { sku_id: w.skuId, quantity: 2, payment: 'balance' }, `o-${uniq()}`);
    expect(order.statusCode, order.body).toBe(201);
    const orderId = order.json().order.id as string;
    const codes = await signedCall(t, agentA.key, 'GET', `/open/v1/orders/${orderId}/codes`);
    expect(codes.statusCode, codes.body).toBe(200);
    const codeId = codes.json().codes[0].code_id as string;
    expect((await admin('POST', `/admin/vault/codes/${codeId}/reveal`, { reason: 'customer asked' })).statusCode).toBeLessThan(300);
    const link = await admin('POST', `/admin/orders/${orderId}/reveal-link`, {});
    expect(link.statusCode, link.body).toBeLessThan(300);
    const url = new URL(link.json().url as string);
    used.push(url.pathname.split('/').at(-1)!);
    expect((await t.inject({ method: 'GET', url: url.pathname })).statusCode).toBe(200);
    expect((await t.inject({ method: 'POST', url: url.pathname, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })).statusCode).toBeLessThan(500);

    // Mini-program: customer A (logged in with a phone in the world) reveals, then gifts a code to customer B.
    expect((await mp(t, custA, 'POST', `/mp/v1/orders/${custA.orderId}/reveal`)).statusCode).toBe(200);
    const bought = await mp(t, custA, 'POST', '/mp/v1/orders', { sku_id: w.skuId, quantity: 1, payment: 'balance' }, `o-${uniq()}`);
    expect(bought.statusCode, bought.body).toBe(201);
    const ready = (await mp(t, custA, 'GET', '/mp/v1/wallet?state=ready')).json().data[0].id as string;
    const gift = await mp(t, custA, 'POST', `/mp/v1/wallet/codes/${ready}/gift`, { message: 'for you' }, `g-${uniq()}`);
    expect(gift.statusCode, gift.body).toBe(201);
    used.push(gift.json().token);
    expect((await mp(t, custB, 'POST', '/mp/v1/wallet/gifts/claim', { token: gift.json().token })).statusCode).toBe(200);
    const giftSecret = (await mp(t, custB, 'POST', `/mp/v1/wallet/codes/${ready}/reveal`)).json().secret as string;
    used.push(giftSecret);

    // Keys and webhook secrets.
    const key = await admin('POST', '/admin/api-keys', { owner_type: 'partner', owner_id: 'log-partner', name: 'log' });
    used.push(key.json().secret);
    const hook = await admin('POST', '/admin/webhooks/endpoints', { owner_type: 'partner', owner_id: 'log-partner', url: 'https://hooks.example.com/kq', events: ['order.paid'] });
    expect(hook.statusCode, hook.body).toBe(201);
    if (hook.json().secret) used.push(hook.json().secret);
    const rotated = await admin('POST', `/admin/webhooks/endpoints/${hook.json().id}/rotate-secret`, {});
    used.push(rotated.json().secret);

    // A withdrawal with a full bank account number.
    await t.platform.db.transaction((tx) =>
      t.services.ledger.post(tx, { kind: 'commission_settled', refType: 'test', refId: agentA.id, postings: [{ account: accounts.commissionExpense, amountFen: -30_000 }, { account: accounts.commissionAvailable(agentA.id), amountFen: 30_000 }] }),
    );
    const account = '6222021234567890123';
    used.push(account);
    const wd = await signedCall(t, agentA.key, 'POST', '/open/v1/withdrawals', { amount_fen: 20_000, method: 'bank_transfer', payout_account: account }, `wd-${uniq()}`);
    expect(wd.statusCode, wd.body).toBe(201);
    const payout = await admin('GET', `/admin/withdrawals/${wd.json().id}/payout-account`, undefined, finance);
    expect(payout.statusCode, payout.body).toBe(200);

    // Customer B's phone given through the mini-program too.
    const phoneB = '15987654321';
    used.push(phoneB);
    w.wx.phoneCode('phone-b', phoneB);
    expect((await mp(t, custB, 'POST', '/mp/v1/phone', { code: 'phone-b' })).statusCode).toBe(200);

    const all = lines.join('\n');
    if (process.env.LOG_DEBUG) console.log(lines.map((l) => l.slice(0, 160)).join("\n"));
    expect(lines.length).toBeGreaterThan(60);
    expect(lines.every((l) => typeof JSON.parse(l).level === 'number')).toBe(true);
    const leaks = used.filter((s) => s.length >= 6 && all.includes(s));
    expect(leaks.map((s) => `${s.slice(0, 4)}… in: ${lines.find((l) => l.includes(s))!.slice(0, 300)}`)).toEqual([]);
    // Phones appear masked where they appear at all.
    expect(all).not.toMatch(/(?<!\d)1[3-9]\d{9}(?!\d)/);
    console.log(`log-secrets: ${lines.length} log lines, ${used.length} secrets checked`);
  });
});
