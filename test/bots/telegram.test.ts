import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Api } from 'grammy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, openTestApp, realServers, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { startFakeBotApi, type FakeBotApi, type FakeCall, type FakeMessage, type TelegramUpdate } from '../fakes/telegram-bot-api/server.js';
import { createTelegramSender } from '../../bots/telegram/send.js';
import { REVEAL_DATA } from '../../bots/telegram/render.js';
import { RetryAfter, type ChatCore, type HandleResult, type Inbound } from '../../bots/core/types.js';
import { createTelegramChannel } from '../../bots/telegram/index.js';
import { accounts } from '../../src/modules/ledger/accounts.js';

/**
 * The Telegram bot end to end: grammy against the local fake Bot API, updates
 * posted to the real app's webhook, the real core and services on the real
 * database. The conversation is written to docs/transcripts/telegram.md.
 */

const TOKEN = '123456789:AAFakeTokenForKaquanTests_0123456789ab';
const SECRET = 'bot-webhook-secret-for-tests-0123';
const WEBHOOK = '/bots/telegram/webhook';
const LEADER = 7_100_001;
const BUYER = 7_200_001;
const GROUP = -100_555_001;
/** How the fake users introduce themselves (Telegram sends first_name and language_code with every message and press). */
const PEOPLE: Record<number, { firstName: string; languageCode: string }> = { [LEADER]: { firstName: 'Lin', languageCode: 'en' }, [BUYER]: { firstName: 'Bo', languageCode: 'en' } };
const person = (userId: number) => PEOPLE[userId] ?? { firstName: `user${userId}`, languageCode: 'en' };

let t: TestApp;
let fake: FakeBotApi;
let owner: string;
let leader: { id: string; referral_code: string; name: string };
let skuId: string;
let secrets: string[];
const transcript: string[] = [];
/** Webhook answer times (ms) of the updates the journey posts, reported at the end. */
const answerMs: number[] = [];

beforeAll(async () => {
  fake = await startFakeBotApi({ token: TOKEN, webhookSecret: SECRET });
  t = await bootTestApp({
    env: { TELEGRAM_BOT_ENABLED: 'true', TELEGRAM_BOT_MODE: 'webhook', TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_WEBHOOK_SECRET: SECRET, TELEGRAM_API_ROOT: fake.url, TELEGRAM_STARS_FEN_PER_STAR: '13' },
  });
  owner = (await t.loginAs('owner')).token;
  const leaderCustomer = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: String(LEADER) }, displayName: 'Lin' });
  leader = await t.services.agents.create({ name: 'Leader Lin', role: 'group_leader', customerId: leaderCustomer.customerId });
  skuId = await createCodeSku(t, { name: 'Steam Wallet', retailPriceFen: 2_500, costFen: 2_000 });
  secrets = await stockCodes(t, skuId, 8);
  const sku = await t.services.catalog.getSku(skuId);
  const rule = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: '5%', scope_type: 'product', scope_value: sku.productId, levels: [{ kind: 'percent_of_price', bps: 500 }] } });
  expect(rule.statusCode, rule.body).toBe(201);
});

afterAll(async () => {
  const sorted = [...answerMs].sort((a, b) => a - b);
  if (sorted.length) console.info(`telegram webhook: ${sorted.length} updates answered, median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms (core, database and Bot API calls included)`);
  if (transcript.length) {
    const dir = join(process.cwd(), 'docs', 'transcripts');
    mkdirSync(dir, { recursive: true });
    const head = [
      '# Telegram bot: conversation transcript',
      '',
      'Written by `test/bots/telegram.test.ts` from a real run: updates posted to `POST /bots/telegram/webhook`, grammy answering through the local fake Bot API.',
      'Card codes are masked (`••••`); `||…||` marks a spoiler; `[label]` is an inline button, `[label ↗]` a URL button.',
      '',
    ];
    writeFileSync(join(dir, 'telegram.md'), `${head.join('\n')}\n${transcript.join('\n')}\n`);
  }
  await t?.close();
  await fake?.close();
});

/** Masks every card code (stocked secrets) and the referral code's middle. */
function mask(text: string): string {
  let out = text;
  for (const s of secrets ?? []) out = out.split(s).join('••••');
  return out;
}

