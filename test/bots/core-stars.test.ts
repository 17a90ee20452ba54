import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { startFakeBotApi, type FakeBotApi } from '../fakes/telegram-bot-api/server.js';
import { createChatCore } from '../../bots/core/core.js';
import type { ChatCore, ChatPlace, ChatUser, HandleResult } from '../../bots/core/types.js';

/**
 * Paying with Telegram Stars from the chat: the pay step offers Stars only on
 * Telegram and only when Stars are configured; the reply carries the invoice
 * link, and the order remembers the private chat to deliver to once paid.
 */
const TOKEN = '123456789:AAFakeTokenForKaquanTests_0123456789ab';
const SECRET = 'stars-webhook-secret-for-tests-0123';
let t: TestApp;
let fake: FakeBotApi;
let core: ChatCore;
let seq = 0;

beforeAll(async () => {
  fake = await startFakeBotApi({ token: TOKEN, webhookSecret: SECRET });
  t = await bootTestApp({ env: { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_STARS_FEN_PER_STAR: '13', TELEGRAM_WEBHOOK_SECRET: SECRET, TELEGRAM_API_ROOT: fake.url, RISK_SEED_RULES: 'false' } });
  core = createChatCore(t.platform, t.services);
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

const send = (u: ChatUser, place: ChatPlace, payload: { type: 'text'; text: string } | { type: 'button'; data: string }) => core.handle({ user: u, place, payload, messageId: `s${++seq}` });
const data = (r: HandleResult, re: RegExp) => r.replies.flatMap((x) => x.buttons?.flat() ?? []).find((b) => re.test(b.data))?.data;

async function toPayStep(u: ChatUser, place: ChatPlace, productName: string) {
  const catalog = await send(u, place, { type: 'text', text: '/catalog' });
  const productButton = catalog.replies[0]!.buttons!.flat().find((b) => b.label === productName)!;
  const product = await send(u, place, { type: 'button', data: productButton.data });
  let step = await send(u, place, { type: 'button', data: data(product, /^buy:q:.*:1$/)! });
  const none = data(step, /^buy:c:.*:none$/);
  if (none) step = await send(u, place, { type: 'button', data: none });
  return step;
}

describe('Telegram Stars from the chat', () => {
  it('offers Stars on Telegram, answers with the invoice link, and records where to deliver', async () => {
    const sku = await createCodeSku(t, { name: 'Stars card', retailPriceFen: 1_300 });
    await stockCodes(t, sku, 3);
    const u: ChatUser = { provider: 'telegram', externalId: '60001', displayName: 'Sam', languageHint: 'en' };
    const dm: ChatPlace = { channel: 'telegram', chatId: '60001', kind: 'private' };
    const step = await toPayStep(u, dm, 'Stars card');
    const stars = data(step, /^buy:pay:.*:stars$/);
    expect(stars).toBeTruthy();
    const r = await send(u, dm, { type: 'button', data: stars! });
    expect(r.replies[0]!.invoiceLink).toMatch(/^https?:\/\//);
    expect(r.replies[0]!.secret).toBeUndefined();
    const customerId = (await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: '60001' } })).customerId;
    const [row] = (await t.platform.database.executeSql<{ status: string; payment_provider: string; delivery_target: { channel: string; chat_id: string } }>('select status, payment_provider, delivery_target from orders where buyer_id = $1', [customerId])).rows;
    expect(row).toMatchObject({ status: 'pending_payment', payment_provider: 'stars', delivery_target: { channel: 'telegram', chat_id: '60001' } });
  });

  it('does not offer Stars outside Telegram', async () => {
    const u: ChatUser = { provider: 'wechat_openid', externalId: 'oWx_stars_1', displayName: 'Wei', languageHint: 'zh_CN' };
    const step = await toPayStep(u, { channel: 'wechat', chatId: 'oWx_stars_1', kind: 'private' }, 'Stars card');
    expect(data(step, /^buy:pay:.*:balance$/)).toBeTruthy();
    expect(data(step, /^buy:pay:.*:stars$/)).toBeUndefined();
  });
});
