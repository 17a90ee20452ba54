import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { stockCodes } from '../helpers/codes.js';
import { HOUR, ManualClock, MINUTE, SECOND } from '../../src/lib/clock.js';
import { signSandboxNotification } from '../../src/modules/payments/sandbox.js';
import { sandboxSecret } from '../../src/services.js';
import { RetryAfter, type ChannelName, type ChannelSender, type OutboundMessage } from '../../bots/core/types.js';
import { chatDeliveryTarget } from '../../bots/core/outbound-deliveries.js';
import { createOutboundQueue } from '../../bots/core/outbound.js';

const clock = new ManualClock(new Date());
let t: TestApp;
const uniq = () => randomBytes(5).toString('hex');

/** A platform stand-in: records what it was given and when (by the test's clock); can answer 429 for a chat once. */
class FakeSender implements ChannelSender {
  sent: { chatId: string; at: number; message: OutboundMessage }[] = [];
  retryAfterOnce = new Map<string, number>();
  constructor(readonly channel: ChannelName) {}
  async send(message: OutboundMessage): Promise<void> {
    const wait = this.retryAfterOnce.get(message.place.chatId);
    if (wait !== undefined) {
      this.retryAfterOnce.delete(message.place.chatId);
      throw new RetryAfter(wait);
    }
    this.sent.push({ chatId: message.place.chatId, at: clock.now().getTime(), message });
  }
  to(chatId: string) {
    return this.sent.filter((s) => s.chatId === chatId);
  }
}
const telegram = new FakeSender('telegram');
const oa = new FakeSender('wechat_oa');

const msg = (channel: ChannelName, chatId: string, text: string, kind: 'private' | 'group' = 'private', dedupeKey = `test:${uniq()}`): OutboundMessage => ({
  place: { channel, chatId, kind },
  replies: [{ text }],
  reason: 'test',
  dedupeKey,
});

/** Runs the queue and moves the clock by `stepMs`, `steps` times or until `done()`. */
async function pump(stepMs: number, steps: number, done: () => boolean = () => false) {
  for (let i = 0; i < steps && !done(); i++) {
    await t.services.outbound.deliverDue();
    clock.advance(stepMs);
  }
}