function show(m: { text?: string; caption?: string; entities?: FakeMessage['entities']; reply_markup?: FakeMessage['reply_markup'] }): string {
  let text = m.text ?? m.caption ?? '';
  // Spoilers shown as ||…||, from the end so that offsets stay right.
  for (const e of [...(m.entities ?? [])].filter((x) => x.type === 'spoiler').sort((a, b) => b.offset - a.offset)) text = `${text.slice(0, e.offset)}||${text.slice(e.offset, e.offset + e.length)}||${text.slice(e.offset + e.length)}`;
  const buttons = (m.reply_markup?.inline_keyboard ?? []).map((row) => row.map((b) => (b.url ? `[${b.text} ↗]` : `[${b.text}]`)).join(' ')).join('\n');
  return mask(`${text}${buttons ? `\n${buttons}` : ''}`);
}

function note(line: string) {
  transcript.push(line, '');
}

function record(who: string, where: string, what: string, calls: FakeCall[]) {
  transcript.push(`**${who}** (${where}): ${mask(what)}`, '');
  for (const c of calls) {
    if (c.status !== 200) continue;
    const chat = Number(c.params.chat_id) < 0 ? 'group' : 'private';
    if (c.method === 'sendMessage' || c.method === 'sendPhoto') transcript.push(`> 🤖 (${chat}${c.method === 'sendPhoto' ? ', photo' : ''})`, ...show(c.params as unknown as FakeMessage).split('\n').map((l) => `> ${l}`), '');
    if (c.method === 'editMessageText') transcript.push(`> 🤖 (${chat}, message edited)`, ...show(c.params as unknown as FakeMessage).split('\n').map((l) => `> ${l}`), '');
    if (c.method === 'answerCallbackQuery' && typeof c.params.text === 'string') transcript.push(`> 🤖 (toast) ${c.params.text}`, '');
  }
}

function post(update: TelegramUpdate, secret?: string | null, app: TestApp = t) {
  const { headers, body } = fake.webhookRequest(update, { secret });
  return app.inject({ method: 'POST', url: WEBHOOK, headers, payload: body });
}

/** Posts an update like Telegram and returns the Bot API calls it caused. */
async function deliver(update: TelegramUpdate, label?: { who: string; where: string; what: string }): Promise<FakeCall[]> {
  const before = fake.calls.length;
  const started = performance.now();
  const res = await post(update);
  answerMs.push(performance.now() - started);
  expect(res.statusCode, res.body).toBe(200);
  const calls = fake.calls.slice(before);
  if (label) record(label.who, label.where, label.what, calls);
  return calls;
}

const say = (text: string, opts: { userId?: number; chat?: FakeMessage['chat']; who?: string } = {}) =>
  deliver(fake.userMessage(text, { userId: opts.userId ?? BUYER, chat: opts.chat, ...person(opts.userId ?? BUYER) }), { who: opts.who ?? 'Buyer', where: opts.chat ? 'group' : 'private', what: text });
const pressOf = (message: FakeMessage, data: string, userId = BUYER) => fake.pressButton(message, data, { userId, ...person(userId) });

/** The newest message in a chat with a button whose callback_data matches. */
function withButton(chatId: number, data: RegExp): { message: FakeMessage; data: string } {
  for (const m of fake.messagesIn(chatId).reverse()) {
    const b = (m.reply_markup?.inline_keyboard ?? []).flat().find((x) => x.callback_data !== undefined && data.test(x.callback_data));
    if (b) return { message: m, data: b.callback_data! };
  }
  throw new Error(`no message in ${chatId} with a button ${data}; last: ${JSON.stringify(fake.messagesIn(chatId).at(-1))}`);
}

async function press(chatId: number, data: RegExp, opts: { userId?: number; who?: string } = {}) {
  const { message, data: d } = withButton(chatId, data);
  const label = (message.reply_markup?.inline_keyboard ?? []).flat().find((b) => b.callback_data === d)!.text;
  return deliver(pressOf(message, d, opts.userId ?? BUYER), { who: opts.who ?? 'Buyer', where: chatId < 0 ? 'group' : 'private', what: `presses [${label}]` });
}

