import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/boot.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { signWebhook, verifySignature } from '../../src/modules/webhooks/signature.js';
import { startAppWithWeChatPay } from '../payments/wechat-fixture.js';
import { OA } from '../bots/wechat-helpers.js';
import { buildWorld, businessSnapshot, mp, signedCall, uniq, type World } from './world.js';

/** OWASP API2 (broken authentication): replayed, expired and tampered credentials and signatures are refused. */
const clock = new ManualClock(new Date());
const TG_SECRET = 'tg-webhook-secret-0123456789';
let w: World;
beforeAll(async () => {
  w = await buildWorld({
    clock,
    env: {
      SESSION_TTL_MINUTES: '60',
      TELEGRAM_BOT_ENABLED: 'true',
      TELEGRAM_BOT_MODE: 'webhook',
      TELEGRAM_BOT_TOKEN: '123456:TEST-token-for-security-tests',
      TELEGRAM_WEBHOOK_SECRET: TG_SECRET,
      TELEGRAM_API_ROOT: 'http://127.0.0.1:9',
      WECHAT_OA_TOKEN: OA.token,
      WECHAT_OA_AES_KEY: OA.aesKey,
      WECHAT_OA_APPID: OA.appId,
      WECHAT_OA_APPSECRET: OA.appSecret,
      WECHAT_API_BASE: 'http://127.0.0.1:9',
    },
  });
});
afterAll(() => w?.close());

describe('admin sessions', () => {
  it('a token is refused after logout, by bearer and by cookie', async () => {
    const s = await w.t.loginAs('support');
    expect((await w.t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(s.token) })).statusCode).toBe(200);
    expect((await w.t.inject({ method: 'POST', url: '/admin/auth/logout', headers: bearer(s.token) })).statusCode).toBeLessThan(300);
    for (const headers of [bearer(s.token), { cookie: s.cookie }]) {
      const res = await w.t.inject({ method: 'GET', url: '/admin/auth/me', headers });
      expect([res.statusCode, res.json().error.code]).toEqual([401, 'UNAUTHENTICATED']);
    }
  });

  it('a forged or tampered cookie and a made-up token are refused', async () => {
    const s = await w.t.loginAs('support');
    const [name, value] = s.cookie.split('=') as [string, string];
    const tampered = `${name}=${value.slice(0, -3)}${value.endsWith('A') ? 'BBB' : 'AAA'}`;
    expect((await w.t.inject({ method: 'GET', url: '/admin/auth/me', headers: { cookie: tampered } })).statusCode).toBe(401);
    const unsigned = `${name}=${s.token}`;
    expect((await w.t.inject({ method: 'GET', url: '/admin/auth/me', headers: { cookie: unsigned } })).statusCode).toBe(401);
    expect((await w.t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(`${s.token}x`) })).statusCode).toBe(401);
    expect((await w.t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(s.token.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'))) })).statusCode).toBe(401);
  });

  it('a customer token is refused after mini-program logout', async () => {
    const code = `login-${uniq()}`;
    w.wx.loginCode(code, { openid: `o_${uniq()}` });
    const token = (await w.t.inject({ method: 'POST', url: '/mp/v1/login', payload: { code } })).json().token as string;
    expect((await w.t.inject({ method: 'GET', url: '/mp/v1/me', headers: bearer(token) })).statusCode).toBe(200);
    expect((await w.t.inject({ method: 'POST', url: '/mp/v1/logout', headers: bearer(token) })).statusCode).toBeLessThan(300);
    expect((await w.t.inject({ method: 'GET', url: '/mp/v1/me', headers: bearer(token) })).statusCode).toBe(401);
  });
});