const maxInWindow = (times: number[], windowMs: number) => {
  const s = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[i]! - s[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
};
const rows = async (where: string, values: unknown[]) => (await t.platform.database.executeSql<Record<string, unknown>>(`select * from bot_outbound_messages where ${where}`, values)).rows;

beforeAll(async () => {
  t = await bootTestApp({ clock, env: { RISK_SEED_RULES: 'false' } });
  await t.loginAs('owner');
  t.services.outbound.registerSender(telegram);
  t.services.outbound.registerSender(oa);
});
afterAll(() => t.close());

describe('Telegram limits', () => {
  it('a broadcast to 1,000 users: never more than 30 sends in any second, never 2 to one chat within 1 s, all delivered', async () => {
    const users = Array.from({ length: 1000 }, (_, i) => `b${i}-${uniq()}`);
    await t.platform.db.transaction(async (tx) => {
      for (const u of users) await t.services.outbound.enqueue(tx, msg('telegram', u, 'Spring sale: 10% off all gift cards'));
    });
    const start = clock.now().getTime();
    const wanted = new Set(users);
    await pump(250, 400, () => telegram.sent.filter((s) => wanted.has(s.chatId)).length === 1000);
    const mine = telegram.sent.filter((s) => wanted.has(s.chatId));
    expect(mine).toHaveLength(1000);
    expect(new Set(mine.map((s) => s.chatId)).size).toBe(1000);
    expect(maxInWindow(telegram.sent.map((s) => s.at), SECOND)).toBeLessThanOrEqual(30);
    expect(maxInWindow(telegram.sent.map((s) => s.at), SECOND)).toBe(30);
    const took = Math.max(...mine.map((s) => s.at)) - start;
    // 1,000 at 30 a second: about 33 s, not much more.
    expect(took).toBeGreaterThanOrEqual(33 * SECOND);
    expect(took).toBeLessThan(40 * SECOND);
    expect(await rows(`status <> 'sent' and chat_id = any($1::text[])`, [users])).toHaveLength(0);
  });

  it('one chat gets at most one message a second, in order', async () => {
    const chat = `one-${uniq()}`;
    for (let i = 0; i < 5; i++) await t.services.outbound.enqueue(undefined, msg('telegram', chat, `m${i}`));
    await pump(200, 100, () => telegram.to(chat).length === 5);
    const got = telegram.to(chat);
    expect(got.map((s) => s.message.replies[0]!.text)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    for (let i = 1; i < got.length; i++) expect(got[i]!.at - got[i - 1]!.at).toBeGreaterThanOrEqual(SECOND);
  });

  it('a group receives at most 20 messages a minute', async () => {
    const group = `-100${uniq()}`;
    for (let i = 0; i < 25; i++) await t.services.outbound.enqueue(undefined, msg('telegram', group, `deal ${i}`, 'group'));
    await pump(SECOND, 70, () => telegram.to(group).length === 25);
    const times = telegram.to(group).map((s) => s.at);
    expect(times).toHaveLength(25);
    expect(maxInWindow(times, MINUTE)).toBe(20);
    expect(times[20]! - times[0]!).toBeGreaterThanOrEqual(MINUTE);
  });

  it('RetryAfter(5) pauses that chat 5 s; other chats go on', async () => {
    const slow = `slow-${uniq()}`;
    const other = `other-${uniq()}`;
    telegram.retryAfterOnce.set(slow, 5);
    await t.services.outbound.enqueue(undefined, msg('telegram', slow, 'first'));
    await t.services.outbound.enqueue(undefined, msg('telegram', slow, 'second'));
    const t0 = clock.now().getTime();
    await t.services.outbound.deliverDue();
    expect(telegram.to(slow)).toHaveLength(0);
    await t.services.outbound.enqueue(undefined, msg('telegram', other, 'meanwhile'));
    await pump(SECOND, 4);
    expect(telegram.to(other)).toHaveLength(1);
    expect(telegram.to(slow)).toHaveLength(0);
    await pump(SECOND, 5, () => telegram.to(slow).length === 2);
    const got = telegram.to(slow);
    expect(got.map((s) => s.message.replies[0]!.text)).toEqual(['first', 'second']);
    expect(got[0]!.at - t0).toBeGreaterThanOrEqual(5 * SECOND);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(SECOND);
    const [row] = await rows(`chat_id = $1 and status = 'sent' order by id limit 1`, [slow]);
    expect(row).toMatchObject({ attempts: 1 });
  });

  it('two instances racing share one budget and never send a message twice', async () => {
    const a = new FakeSender('telegram');
    const b = new FakeSender('telegram');
    const qa = createOutboundQueue(t.platform);
    const qb = createOutboundQueue(t.platform);
    qa.registerSender(a);
    qb.registerSender(b);
    const users = Array.from({ length: 120 }, (_, i) => `r${i}-${uniq()}`);
    await t.platform.db.transaction(async (tx) => {
      for (const u of users) await qa.enqueue(tx, msg('telegram', u, 'race'));
    });
    const wanted = new Set(users);
    const both = () => [...a.sent, ...b.sent].filter((s) => wanted.has(s.chatId));
    for (let i = 0; i < 40 && both().length < 120; i++) {
      await Promise.all([qa.deliverDue(), qb.deliverDue(), qa.deliverDue(), qb.deliverDue()]);
      clock.advance(250);
    }
    const sent = both();
    expect(sent).toHaveLength(120);
    expect(new Set(sent.map((s) => s.chatId)).size).toBe(120);
    expect(maxInWindow(sent.map((s) => s.at), SECOND)).toBeLessThanOrEqual(30);
  });

  it('the same dedupe key twice sends once', async () => {
    const chat = `dup-${uniq()}`;
    const key = `announce:${uniq()}`;
    const a = await t.services.outbound.enqueue(undefined, msg('telegram', chat, 'hello', 'private', key));
    const b = await t.services.outbound.enqueue(undefined, msg('telegram', chat, 'hello again', 'private', key));
    expect([a.created, b.created, b.id]).toEqual([true, false, a.id]);
    await pump(SECOND, 5);
    expect(telegram.to(chat).map((s) => s.message.replies[0]!.text)).toEqual(['hello']);
  });
});

describe('WeChat Official Account customer messages', () => {
  it('5 within 48 h of the last inbound: the 6th waits and, without a new message, closes; after 48 h nothing is sent', async () => {
    const user = `o-${uniq()}`;
    await t.services.outbound.noteInbound({ channel: 'wechat_oa', chatId: user });
    for (let i = 0; i < 6; i++) await t.services.outbound.enqueue(undefined, msg('wechat_oa', user, `n${i}`));
    await pump(SECOND, 20);
    expect(oa.to(user).map((s) => s.message.replies[0]!.text)).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    expect((await rows(`chat_id = $1 and status = 'pending'`, [user])).length).toBe(1);

    clock.advance(48 * HOUR);
    await pump(SECOND, 2);
    expect(oa.to(user)).toHaveLength(5);
    expect((await rows(`chat_id = $1 and status = 'window_closed'`, [user])).length).toBe(1);
    await t.services.outbound.enqueue(undefined, msg('wechat_oa', user, 'too late'));
    await pump(SECOND, 2);
    expect(oa.to(user)).toHaveLength(5);
    expect((await rows(`chat_id = $1 and status = 'window_closed'`, [user])).length).toBe(2);
  });

  it('a new message from the user opens a new window: the waiting 6th goes', async () => {
    const user = `o-${uniq()}`;
    await t.services.outbound.noteInbound({ channel: 'wechat_oa', chatId: user });
    for (let i = 0; i < 6; i++) await t.services.outbound.enqueue(undefined, msg('wechat_oa', user, `n${i}`));
    await pump(SECOND, 10);
    expect(oa.to(user)).toHaveLength(5);
    clock.advance(3 * HOUR);
    await t.services.outbound.noteInbound({ channel: 'wechat_oa', chatId: user });
    await pump(SECOND, 2);
    expect(oa.to(user).map((s) => s.message.replies[0]!.text)).toContain('n5');
  });
});

describe('codes after an external payment', () => {
  it('a sandbox payment of an order placed from a chat sends one message with the codes and the usage instructions, even when notified twice; the row holds no clear code', async () => {
    const product = await t.services.catalog.createProduct({
      name: `Steam card ${uniq()}`,
      brand: 'Steam',
      category: 'gift',
      kind: 'code',
      skus: [{ name: '¥50', faceValueFen: 5_000, costFen: 4_500, retailPriceFen: 4_800, usageInstructions: 'Redeem at store.steampowered.com/account/redeemwalletcode', lowStockThreshold: 0 }],
    });
    const skuId = product.skus[0]!.id;
    const secrets = await stockCodes(t, skuId, 2);
    const tgUser = `7${Date.now() % 1_000_000_000}`;
    const { customerId } = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: tgUser } });
    // Bought from a group: the codes must go to the buyer's private chat, never to the group.
    const target = chatDeliveryTarget({ channel: 'telegram', chatId: '-1009999', kind: 'group' }, { provider: 'telegram', externalId: tgUser }, 'en');
    const order = await t.platform.db.transaction((tx) =>
      t.services.orders.createOrder({ buyer: { type: 'customer', id: customerId }, skuId, quantity: 2, channel: 'telegram', payment: 'external', provider: 'sandbox', deliveryTarget: { ...target } }, tx),
    );
    const pay = await t.services.payments.start(order.id, 'sandbox');
    clock.advance(30 * SECOND);
    const note = signSandboxNotification(sandboxSecret(t.platform), { trade_no: pay.trade_no, amount_fen: pay.amount_fen, status: 'succeeded', txn_id: `tx-${uniq()}` }, clock.now());
    for (let i = 0; i < 2; i++) {
      const res = await t.inject({ method: 'POST', url: '/payments/notify/sandbox', headers: note.headers, payload: note.body });
      expect(res.statusCode, res.body).toBe(204);
      // Whoever runs the scan, and however often: one message.
      await Promise.all([t.services.chatDeliveries.scanDelivered(), t.services.chatDeliveries.scanDelivered()]);
    }
    expect((await t.services.orders.get(order.id)).status).toBe('delivered');
    await pump(SECOND, 3);
    const got = telegram.to(tgUser);
    expect(got).toHaveLength(1);
    expect(telegram.to('-1009999')).toHaveLength(0);
    const reply = got[0]!.message.replies[0]!;
    expect(reply.text).toContain('store.steampowered.com');
    expect(reply.secret!.text.split('\n').sort()).toEqual([...secrets].sort());
    expect(reply.secret!.codeIds).toHaveLength(2);

    const stored = await rows('dedupe_key = $1', [`order.delivered:${order.id}`]);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ status: 'sent', chat_id: tgUser, chat_kind: 'private', reason: 'order.delivered' });
    const raw = JSON.stringify(stored[0]);
    for (const s of secrets) expect(raw).not.toContain(s);
    expect(raw).toContain('sealed');
    // Sent, not opened: the codes stay delivered until the buyer reveals them.
    const states = (await t.services.vault.codesOfOrder(order.id)).map((c) => c.state);
    expect(states).toEqual(['delivered', 'delivered']);
  });

  it('an order whose delivery target is a group is never sent there: marked skipped once', async () => {
    const product = await t.services.catalog.createProduct({ name: `Card ${uniq()}`, brand: 'B', category: 'gift', kind: 'code', skus: [{ name: '¥10', faceValueFen: 1_000, costFen: 800, retailPriceFen: 900, lowStockThreshold: 0 }] });
    const skuId = product.skus[0]!.id;
    await stockCodes(t, skuId, 1);
    const { customerId } = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: `9${uniq()}` } });
    const group = `-400${uniq()}`;
    const order = await t.platform.db.transaction((tx) =>
      t.services.orders.createOrder({ buyer: { type: 'customer', id: customerId }, skuId, quantity: 1, channel: 'telegram', payment: 'external', provider: 'sandbox', deliveryTarget: { channel: 'telegram', chat_id: group, kind: 'group' } }, tx),
    );
    const pay = await t.services.payments.start(order.id, 'sandbox');
    clock.advance(SECOND);
    const note = signSandboxNotification(sandboxSecret(t.platform), { trade_no: pay.trade_no, amount_fen: pay.amount_fen, status: 'succeeded', txn_id: `tx-${uniq()}` }, clock.now());
    expect((await t.inject({ method: 'POST', url: '/payments/notify/sandbox', headers: note.headers, payload: note.body })).statusCode).toBe(204);
    await t.services.chatDeliveries.scanDelivered();
    await t.services.chatDeliveries.scanDelivered();
    await pump(SECOND, 2);
    expect(telegram.to(group)).toHaveLength(0);
    expect((await rows('dedupe_key = $1', [`order.delivered:${order.id}`])).map((r) => r.status)).toEqual(['skipped']);
  });

  it('an order paid from a balance in the conversation is not sent again', async () => {
    const product = await t.services.catalog.createProduct({ name: `Card ${uniq()}`, brand: 'B', category: 'gift', kind: 'code', skus: [{ name: '¥10', faceValueFen: 1_000, costFen: 800, retailPriceFen: 900, lowStockThreshold: 0 }] });
    const skuId = product.skus[0]!.id;
    await stockCodes(t, skuId, 1);
    const tgUser = `8${Date.now() % 1_000_000_000}`;
    const { customerId } = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: tgUser } });
    await t.services.orders.creditBalance({ type: 'customer', id: customerId }, 5_000, `topup-${uniq()}`, { id: 'stf_test' });
    const order = await t.platform.db.transaction((tx) =>
      t.services.orders.createOrder({ buyer: { type: 'customer', id: customerId }, skuId, quantity: 1, channel: 'telegram', payment: 'balance', deliveryTarget: { ...chatDeliveryTarget({ channel: 'telegram', chatId: tgUser, kind: 'private' }, { provider: 'telegram', externalId: tgUser }) } }, tx),
    );
    expect(order.status).toBe('delivered');
    clock.advance(SECOND);
    await t.services.chatDeliveries.scanDelivered();
    expect(await rows('dedupe_key = $1', [`order.delivered:${order.id}`])).toHaveLength(0);
  });
});