/** Walks the buy flow by its buttons: catalogue -> product -> quantity 1 -> no coupon -> pay. */
async function buyThroughButtons(chatId: number, pay: 'balance' | 'stars', userId = BUYER) {
  await press(chatId, /^cat$/, { userId });
  const product = withButton(chatId, /^buy:p:/);
  const productButton = product.message.reply_markup!.inline_keyboard.flat().find((b) => b.text === 'Steam Wallet')!;
  await deliver(pressOf(product.message, productButton.callback_data!, userId), { who: 'Buyer', where: chatId < 0 ? 'group' : 'private', what: `presses [${productButton.text}]` });
  await press(chatId, /^buy:q:[^:]+:1$/, { userId });
  if (/^buy:c:/.test(fake.messagesIn(chatId).at(-1)?.reply_markup?.inline_keyboard.flat()[0]?.callback_data ?? '')) await press(chatId, /^buy:c:[^:]+:none$/, { userId });
  return press(chatId, new RegExp(`^buy:pay:[^:]+:${pay}$`), { userId });
}

const spoilersIn = (m: { text?: string; entities?: FakeMessage['entities'] }) => (m.entities ?? []).filter((e) => e.type === 'spoiler').map((e) => m.text!.slice(e.offset, e.offset + e.length));
const sentTo = (calls: FakeCall[], chatId: number) => calls.filter((c) => c.status === 200 && (c.method === 'sendMessage' || c.method === 'sendPhoto') && Number(c.params.chat_id) === chatId);
const balanceOf = async (customerId: string) => t.services.ledger.balance(accounts.customerBalance(customerId).id);