describe('signed open-API requests', () => {
  const whoami = '/open/v1/whoami';
  const headersAt = (at: Date, nonce?: string, url = whoami, body = '', method = 'GET') => signedHeaders(w.agentA.key.id, w.agentA.key.secret, method, url, body, at, nonce);

  it('replayed (same nonce), too old, from the future, or with a foreign key id: 401', async () => {
    const nonce = `nonce-${uniq()}-0123456789`;
    const first = await w.t.inject({ method: 'GET', url: whoami, headers: headersAt(clock.now(), nonce) });
    expect(first.statusCode).toBe(200);
    const replay = await w.t.inject({ method: 'GET', url: whoami, headers: headersAt(clock.now(), nonce) });
    expect([replay.statusCode, replay.json().error.code]).toEqual([401, 'INVALID_SIGNATURE']);
    expect((await w.t.inject({ method: 'GET', url: whoami, headers: headersAt(new Date(clock.now().getTime() - 6 * MINUTE)) })).statusCode).toBe(401);
    expect((await w.t.inject({ method: 'GET', url: whoami, headers: headersAt(new Date(clock.now().getTime() + 6 * MINUTE)) })).statusCode).toBe(401);
    const foreign = { ...headersAt(clock.now()), 'x-kq-key': w.agentB.key.id };
    expect((await w.t.inject({ method: 'GET', url: whoami, headers: foreign })).statusCode).toBe(401);
  });

  it('a tampered body, query, path or method is refused and writes nothing', async () => {
    const before = await businessSnapshot(w.t);
    const body = JSON.stringify({ sku_id: w.skuId, quantity: 1, payment: 'balance' });
    const h = { ...headersAt(clock.now(), undefined, '/open/v1/orders', body, 'POST'), 'content-type': 'application/json', 'idempotency-key': `t-${uniq()}` };
    const tampered = await w.t.inject({ method: 'POST', url: '/open/v1/orders', headers: h, payload: body.replace('"quantity":1', '"quantity":9') });
    expect(tampered.statusCode).toBe(401);
    const spaced = await w.t.inject({ method: 'POST', url: '/open/v1/orders', headers: { ...h, 'idempotency-key': `t-${uniq()}` }, payload: `${body} ` });
    expect(spaced.statusCode).toBe(401);
    expect((await w.t.inject({ method: 'GET', url: '/open/v1/orders?limit=50', headers: headersAt(clock.now(), undefined, '/open/v1/orders?limit=5') })).statusCode).toBe(401);
    expect((await w.t.inject({ method: 'GET', url: `/open/v1/orders/${w.agentB.orderId}`, headers: headersAt(clock.now(), undefined, `/open/v1/orders/${w.agentA.orderId}`) })).statusCode).toBe(401);
    expect((await w.t.inject({ method: 'DELETE', url: '/open/v1/webhooks/endpoints/whe_00000000000000000000000000', headers: headersAt(clock.now(), undefined, '/open/v1/webhooks/endpoints/whe_00000000000000000000000000', '', 'GET') })).statusCode).toBe(401);
    expect(await businessSnapshot(w.t)).toBe(before);
  });

  it('a revoked key is refused at once', async () => {
    const k = (await w.t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(w.owner.token), payload: { owner_type: 'partner', owner_id: 'p-revoke', name: 'short-lived' } })).json() as { id: string; secret: string };
    expect((await signedCall(w.t, k, 'GET', whoami)).statusCode).toBe(200);
    expect((await w.t.inject({ method: 'DELETE', url: `/admin/api-keys/${k.id}`, headers: bearer(w.owner.token) })).statusCode).toBeLessThan(300);
    expect((await signedCall(w.t, k, 'GET', whoami)).statusCode).toBe(401);
  });
});

describe('outbound webhook signatures (the receiver helper)', () => {
  it('verifies a genuine delivery and refuses tampered, re-signed, replayed-late and unsigned ones', () => {
    const secret = 'whsec_test_0123456789';
    const body = JSON.stringify({ id: 'evt_1', type: 'order.paid', data: { amount_fen: 100 } });
    const now = clock.now();
    const headers = signWebhook(secret, 'evt_1', body, now);
    expect(verifySignature(secret, headers, body, now)).toMatchObject({ ok: true, id: 'evt_1' });
    expect(verifySignature(secret, headers, body.replace('100', '1'), now).ok).toBe(false);
    expect(verifySignature('whsec_other', headers, body, now).ok).toBe(false);
    expect(verifySignature(secret, headers, body, new Date(now.getTime() + 6 * MINUTE))).toMatchObject({ ok: false });
    expect(verifySignature(secret, { ...headers, 'Kaquan-Webhook-Id': 'evt_2' }, body, now).ok).toBe(false);
    expect(verifySignature(secret, {}, body, now).ok).toBe(false);
    expect(verifySignature(secret, { ...headers, 'Kaquan-Webhook-Signature': headers['Kaquan-Webhook-Signature']!.replace('v1=', 'v0=') }, body, now).ok).toBe(false);
  });
});

