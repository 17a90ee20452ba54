import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PuppetMock, mock } from 'wechaty-puppet-mock';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { startFakeWechatApi, type FakeWechatApi } from '../fakes/wechat-api/server.js';
import { createChatCore } from '../../bots/core/core.js';
import type { ChatCore, HandleResult } from '../../bots/core/types.js';
import { startWechatyBot, type WechatyBot } from '../../bots/wechat/wechaty.js';
import { createCallbackHandler } from '../../bots/wechat/callback.js';
import { OA, WECOM, createTranscript, numberOf, officialAccountClient, textXml } from './wechat-helpers.js';
import { decrypt, encrypt, getSignature } from '@wecom/crypto';
import { parseWechatXml } from '../../bots/wechat/wx-crypto.js';

/**
 * The WeChat journeys through the real libraries: wechaty on
 * wechaty-puppet-mock, and the Official Account webhook with signed plain XML
 * and encrypted XML (WXBizMsgCrypt), plus WeCom. A new user starts with a
 * group leader's referral, buys with balance by typing menu numbers, gets the
 * code in the private chat; the leader's 佣金 shows the commission; a
 * duplicated MsgId is answered once; a forged signature is refused with
 * nothing done; a room never sees a code. The run writes docs/transcripts/wechat.md.
 */
let t: TestApp;
let api: FakeWechatApi;
let core: ChatCore;
let owner: string;
let finance: string;
let secrets: string[] = [];
let productId = '';
const PRODUCT = '腾讯视频 VIP 月卡';
const transcript = createTranscript(
  'docs/transcripts/wechat.md',
  'WeChat transcripts',
  'Written by `test/bots/wechat.test.ts` on every run (codes masked). Numbers are typed by the user to pick from the numbered menu the bot showed last.',
);

beforeAll(async () => {
  api = await startFakeWechatApi({ appId: OA.appId, appSecret: OA.appSecret });
  t = await bootTestApp({
    env: {
      WECHAT_OA_TOKEN: OA.token,
      WECHAT_OA_AES_KEY: OA.aesKey,
      WECHAT_OA_APPID: OA.appId,
      WECHAT_OA_APPSECRET: OA.appSecret,
      WECHAT_API_BASE: api.url,
      WECOM_TOKEN: WECOM.token,
      WECOM_AES_KEY: WECOM.aesKey,
      WECOM_CORP_ID: WECOM.corpId,
    },
  });
  owner = (await t.loginAs('owner')).token;
  finance = (await t.loginAs('finance')).token;
  core = createChatCore(t.platform, t.services);
  const sku = await createCodeSku(t, { name: PRODUCT, retailPriceFen: 3_000, costFen: 2_000 });
  secrets = await stockCodes(t, sku, 20);
  transcript.hideSecrets(secrets);
  productId = (await t.services.catalog.getSku(sku)).productId;
  // The group leader earns 10% of the price on what the customers bound to them buy.
  const rule = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: 'leader 10%', scope_type: 'product', scope_value: productId, levels: [{ kind: 'percent_of_price', bps: 1000 }] } });
  expect(rule.statusCode).toBe(201);
});
afterAll(async () => {
  transcript.write();
  await t?.close();
  await api?.close();
});

const codesIn = (texts: string[]) => secrets.filter((s) => texts.some((x) => x.includes(s)));

async function leaderFor(provider: 'wechat_openid' | 'wecom_userid', externalId: string, name: string) {
  const customerId = await t.services.customers.find({ provider, externalId });
  expect(customerId).toBeTruthy();
  return t.services.agents.create({ name, role: 'group_leader', customerId: customerId! });
}

async function fund(provider: 'wechat_openid', externalId: string, fen: number) {
  const customerId = (await t.services.customers.find({ provider, externalId }))!;
  const res = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'customer', buyer_id: customerId, amount_fen: fen, reference: 'top-up at the counter' } });
  expect(res.statusCode).toBe(200);
  return customerId;
}

async function customerOrders(customerId: string) {
  return (await t.services.orders.list({ limit: 20, buyer: { type: 'customer', id: customerId } })).data;
}