describe('announcements and the in-process pump', () => {
  it('an agent announces to its groups: one message per group, paced, a retried call queues nothing twice', async () => {
    const agent = await t.services.agents.create({ name: `Leader ${uniq()}`, role: 'group_leader' });
    const groups = [`-200${uniq()}`, `-300${uniq()}`].map((chatId) => ({ channel: 'telegram' as const, chatId, kind: 'group' as const }));
    const first = await t.services.chatDeliveries.announce(agent.id, 'New stock: JD cards 95 折', groups, { key: 'ann-1' });
    const again = await t.services.chatDeliveries.announce(agent.id, 'New stock: JD cards 95 折', groups, { key: 'ann-1' });
    expect([first.queued, again.queued]).toEqual([2, 0]);
    await expect(t.services.chatDeliveries.announce(agent.id, '   ', groups)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await pump(SECOND, 3);
    for (const g of groups) expect(telegram.to(g.chatId).map((s) => s.message.replies[0]!.text)).toEqual(['📢 New stock: JD cards 95 折']);
  });

  it('refuses a secret for a group chat', async () => {
    await expect(t.services.outbound.enqueue(undefined, { ...msg('telegram', '-1', 'x', 'group'), replies: [{ text: 'codes', secret: { text: 'SECRET', codeIds: ['c'] } }] })).rejects.toThrow(/private chat/);
  });

  it('after start(), an enqueue is sent at once without waiting for the job', async () => {
    const chat = `kick-${uniq()}`;
    t.services.outbound.start({ everyMs: 60_000 });
    try {
      await t.services.outbound.enqueue(undefined, msg('telegram', chat, 'now'));
      await t.services.outbound.idle();
      expect(telegram.to(chat)).toHaveLength(1);
    } finally {
      await t.services.outbound.stop();
    }
  });
});