describe('inbound callbacks with bad signatures are refused and change nothing', () => {
  it('Telegram webhook: missing or wrong secret token', async () => {
    const update = JSON.stringify({ update_id: 1, message: { message_id: 1, date: 1, chat: { id: 5, type: 'private' }, from: { id: 5, is_bot: false, first_name: 'x' }, text: '/start' } });
    for (const headers of [{}, { 'x-telegram-bot-api-secret-token': 'wrong' }, { 'x-telegram-bot-api-secret-token': `${TG_SECRET}x` }]) {
      const res = await w.t.inject({ method: 'POST', url: '/bots/telegram/webhook', headers: { 'content-type': 'application/json', ...headers }, payload: update });
      expect(res.statusCode, res.body).toBe(401);
    }
    expect(await w.t.services.customers.find({ provider: 'telegram', externalId: '5' })).toBeNull();
  });

  it('WeChat Official Account: forged signature or stale timestamp', async () => {
    const xml = `<xml><ToUserName><![CDATA[${OA.gh}]]></ToUserName><FromUserName><![CDATA[oFORGED0000000000000000001]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>1</MsgId></xml>`;
    const ts = Math.floor(clock.now().getTime() / 1000);
    const sig = (t: number) => createHash('sha1').update([OA.token, String(t), 'n1'].sort().join('')).digest('hex');
    for (const q of [`signature=${'0'.repeat(40)}&timestamp=${ts}&nonce=n1`, `signature=${sig(ts - 3600)}&timestamp=${ts - 3600}&nonce=n1`, `timestamp=${ts}&nonce=n1`]) {
      const res = await w.t.inject({ method: 'POST', url: `/bots/wechat-oa/webhook?${q}`, headers: { 'content-type': 'text/xml' }, payload: xml });
      expect(res.statusCode, q).toBe(401);
    }
    expect(await w.t.services.customers.find({ provider: 'wechat_openid', externalId: 'oFORGED0000000000000000001' })).toBeNull();
  });

  it('WeChat Pay notification: forged signature, wrong serial, stale timestamp', async () => {
    const pay = await startAppWithWeChatPay(w.t, clock);
    try {
      const before = await businessSnapshot(w.t);
      const ts = String(Math.floor(clock.now().getTime() / 1000));
      const body = JSON.stringify({ id: 'n1', event_type: 'TRANSACTION.SUCCESS', resource_type: 'encrypt-resource', resource: { algorithm: 'AEAD_AES_256_GCM', ciphertext: 'AAAA', nonce: 'abcdefabcdef', associated_data: 'transaction' } });
      for (const h of [
        { 'wechatpay-signature': Buffer.from('forged').toString('base64'), 'wechatpay-timestamp': ts, 'wechatpay-nonce': 'n', 'wechatpay-serial': pay.fake.platformSerial },
        { 'wechatpay-signature': Buffer.from('forged').toString('base64'), 'wechatpay-timestamp': ts, 'wechatpay-nonce': 'n', 'wechatpay-serial': 'UNKNOWN' },
        { 'wechatpay-signature': Buffer.from('forged').toString('base64'), 'wechatpay-timestamp': String(Number(ts) - 3600), 'wechatpay-nonce': 'n', 'wechatpay-serial': pay.fake.platformSerial },
        {},
      ]) {
        const res = await pay.app.inject({ method: 'POST', url: '/payments/notify/wechat', headers: { 'content-type': 'application/json', ...h }, payload: body });
        expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, res.body).toBeLessThan(500);
      }
      expect(await businessSnapshot(w.t)).toBe(before);
    } finally {
      await pay.close();
    }
  });

  it('supplier callbacks: unsigned or wrongly signed', async () => {
    const res = await w.t.inject({ method: 'POST', url: '/callbacks/suppliers/sup_00000000000000000000000000', headers: { 'content-type': 'application/json', 'x-supplier-timestamp': '1', 'x-supplier-signature': 'f'.repeat(64) }, payload: { ref: 'x', status: 'succeeded' } });
    expect([401, 404]).toContain(res.statusCode);
  });
});

describe('expiry (last: moves the clock)', () => {
  it('an admin session is refused once its TTL has passed; a fresh login works', async () => {
    const s = await w.t.loginAs('support');
    expect((await w.t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(s.token) })).statusCode).toBe(200);
    clock.advance(61 * MINUTE);
    expect((await w.t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(s.token) })).statusCode).toBe(401);
    expect((await w.t.inject({ method: 'GET', url: '/admin/auth/me', headers: { cookie: s.cookie } })).statusCode).toBe(401);
    const again = await w.t.loginAs('support');
    expect((await w.t.inject({ method: 'GET', url: '/admin/auth/me', headers: bearer(again.token) })).statusCode).toBe(200);
    // An open-API request signed at the old time is now stale too.
    const stale = signedHeaders(w.agentA.key.id, w.agentA.key.secret, 'GET', '/open/v1/whoami', '', new Date(clock.now().getTime() - 61 * MINUTE));
    expect((await w.t.inject({ method: 'GET', url: '/open/v1/whoami', headers: stale })).statusCode).toBe(401);
    expect((await mp(w.t, w.custA, 'GET', '/mp/v1/me')).statusCode).toBeLessThan(500);
  });
});