describe('Telegram bot through grammy and the webhook', () => {
  it('refuses updates without the right secret token (401) before reading them', async () => {
    const update = fake.userMessage('/start', { userId: 7_999_001 });
    const before = fake.calls.length;
    expect((await post(update, 'wrong-secret-wrong-secret-0000')).statusCode).toBe(401);
    expect((await post(update, null)).statusCode).toBe(401);
    // Even a body that is not an update: the secret comes first.
    expect((await t.inject({ method: 'POST', url: WEBHOOK, headers: { 'content-type': 'application/json' }, payload: '{"nonsense":true}' })).statusCode).toBe(401);
    expect(fake.calls.length).toBe(before);
    // The right secret, a body that is not an update: 400, nothing sent.
    expect((await t.inject({ method: 'POST', url: WEBHOOK, headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET }, payload: '{"nonsense":true}' })).statusCode).toBe(400);
    expect(fake.calls.length).toBe(before);
  });

  it('journey: /start ref_<leader> binds, buy with balance, code behind a spoiler revealed once, the leader sees the commission', async () => {
    note(`## A new user arrives through the group leader's link (t.me/<bot>?start=ref_${leader.referral_code})`);
    const start = await say(`/start ref_${leader.referral_code}`);
    const welcome = sentTo(start, BUYER);
    expect(welcome).toHaveLength(1);
    expect(String(welcome[0]!.params.text)).toContain('Leader Lin');
    const buyer = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: String(BUYER) } });
    expect(await t.services.agents.boundAgentOf(buyer.customerId)).toBe(leader.id);

    await t.services.orders.creditBalance({ type: 'customer', id: buyer.customerId }, 10_000, 'tg-test top-up', { id: 'stf_test' });
    note('## Buying with the balance, through the buttons (staff credited ¥100.00 first)');
    const paid = await buyThroughButtons(BUYER, 'balance');
    expect(await balanceOf(buyer.customerId)).toBe(10_000 - 2_500);
    const codeMsgs = sentTo(paid, BUYER).filter((c) => (c.params.entities as unknown[] | undefined)?.length);
    expect(codeMsgs).toHaveLength(1);
    const sent = codeMsgs[0]!.params as unknown as FakeMessage;
    const hidden = spoilersIn(sent);
    expect(hidden).toHaveLength(1);
    const mine = secrets.filter((s) => hidden[0]!.includes(s));
    expect(mine).toHaveLength(1);
    // The code is only inside the spoiler, and the reveal button is there.
    expect(sent.text!.replace(hidden[0]!, '')).not.toContain(mine[0]!);
    expect(sent.reply_markup!.inline_keyboard.flat().some((b) => b.callback_data === REVEAL_DATA)).toBe(true);

    note('## Revealing the code (once)');
    const message = fake.messagesIn(BUYER).find((m) => m.entities?.some((e) => e.type === 'spoiler'))!;
    const revealLabel = message.reply_markup!.inline_keyboard.flat().find((b) => b.callback_data === REVEAL_DATA)!.text;
    const press1 = pressOf(message, REVEAL_DATA);
    const revealed = await deliver(press1, { who: 'Buyer', where: 'private', what: `presses [${revealLabel}]` });
    expect(revealed.filter((c) => c.method === 'editMessageText' && c.status === 200)).toHaveLength(1);
    const after = fake.messagesIn(BUYER).find((m) => m.message_id === message.message_id)!;
    expect(after.text).toContain(mine[0]!);
    expect(after.entities?.some((e) => e.type === 'spoiler') ?? false).toBe(false);
    expect((after.reply_markup?.inline_keyboard ?? []).flat().some((b) => b.callback_data === REVEAL_DATA)).toBe(false);
    expect(fake.callbackAnswers.get(press1.callback_query!.id)).toEqual({});
    // The same press delivered again, and a second press of the old button (a stale client): no second edit.
    expect(await deliver(press1)).toEqual([]);
    const press2 = pressOf(message, REVEAL_DATA);
    const again = await deliver(press2, { who: 'Buyer', where: 'private', what: `presses [${revealLabel}] again (an old copy of the message)` });
    expect(again.filter((c) => c.method === 'editMessageText')).toHaveLength(0);
    expect(fake.callbackAnswers.get(press2.callback_query!.id)?.text).toMatch(/already/i);

    note("## The group leader checks the commission");
    expect(await t.services.commissions.accrueDelivered()).toBeGreaterThanOrEqual(1);
    const commission = await say('/commission', { userId: LEADER, who: 'Leader' });
    const text = String(sentTo(commission, LEADER)[0]?.params.text ?? '');
    // 5% of ¥25.00, pending through the refund window.
    expect(text).toContain('1.25');
  });

  it('the same update delivered twice, or five times at once, is handled once', async () => {
    const update = fake.userMessage('/help', { userId: BUYER });
    const first = await deliver(update);
    expect(sentTo(first, BUYER)).toHaveLength(1);
    expect(await deliver(update)).toEqual([]);
    const burst = fake.userMessage('/menu', { userId: BUYER });
    const before = fake.calls.length;
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(burst)));
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(sentTo(fake.calls.slice(before), BUYER)).toHaveLength(1);
  });

  it.runIf(realServers && Boolean(process.env.REDIS_URL))('two instances on one Redis handle an update once', async () => {
    const second = await openTestApp(t.env);
    try {
      const update = fake.userMessage('/help', { userId: BUYER });
      const before = fake.calls.length;
      const answers = await Promise.all([post(update, undefined, t), post(update, undefined, second), post(update, undefined, t), post(update, undefined, second)]);
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200]);
      expect(sentTo(fake.calls.slice(before), BUYER)).toHaveLength(1);
    } finally {
      await second.stop();
    }
  });

  it('a buy started in a group sends no code to the group: the codes go to the private chat', async () => {
    const group = { id: GROUP, type: 'supergroup' as const, title: 'Lin group' };
    note('## A buy started in the group chat');
    await say('/menu@kaquan_test_bot', { chat: group });
    const before = fake.calls.length;
    await buyThroughButtons(GROUP, 'balance');
    const calls = fake.calls.slice(before);
    const toGroup = sentTo(calls, GROUP);
    expect(toGroup.length).toBeGreaterThan(0);
    for (const c of toGroup) {
      expect(c.params.entities ?? []).toEqual([]);
      for (const s of secrets) expect(JSON.stringify(c.params)).not.toContain(s);
    }
    const toPrivate = sentTo(calls, BUYER);
    expect(toPrivate).toHaveLength(1);
    expect(spoilersIn(toPrivate[0]!.params as unknown as FakeMessage).join('')).toMatch(new RegExp(secrets.map((s) => s.replace(/[-_]/g, '\\$&')).join('|')));
  });

  it('Stars: the invoice as a pay button; pre_checkout_query and successful_payment on the bot webhook reach the payments module once', async () => {
    note('## Paying with Telegram Stars');
    const invoice = await buyThroughButtons(BUYER, 'stars');
    const payMsg = sentTo(invoice, BUYER).at(-1)!.params as unknown as FakeMessage;
    const payButton = payMsg.reply_markup!.inline_keyboard.flat().find((b) => b.url?.startsWith('https://t.me/$'));
    expect(payButton).toBeTruthy();
    const tradeNo = [...fake.invoices.values()].find((i) => i.link === payButton!.url)!.payload;

    const pre = fake.preCheckoutUpdate(tradeNo, { userId: BUYER });
    await deliver(pre);
    expect(fake.preCheckoutAnswers.get(pre.pre_checkout_query!.id)).toEqual({ ok: true });
    const payment = fake.pay(tradeNo, { userId: BUYER });
    await deliver(payment);
    // Telegram sends it again (our answer was lost): handled once.
    await deliver(payment);
    const rows = await t.platform.database.executeSql<{ outcome: string; order_id: string }>(
      "select n.outcome, p.order_id from payment_notifications n join payments p on p.trade_no = n.trade_no where n.trade_no = $1 and n.outcome <> 'pre_checkout_ok'",
      [tradeNo],
    );
    expect(rows.rows.map((r) => r.outcome)).toEqual(['applied']);
    expect((await t.services.orders.get(rows.rows[0]!.order_id)).status).toBe('delivered');
    note("(Telegram asks before charging (pre_checkout_query, answered ok) and then reports the payment (successful_payment), both on the bot's webhook: the order is paid and delivered. Sending its codes to this chat is the outbound queue's job, on the order.delivered event.)");
  });

  it('the sender for the outbound queue: a 429 becomes RetryAfter, a secret for a group is dropped', async () => {
    const api = new Api(TOKEN, { apiRoot: fake.url });
    const warnings: string[] = [];
    const logger = { ...t.platform.logger, warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)) } as unknown as typeof t.platform.logger;
    const sender = createTelegramSender(api, logger);
    fake.behaviour.floodWait = { method: 'sendMessage', retryAfter: 7, times: 1 };
    const message = { place: { channel: 'telegram' as const, chatId: String(BUYER), kind: 'private' as const }, replies: [{ text: 'hello' }], reason: 'test', dedupeKey: 'k1' };
    const err = await sender.send(message).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryAfter);
    expect((err as RetryAfter).seconds).toBe(7);
    await sender.send(message);

    const before = fake.calls.length;
    await sender.send({ place: { channel: 'telegram', chatId: String(GROUP), kind: 'group' }, replies: [{ text: 'Your code', secret: { text: 'SECRET-NEVER-IN-GROUP', codeIds: ['cod_x'] } }], reason: 'test', dedupeKey: 'k2' });
    const calls = fake.calls.slice(before);
    expect(calls).toHaveLength(1);
    expect(JSON.stringify(calls[0]!.params)).not.toContain('SECRET-NEVER-IN-GROUP');
    expect(warnings.some((w) => /secret refused/.test(w))).toBe(true);

    // Images: PNG bytes are uploaded with sendPhoto.
    await sender.send({ place: { channel: 'telegram', chatId: String(LEADER), kind: 'private' }, replies: [{ text: 'Your poster', image: { png: Buffer.from('89504e470d0a1a0a', 'hex') } }], reason: 'test', dedupeKey: 'k3' });
    expect(fake.callsOf('sendPhoto').at(-1)).toMatchObject({ status: 200, params: { caption: 'Your poster', photo: { file: 'poster.png', bytes: 8 } } });
  });
});