/** Walks the buy flow by typing menu numbers; `say` sends one text and answers the bot's texts. */
async function buyOne(say: (text: string) => Promise<string[]>): Promise<string[]> {
  let out = await say('菜单');
  out = await say(numberOf(out.join('\n'), '购买'));
  out = await say(numberOf(out.join('\n'), PRODUCT));
  out = await say(numberOf(out.join('\n'), /^1$/));
  if (out.join('\n').includes('不使用优惠券')) out = await say(numberOf(out.join('\n'), '不使用优惠券'));
  return say(numberOf(out.join('\n'), '余额支付'));
}

describe('wechaty (wechaty-puppet-mock)', () => {
  let wx: WechatyBot;
  let mocker: mock.Mocker;
  let botUser: mock.ContactMock;
  let seen = 0;
  const botSaid = () => {
    const out: { to: string; text: string }[] = [];
    for (const m of mocker.cacheMessagePayload.values()) if (m.talkerId === botUser.id) out.push({ to: m.roomId || m.listenerId || '', text: m.text ?? '' });
    return out;
  };
  /** Sends as `from` to a contact or room and waits until the bot has answered; returns what the bot said since. */
  async function send(from: mock.ContactMock, text: string, to: mock.ContactMock | mock.RoomMock, mentions: mock.ContactMock[] = [], who = from.payload.name) {
    const arrived = new Promise<void>((resolve) => {
      const listener = (m: { text(): string; talker(): { id: string } }) => {
        if (m.talker().id === from.id && m.text() === text) {
          wx.bot.off('message', listener);
          resolve();
        }
      };
      wx.bot.on('message', listener);
    });
    from.say(text, mentions).to(to);
    await arrived;
    await wx.idle();
    const all = botSaid();
    const fresh = all.slice(seen);
    seen = all.length;
    transcript.line(`${who}${to instanceof mocker.RoomMock ? ` (in the room)` : ''}`, text);
    for (const f of fresh) transcript.line(`bot → ${f.to === from.id ? 'private chat' : f.to.endsWith('@chatroom') ? 'room' : f.to}`, f.text);
    return fresh;
  }

  beforeAll(async () => {
    mocker = new mock.Mocker();
    wx = await startWechatyBot(t.platform, core, { puppet: new PuppetMock({ mocker }) });
    botUser = mocker.createContact({ name: '卡券小助手' });
    mocker.login(botUser);
    await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(async () => wx?.stop());

  it('a new user starts with the group leader referral, buys with balance by menu numbers and gets the code in private; the leader sees the commission', async () => {
    transcript.section('wechaty: a group leader, a new customer, a purchase');
    const leader = mocker.createContact({ name: '王团长' });
    const user = mocker.createContact({ name: '小李' });
    await send(leader, '菜单', botUser);
    const agent = await leaderFor('wechat_openid', leader.id, '王团长');

    const start = await send(user, `/start ref_${agent.referral_code}`, botUser);
    expect(start.map((s) => s.text).join('\n')).toContain('王团长');
    const customerId = await fund('wechat_openid', user.id, 10_000);
    transcript.note('staff credit ¥100.00 to 小李 balance');

    const paid = await buyOne(async (text) => (await send(user, text, botUser)).filter((s) => s.to === user.id).map((s) => s.text));
    expect(codesIn(paid)).toHaveLength(1);
    const orders = await customerOrders(customerId);
    expect(orders).toHaveLength(1);
    expect(orders[0]!.status).toBe('delivered');

    await t.services.commissions.accrueDelivered();
    const commission = await send(leader, '佣金', botUser);
    expect(commission.map((s) => s.text).join('\n')).toContain('待结算：¥3.00');
  });

  it('delivers queued messages (after an external payment) to the private chat through the outbound queue, once', async () => {
    const buyer = mocker.createContact({ name: '小钱' });
    t.services.outbound.registerSender(wx.sender);
    const message = { place: { channel: 'wechat' as const, chatId: buyer.id, kind: 'private' as const }, user: { provider: 'wechat_openid' as const, externalId: buyer.id }, replies: [{ text: '您的订单已发货', secret: { text: 'QUEUED-SECRET-01', codeIds: ['c9'] } }], reason: 'order.delivered', dedupeKey: `wechat-test:${buyer.id}` };
    await t.services.outbound.enqueue(undefined, message);
    await t.services.outbound.enqueue(undefined, message);
    await t.services.outbound.drain(5_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(botSaid().filter((m) => m.to === buyer.id).map((m) => m.text)).toEqual(['您的订单已发货\n\nQUEUED-SECRET-01']);
    seen = botSaid().length;
  });

  it('in a room: chatter is ignored, commands are answered, and a code is never said in the room', async () => {
    transcript.section('wechaty: in a group room');
    const user = mocker.createContact({ name: '小赵' });
    const room = mocker.createRoom({ topic: '王团长的福利群', memberIdList: [botUser.id, user.id] });
    await send(user, '菜单', botUser);
    await fund('wechat_openid', user.id, 10_000);
    await buyOne(async (text) => (await send(user, text, botUser)).map((s) => s.text));

    expect(await send(user, '大家好，今天有什么活动？', room)).toEqual([]);
    const inRoom: { to: string; text: string }[] = [];
    let out = await send(user, '我的卡券', room);
    inRoom.push(...out);
    expect(out.some((s) => s.to === room.id)).toBe(true);
    // Picking the order from the menu the bot showed in the room: the codes go to the private chat (or the bot says to open it).
    const pick = out.filter((s) => s.to === room.id).map((s) => s.text).join('\n');
    if (/^\d+\. /m.test(pick)) {
      out = await send(user, '1', room);
      inRoom.push(...out);
    }
    out = await send(user, '我的卡券', room, [botUser], '小赵 (@bot)');
    inRoom.push(...out);
    expect(codesIn(inRoom.filter((s) => s.to === room.id).map((s) => s.text))).toEqual([]);
    expect(inRoom.filter((s) => s.to !== room.id).every((s) => s.to === user.id)).toBe(true);
  });
});

describe('wechaty adapter guarantees (a core that misbehaves)', () => {
  it('never says a secret in a room, and says elsewhere texts to the private chat', async () => {
    const mocker = new mock.Mocker();
    const leaky: ChatCore = {
      handle: async (inbound): Promise<HandleResult> => ({
        replies: [{ text: '已通过私聊发送', secret: { text: 'LEAK-IN-ROOM-0001', codeIds: ['c1'] } }],
        elsewhere: [{ place: { channel: 'wechat', chatId: inbound.user.externalId, kind: 'private' }, user: inbound.user, replies: [{ text: '您的卡密', secret: { text: 'PRIVATE-0002', codeIds: ['c2'] } }] }],
      }),
    };
    const bot = await startWechatyBot(t.platform, leaky, { puppet: new PuppetMock({ mocker }) });
    try {
      const self = mocker.createContact({ name: 'bot' });
      mocker.login(self);
      const member = mocker.createContact({ name: 'member' });
      const room = mocker.createRoom({ topic: 'room', memberIdList: [self.id, member.id] });
      const arrived = new Promise<void>((resolve) => bot.bot.on('message', (m) => void (m.talker().id === member.id && resolve())));
      member.say('我的卡券').to(room);
      await arrived;
      await bot.idle();
      await new Promise((r) => setTimeout(r, 50));
      const said = [...mocker.cacheMessagePayload.values()].filter((m) => m.talkerId === self.id);
      expect(said.filter((m) => m.roomId === room.id).map((m) => m.text)).toEqual(['已通过私聊发送']);
      expect(said.filter((m) => m.listenerId === member.id).map((m) => m.text)).toEqual(['您的卡密\n\nPRIVATE-0002']);
    } finally {
      await bot.stop();
    }
  });
});

describe('Official Account webhook', () => {
  const oa = () => officialAccountClient(t);

  it('answers the server check and refuses a forged one', async () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const { createHash } = await import('node:crypto');
    const sig = createHash('sha1').update([OA.token, ts, 'n1'].sort().join('')).digest('hex');
    const ok = await t.inject({ method: 'GET', url: `/bots/wechat-oa/webhook?signature=${sig}&timestamp=${ts}&nonce=n1&echostr=hello123` });
    expect([ok.statusCode, ok.body]).toEqual([200, 'hello123']);
    const bad = await t.inject({ method: 'GET', url: `/bots/wechat-oa/webhook?signature=${'0'.repeat(40)}&timestamp=${ts}&nonce=n1&echostr=hello123` });
    expect(bad.statusCode).toBe(401);
    const doc = (await t.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/bots/wechat-oa/webhook', '/bots/wecom/webhook']));
  });

  it('the journey in plain and safe mode: referral, balance purchase, code in the passive reply, one answer per MsgId, commission', async () => {
    transcript.section('Official Account (公众号): plain and encrypted messages');
    const c = oa();
    const leaderId = 'oLEADER_00000000000000000001';
    const userId = 'oUSER_0000000000000000000001';
    const say = async (who: string, openid: string, text: string, mode: 'plain' | 'aes', msgId?: string) => {
      const reply = await c.say(openid, text, mode, msgId);
      transcript.line(`${who} (${mode === 'aes' ? 'encrypted' : 'plain'})`, text);
      transcript.line('公众号 passive reply', reply || '(success: nothing)');
      return reply;
    };
    await say('李团长', leaderId, '菜单', 'plain');
    const agent = await leaderFor('wechat_openid', leaderId, '李团长');
    expect(await say('小周', userId, `/start ref_${agent.referral_code}`, 'aes')).toContain('李团长');
    const customerId = await fund('wechat_openid', userId, 10_000);

    let mode: 'plain' | 'aes' = 'aes';
    let lastText = '';
    let lastMsgId = '';
    const paid = await buyOne(async (text) => {
      mode = mode === 'aes' ? 'plain' : 'aes';
      lastText = text;
      lastMsgId = c.nextMsgId();
      return [await say('小周', userId, text, mode, lastMsgId)];
    });
    expect(codesIn(paid)).toHaveLength(1);

    // WeChat delivers the same message again (it did not see our answer in time): nothing is done twice.
    const again = await say('小周 (WeChat retries the same MsgId)', userId, lastText, mode, lastMsgId);
    expect(codesIn([again])).toEqual([]);
    const orders = await customerOrders(customerId);
    expect(orders).toHaveLength(1);

    await t.services.commissions.accrueDelivered();
    expect(await say('李团长', leaderId, '佣金', 'aes')).toContain('待结算：¥3.00');
  });

  it('a follow through the leader poster (parametric QR) binds the new user; the same message raced five times is answered once', async () => {
    const c = oa();
    const leaderId = 'oLEADER_00000000000000000002';
    await c.say(leaderId, '菜单', 'plain');
    const agent = await leaderFor('wechat_openid', leaderId, '赵团长');
    const fan = 'oFAN_000000000000000000000001';
    const created = String(Math.floor(Date.now() / 1000));
    const follow = `<xml><ToUserName><![CDATA[${OA.gh}]]></ToUserName><FromUserName><![CDATA[${fan}]]></FromUserName><CreateTime>${created}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_ref_${agent.referral_code}]]></EventKey></xml>`;
    const replies = await Promise.all(Array.from({ length: 5 }, () => c.post(follow, 'aes').then((r) => c.replyText(r, 'aes'))));
    const answered = replies.filter(Boolean);
    expect(answered).toHaveLength(1);
    expect(answered[0]).toContain('赵团长');
    const customerId = (await t.services.customers.find({ provider: 'wechat_openid', externalId: fan }))!;
    expect(await t.services.agents.boundAgentOf(customerId)).toBe(agent.id);
  });

  it('refuses a forged signature, a forged msg_signature and a stale timestamp, with nothing done', async () => {
    const c = oa();
    const stranger = 'oSTRANGER_000000000000000001';
    for (const mode of ['plain', 'aes'] as const) {
      const res = await c.post(textXml({ to: OA.gh, from: stranger, content: '菜单', msgId: c.nextMsgId() }), mode, true);
      expect(res.statusCode).toBe(401);
    }
    const old = Math.floor(Date.now() / 1000) - 3600;
    const { createHash } = await import('node:crypto');
    const sig = createHash('sha1').update([OA.token, String(old), 'n2'].sort().join('')).digest('hex');
    const stale = await t.inject({ method: 'POST', url: `/bots/wechat-oa/webhook?signature=${sig}&timestamp=${old}&nonce=n2`, headers: { 'content-type': 'text/xml' }, payload: textXml({ to: OA.gh, from: stranger, content: '菜单', msgId: c.nextMsgId() }) });
    expect(stale.statusCode).toBe(401);
    expect(await t.services.customers.find({ provider: 'wechat_openid', externalId: stranger })).toBeNull();
  });

  it('sends what does not fit the passive reply, and a late answer, as customer-service messages through the outbound queue', async () => {
    const long = Array.from({ length: 120 }, (_, i) => `第 ${i + 1} 行：一段很长的说明文字`).join('\n');
    const slow: ChatCore = { handle: async (): Promise<HandleResult> => ({ replies: [{ text: long }] }) };
    const handler = createCallbackHandler(t.platform, slow, 'wechat_oa', { outbound: t.services.outbound });
    const openid = 'oLONG_0000000000000000000001';
    const first = await handler.answer({ MsgType: 'text', FromUserName: openid, ToUserName: OA.gh, Content: '说明', MsgId: '1001' });
    expect(first && Buffer.byteLength(first)).toBeLessThanOrEqual(2000);
    await t.services.outbound.drain(5_000);
    expect(api.tokenRequests).toBe(1);
    // WeChat invalidates the cached access_token: the sender fetches a new one and sends anyway.
    api.expireTokens();
    const late = createCallbackHandler(t.platform, { handle: async () => (await new Promise((r) => setTimeout(r, 300)), { replies: [{ text: '迟到的回答' }] }) }, 'wechat_oa', { outbound: t.services.outbound, replyBudgetMs: 50 });
    expect(await late.answer({ MsgType: 'text', FromUserName: openid, ToUserName: OA.gh, Content: '慢', MsgId: '1002' })).toBeNull();
    await new Promise((r) => setTimeout(r, 400));
    await t.services.outbound.drain(5_000);
    expect(api.tokenRequests).toBe(2);
    const got = api.sent.filter((m) => m.touser === openid).map((m) => m.content);
    expect(got).toContain('迟到的回答');
    expect([first, ...got.filter((g) => g !== '迟到的回答')].join('\n')).toBe(long);
  });
});

describe('WeCom callback', () => {
  const sealed = (xml: string) => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const ciphertext = encrypt(WECOM.aesKey, xml, WECOM.corpId);
    return { ciphertext, q: new URLSearchParams({ timestamp, nonce: 'wc1', msg_signature: getSignature(WECOM.token, timestamp, 'wc1', ciphertext) }) };
  };

  it('verifies the URL, answers an encrypted message with an encrypted passive reply, and refuses a forged one', async () => {
    transcript.section('WeCom (企业微信)');
    const echo = sealed('echo-4711');
    const check = await t.inject({ method: 'GET', url: `/bots/wecom/webhook?${echo.q}&echostr=${encodeURIComponent(echo.ciphertext)}` });
    expect([check.statusCode, check.body]).toEqual([200, 'echo-4711']);

    const msg = sealed(textXml({ to: WECOM.corpId, from: 'zhangsan', content: '菜单', msgId: '5001', agentId: WECOM.agentId }));
    const body = `<xml><ToUserName><![CDATA[${WECOM.corpId}]]></ToUserName><AgentID><![CDATA[${WECOM.agentId}]]></AgentID><Encrypt><![CDATA[${msg.ciphertext}]]></Encrypt></xml>`;
    const res = await t.inject({ method: 'POST', url: `/bots/wecom/webhook?${msg.q}`, headers: { 'content-type': 'text/xml' }, payload: body });
    expect(res.statusCode).toBe(200);
    const outer = parseWechatXml(res.body)!;
    expect(getSignature(WECOM.token, outer.TimeStamp!, outer.Nonce!, outer.Encrypt!)).toBe(outer.MsgSignature);
    const inner = decrypt(WECOM.aesKey, outer.Encrypt!);
    expect(inner.id).toBe(WECOM.corpId);
    const content = parseWechatXml(inner.message)!.Content!;
    expect(content).toMatch(/^1\. /m);
    transcript.line('zhangsan (WeCom, encrypted)', '菜单');
    transcript.line('WeCom passive reply (decrypted)', content);
    expect(await t.services.customers.find({ provider: 'wecom_userid', externalId: 'zhangsan' })).toBeTruthy();

    const forged = new URLSearchParams(msg.q);
    forged.set('msg_signature', 'f'.repeat(40));
    const refused = await t.inject({ method: 'POST', url: `/bots/wecom/webhook?${forged}`, headers: { 'content-type': 'text/xml' }, payload: body });
    expect(refused.statusCode).toBe(401);
  });
});