describe('the webhook\'s own guarantees, with a stub core', () => {
  function stub(answer: (inbound: Inbound, n: number) => Promise<HandleResult>) {
    const seen: Inbound[] = [];
    const core: ChatCore = { handle: async (inbound) => answer(inbound, seen.push(inbound)) };
    return { seen, channel: createTelegramChannel(t.platform, t.services, { core, answerBudgetMs: 2_000 }) };
  }
  const raw = (u: TelegramUpdate) => ({ headers: { 'x-telegram-bot-api-secret-token': SECRET }, rawBody: JSON.stringify(u) });
  const asUpdate = (u: TelegramUpdate) => u as unknown as Parameters<ReturnType<typeof createTelegramChannel>['handleWebhookUpdate']>[0];

  it('claims an update once: duplicates, one after another or at once, never reach the core', async () => {
    const { seen, channel } = stub(async () => ({ replies: [{ text: 'ok' }] }));
    const u = fake.userMessage('hi', { userId: 7_300_001 });
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => channel.handleWebhookUpdate(asUpdate(u), raw(u))));
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'handled']);
    expect((await channel.handleWebhookUpdate(asUpdate(u), raw(u))).outcome).toBe('duplicate');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ user: { provider: 'telegram', externalId: '7300001' }, place: { channel: 'telegram', chatId: '7300001', kind: 'private' }, payload: { type: 'text', text: 'hi' }, messageId: `u${u.update_id}` });
    expect(fake.messagesIn(7_300_001).map((m) => m.text)).toEqual(['ok']);
  });

  it('a failure releases the claim and answers 500, so that the redelivery is handled', async () => {
    const { seen, channel } = stub(async (_i, n) => {
      if (n === 1) throw new Error('database down');
      return { replies: [{ text: 'second time lucky' }] };
    });
    const u = fake.userMessage('hi', { userId: 7_300_002 });
    expect(await channel.handleWebhookUpdate(asUpdate(u), raw(u))).toEqual({ statusCode: 500, outcome: 'failed' });
    expect(await channel.handleWebhookUpdate(asUpdate(u), raw(u))).toEqual({ statusCode: 200, outcome: 'handled' });
    expect(seen).toHaveLength(2);
    expect(fake.messagesIn(7_300_002).map((m) => m.text)).toEqual(['second time lucky']);
  });

  it('answers Telegram within the budget and finishes the work afterwards; a redelivery meanwhile is a duplicate', async () => {
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const core: ChatCore = { handle: async () => (await gate, { replies: [{ text: 'slow answer' }] }) };
    const channel = createTelegramChannel(t.platform, t.services, { core, answerBudgetMs: 50 });
    const u = fake.userMessage('slow', { userId: 7_300_003 });
    expect(await channel.handleWebhookUpdate(asUpdate(u), raw(u))).toEqual({ statusCode: 200, outcome: 'late' });
    expect((await channel.handleWebhookUpdate(asUpdate(u), raw(u))).outcome).toBe('duplicate');
    finish();
    await expect.poll(() => fake.messagesIn(7_300_003).map((m) => m.text)).toEqual(['slow answer']);
  });

  it('codes for a user who never opened a private chat with the bot: nothing secret anywhere, the group is told where to go', async () => {
    const userId = 7_300_004;
    fake.behaviour.unreachable.add(userId);
    const user = { provider: 'telegram' as const, externalId: String(userId), languageHint: 'en' };
    const { channel } = stub(async () => ({ replies: [{ text: 'Codes sent to your private chat' }], elsewhere: [{ place: { channel: 'telegram', chatId: String(userId), kind: 'private' }, user, replies: [{ text: 'Your code', secret: { text: 'NEVER-SHOWN-0001', codeIds: ['cod_1'] } }] }] }));
    const group = { id: -100_555_002, type: 'supergroup' as const, title: 'another group' };
    const u = fake.userMessage('/buy@kaquan_test_bot 1', { userId, chat: group, languageCode: 'en' });
    expect((await channel.handleWebhookUpdate(asUpdate(u), raw(u))).outcome).toBe('handled');
    const inGroup = fake.messagesIn(group.id);
    expect(inGroup.map((m) => m.text)).toEqual(['Codes sent to your private chat', expect.stringMatching(/open a private chat with @kaquan_test_bot/)]);
    expect(inGroup[1]!.reply_markup!.inline_keyboard.flat()[0]).toMatchObject({ url: 'https://t.me/kaquan_test_bot?start=codes' });
    expect(JSON.stringify(fake.calls.filter((c) => c.status === 200))).not.toContain('NEVER-SHOWN-0001');
    // A command for another bot in the group is not ours.
    const other = fake.userMessage('/buy@someone_elses_bot 1', { userId, chat: group });
    await channel.handleWebhookUpdate(asUpdate(other), raw(other));
    expect(fake.messagesIn(group.id)).toHaveLength(2);
  });

  it('registers the webhook with the secret token; long polling handles messages and Stars pre-checkouts', async () => {
    const { seen, channel } = stub(async () => ({ replies: [{ text: 'polled' }] }));
    await channel.setWebhook();
    expect(fake.webhook).toEqual({ url: `${t.config.publicUrl}${WEBHOOK}`, secret_token: SECRET, allowed_updates: ['message', 'callback_query', 'pre_checkout_query'] });
    const msg = fake.userMessage('hello', { userId: 7_300_005 });
    const pre = fake.preCheckoutUpdate('KQ_NOT_OURS_POLLING_1', { userId: 7_300_005 });
    fake.queueUpdate(msg);
    fake.queueUpdate(pre);
    const polling = channel.startPolling();
    await expect.poll(() => fake.preCheckoutAnswers.get(pre.pre_checkout_query!.id), { timeout: 10_000 }).toEqual({ ok: false, error_message: expect.stringMatching(/not known/) });
    await expect.poll(() => fake.messagesIn(7_300_005).map((m) => m.text), { timeout: 10_000 }).toEqual(['polled']);
    await channel.stop();
    await polling;
    expect(fake.webhook).toBeNull();
    expect(seen).toHaveLength(1);
  });
});
