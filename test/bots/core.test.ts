import { mkdirSync, writeFileSync } from 'node:fs';
import Papa from 'papaparse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { createChatCore } from '../../bots/core/core.js';
import { allTextKeys, textCatalogs } from '../../bots/core/texts.js';
import type { ChatCore, ChatPlace, ChatUser, HandleResult, Inbound, Reply } from '../../bots/core/types.js';

/**
 * The chat core on the real app and database: a new user arrives through a
 * group leader's link, buys with balance and receives the code privately; a
 * double tap buys once; a group never sees codes; the leader's commission
 * shows; texts in both languages; the session outlives the core instance.
 */
const ADMIN_CHAT = '-100777';
let t: TestApp;
let core: ChatCore;
let owner: string;
let finance: string;
let seq = 0;
const transcript: string[] = [];

const user = (id: string, name: string, languageHint = 'en'): ChatUser => ({ provider: 'telegram', externalId: id, displayName: name, languageHint });
const dmOf = (u: ChatUser): ChatPlace => ({ channel: 'telegram', chatId: u.externalId, kind: 'private' });
const group: ChatPlace = { channel: 'telegram', chatId: '-100555', kind: 'group' };

async function say(u: ChatUser, text: string, place = dmOf(u), c = core): Promise<HandleResult> {
  const r = await c.handle({ user: u, place, payload: { type: 'text', text }, messageId: `m${++seq}` });
  record(u, place, `“${text}”`, r);
  return r;
}
async function press(u: ChatUser, data: string, place = dmOf(u), opts: { messageId?: string; core?: ChatCore } = {}): Promise<HandleResult> {
  const r = await (opts.core ?? core).handle({ user: u, place, payload: { type: 'button', data }, messageId: opts.messageId ?? `m${++seq}` });
  record(u, place, `[${label(data)}]`, r);
  return r;
}
const labels = new Map<string, string>();
const label = (data: string) => labels.get(data) ?? data;
function record(u: ChatUser, place: ChatPlace, what: string, r: HandleResult) {
  transcript.push(`**${u.displayName}** (${place.kind}): ${what}`, '');
  const show = (prefix: string, rep: Reply) => {
    for (const b of rep.buttons?.flat() ?? []) labels.set(b.data, b.label);
    transcript.push(...`${prefix}${rep.text}`.split('\n').map((l) => `> ${l}`));
    if (rep.secret) transcript.push(`> ||${rep.secret.text.replace(/\S{4}(?=\S{4})/g, '****')}|| (secret, ${rep.secret.codeIds.length} code(s))`);
    if (rep.buttons?.length) transcript.push(`> ${rep.buttons.map((row) => row.map((b) => `[${b.label}]`).join(' ')).join(' / ')}`);
    if (rep.image) transcript.push('> (image: QR code)');
    transcript.push('');
  };
  for (const rep of r.replies) show('', rep);
  for (const e of r.elsewhere ?? []) for (const rep of e.replies) show(`(to ${e.place.kind} chat ${e.place.chatId}) `, rep);
}
const buttonsOf = (r: HandleResult) => r.replies.flatMap((x) => x.buttons?.flat() ?? []);
const buttonLike = (r: HandleResult, re: RegExp) => {
  const b = buttonsOf(r).find((x) => re.test(x.label) || re.test(x.data));
  if (!b) throw new Error(`no button ${re} in ${JSON.stringify(r.replies.map((x) => x.text))}`);
  return b.data;
};
const countOrders = async (customerId: string) => Number((await t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from orders where buyer_id = $1', [customerId])).rows[0]!.n);
const customerOf = async (u: ChatUser) => (await t.services.customers.resolve({ identity: { provider: u.provider, externalId: u.externalId } })).customerId;

let leader: { id: string; referral_code: string };
let productName: string;
const secrets: string[] = [];

beforeAll(async () => {
  t = await bootTestApp({ env: { RISK_SEED_RULES: 'false', COMMISSION_HOLD_DAYS: '0', WITHDRAWAL_MIN_FEN: '1000' } });
  owner = (await t.loginAs('owner')).token;
  finance = (await t.loginAs('finance')).token;
  core = createChatCore(t.platform, t.services, { adminChat: { channel: 'telegram', chatId: ADMIN_CHAT } });
  const top = await t.services.agents.create({ name: 'Distributor', role: 'distributor' });
  leader = await t.services.agents.create({ name: 'West Lake Leader', role: 'group_leader', parentId: top.id });
  productName = `Steam card ${seq}`;
  const product = await t.services.catalog.createProduct({
    name: productName,
    brand: 'Steam',
    category: 'gift',
    kind: 'code',
    skus: [{ name: '¥100', faceValueFen: 10_000, costFen: 8_000, retailPriceFen: 9_600, usageInstructions: 'Redeem at store.steampowered.com/account/redeemwalletcode', lowStockThreshold: 0 }],
  });
  secrets.push(...(await stockCodes(t, product.skus[0]!.id, 10)));
  const rule = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: '10%', scope_type: 'product', scope_value: product.id, levels: [{ kind: 'percent_of_price', bps: 1000 }] } });
  expect(rule.statusCode).toBe(201);
});
afterAll(async () => {
  mkdirSync('docs/transcripts', { recursive: true });
  writeFileSync('docs/transcripts/core.md', ['# Chat core: a conversation transcript', '', 'Generated by test/bots/core.test.ts (codes masked). Buttons are shown in [brackets]; a pressed button is shown as [label].', '', ...transcript].join('\n'));
  await t?.close();
});

const ann = user('70001', 'Ann');

describe('the buyer journey', () => {
  it('a new user starting with a group leader\'s referral is bound to the leader', async () => {
    const r = await say(ann, `/start ref_${leader.referral_code}`);
    expect(r.replies[0]!.text).toContain('Welcome');
    expect(r.replies[0]!.text).toContain('West Lake Leader');
    expect((await t.services.agents.bindingOf(await customerOf(ann)))?.agent_id).toBe(leader.id);
  });

  it('menu -> product -> quantity 1 -> no coupon -> balance: the code comes as a secret with the usage instructions; a double tap buys once', async () => {
    const customerId = await customerOf(ann);
    await t.services.orders.creditBalance({ type: 'customer', id: customerId }, 50_000, 'test top-up', { id: 'stf_test' });
    const menu = await say(ann, '/menu');
    const catalog = await press(ann, buttonLike(menu, /^cat$/));
    const product = await press(ann, buttonLike(catalog, new RegExp(productName)));
    let step = await press(ann, buttonLike(product, /^buy:q:.*:1$/));
    if (buttonsOf(step).some((b) => b.data.startsWith('buy:c:'))) step = await press(ann, buttonLike(step, /^buy:c:.*:none$/));
    expect(step.replies[0]!.text).toContain('Balance: ¥500.00');
    const pay = buttonLike(step, /^buy:pay:.*:balance$/);
    // The same button twice at once (two callback queries), then the same delivery again (same message id).
    const [a, b] = await Promise.all([press(ann, pay), press(ann, pay)]);
    const paid = [a, b].find((r) => r.replies[0]!.secret)!;
    expect(paid).toBeTruthy();
    expect(secrets).toContain(paid.replies[0]!.secret!.text);
    expect(paid.replies[0]!.text).toContain('store.steampowered.com');
    expect([a, b].filter((r) => r.replies[0]!.secret)).toHaveLength(1);
    const again = await press(ann, pay);
    expect(again.replies[0]!.secret).toBeUndefined();
    expect(again.replies[0]!.text).toMatch(/already/);
    const inbound: Inbound = { user: ann, place: dmOf(ann), payload: { type: 'button', data: pay }, messageId: 'dup-1' };
    await core.handle(inbound);
    expect((await core.handle(inbound)).replies).toEqual([]);
    expect(await countOrders(customerId)).toBe(1);
    const order = (await t.services.orders.list({ limit: 5, buyer: { type: 'customer', id: customerId } })).data[0]!;
    expect(order.status).toBe('delivered');
    expect(order.agent_id).toBe(leader.id);
  });

  it('my codes shows the delivered code again, privately', async () => {
    const list = await say(ann, '/codes');
    const codes = await press(ann, buttonLike(list, /^codes:o:/));
    expect(secrets).toContain(codes.replies[0]!.secret!.text);
  });

  it('in a group chat a buy puts no code in the group reply: it goes to the private chat', async () => {
    const catalog = await say(ann, '/buy', group);
    const product = await press(ann, buttonLike(catalog, new RegExp(productName)), group);
    let step = await press(ann, buttonLike(product, /^buy:q:.*:1$/), group);
    if (buttonsOf(step).some((b) => b.data.startsWith('buy:c:'))) step = await press(ann, buttonLike(step, /^buy:c:.*:none$/), group);
    const r = await press(ann, buttonLike(step, /^buy:pay:.*:balance$/), group);
    expect(r.replies.every((x) => !x.secret)).toBe(true);
    expect(JSON.stringify(r.replies)).not.toMatch(new RegExp(secrets.join('|')));
    expect(r.elsewhere).toHaveLength(1);
    expect(r.elsewhere![0]!.place).toEqual({ channel: 'telegram', chatId: ann.externalId, kind: 'private' });
    expect(secrets).toContain(r.elsewhere![0]!.replies[0]!.secret!.text);
    // Nor does "my codes" show them in the group.
    const codes = await press(ann, `codes:o:${(await t.services.orders.list({ limit: 1, buyer: { type: 'customer', id: await customerOf(ann) } })).data[0]!.id}`, group);
    expect(codes.replies[0]!.secret).toBeUndefined();
  });
});

describe('redeeming a CDK', () => {
  it('credits the reward once; a used or unknown code is refused with the reason', async () => {
    const pattern = { prefix: 'KQ', charset: 'safe', length: 13, check_digit: true, group_size: 4 };
    const batch = await t.inject({ method: 'POST', url: '/admin/marketing/cdk-batches', headers: { ...bearer(owner), 'idempotency-key': 'bot-cdk-batch-1' }, payload: { name: 'Bot batch', mode: 'single', count: 2, pattern, reward: { kind: 'balance', amount_fen: 500 } } });
    expect(batch.statusCode).toBe(201);
    const csv = await t.inject({ method: 'POST', url: `/admin/marketing/cdk-batches/${batch.json().batch.id}/export-clear`, headers: bearer(owner), payload: { reason: 'bot test' } });
    const [code] = Papa.parse<string[]>(csv.body.trim(), { skipEmptyLines: true }).data.slice(1).map((r) => r[1]!);
    expect((await say(ann, `/redeem ${code}`)).replies[0]!.text).toContain('Redeemed ✔ ¥5.00');
    await press(ann, 'redeem');
    expect((await say(ann, code!)).replies[0]!.text).toBe('That code cannot be redeemed: you have already redeemed it');
    expect((await say(ann, '兑换 KQ-NOPE-NOPE-NOPE')).replies[0]!.text).toBe('That code cannot be redeemed: no such code');
    // In a group the code is not even looked at.
    expect((await say(ann, `/redeem ${code}`, group)).replies[0]!.text).toMatch(/private chat/);
  });
});

describe('agents', () => {
  const leo = user('80001', 'Leo (leader)');
  it('is refused agent commands until linked with a one-time code from the agent back office; then sees the new commission', async () => {
    expect((await say(leo, '/commission')).replies[0]!.text).toMatch(/link/);
    const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: leader.id, name: 'chat' } })).json() as { id: string; secret: string };
    const url = '/open/v1/agent/chat-link';
    const res = await t.inject({ method: 'POST', url, headers: signedHeaders(key.id, key.secret, 'POST', url, '', new Date()) });
    expect(res.statusCode).toBe(201);
    const { code } = res.json() as { code: string };
    expect((await say(leo, `/link ${code}`)).replies[0]!.text).toContain('West Lake Leader');
    // A code works once.
    expect((await say(user('80002', 'Mallory'), `/link ${code}`)).replies[0]!.text).toMatch(/unknown or expired/);
    await t.services.commissions.accrueDelivered();
    const r = await say(leo, '佣金');
    // Two orders of ¥96 at 10%: ¥19.20 today, pending until the hold ends.
    expect(r.replies[0]!.text).toContain('Today: ¥19.20');
    expect(r.replies[0]!.text).toContain('Pending: ¥19.20');
    const share = await press(leo, 'agent:share');
    expect(share.replies[0]!.image?.png?.subarray(1, 4).toString()).toBe('PNG');
    expect(share.replies[0]!.text).toContain(`ref_${leader.referral_code}`);
    const stock = await press(leo, 'agent:stock');
    expect(stock.replies[0]!.text).toContain(productName);
  });

  it('announces to the groups it registered, through the outbound queue, once per command', async () => {
    expect((await say(leo, '/mygroup')).replies[0]!.text).toMatch(/inside the group/);
    expect((await say(leo, '/announce New stock!')).replies[0]!.text).toMatch(/No group yet/);
    const other: ChatPlace = { channel: 'telegram', chatId: '-100556', kind: 'group' };
    expect((await say(leo, '/mygroup', group)).replies[0]!.text).toMatch(/1 group/);
    expect((await say(leo, '我的群', other)).replies[0]!.text).toMatch(/2 group/);
    expect((await say(leo, '/announce')).replies[0]!.text).toMatch(/followed by the text/);
    const command: Inbound = { user: leo, place: dmOf(leo), payload: { type: 'text', text: '/announce  Steam ¥100 cards back in stock — order in our private chat' }, messageId: 'announce-1' };
    expect((await core.handle(command)).replies[0]!.text).toMatch(/queued for 2 group/);
    // The same update delivered again is answered once and queues nothing more.
    expect((await core.handle(command)).replies).toEqual([]);
    const rows = (await t.platform.database.executeSql<{ chat_id: string; kind: string; reason: string }>(`select chat_id, chat_kind as kind, reason from bot_outbound_messages where reason = 'announcement' order by chat_id`)).rows;
    expect(rows.map((r) => [r.chat_id, r.kind])).toEqual([['-100555', 'group'], ['-100556', 'group']]);
  });

  it('withdraws available commission: amount, account, confirm (once)', async () => {
    await t.services.commissions.settleDue();
    expect((await say(leo, '/commission')).replies[0]!.text).toContain('Available: ¥19.20');
    expect((await say(leo, '提现')).replies[0]!.text).toContain('¥19.20');
    expect((await say(leo, 'lots')).replies[0]!.text).toMatch(/amount in yuan/);
    await say(leo, '10');
    const confirm = await say(leo, '6222 0202 0000 1234');
    expect(confirm.replies[0]!.text).toContain('****1234');
    const ok = buttonLike(confirm, /^agent:wdok:/);
    const [a, b] = await Promise.all([press(leo, ok), press(leo, ok)]);
    expect([a, b].map((r) => r.replies[0]!.text).join('\n')).toMatch(/Withdrawal wdr_\w+ requested: ¥10\.00/);
    const list = await t.services.withdrawals.list({ limit: 10, agentId: leader.id });
    expect(list.data).toHaveLength(1);
    expect(list.data[0]!.amount_fen).toBe(1_000);
  });

  it('admin commands work only in the admin chat for linked staff', async () => {
    const boss = user('90001', 'Boss');
    const adminChat: ChatPlace = { channel: 'telegram', chatId: ADMIN_CHAT, kind: 'group' };
    expect((await say(boss, '/admin', adminChat)).replies[0]!.text).toMatch(/admin chat/);
    const res = await t.inject({ method: 'POST', url: '/admin/bots/link-code', headers: bearer(finance) });
    expect(res.statusCode).toBe(201);
    await say(boss, `/link ${(res.json() as { code: string }).code}`, adminChat);
    const menu = await say(boss, '/admin', adminChat);
    expect(buttonsOf(menu).map((b) => b.data)).toContain('adm:wd');
    expect((await say(boss, '/admin', dmOf(boss))).replies[0]!.text).toMatch(/admin chat/);
    const pending = await press(boss, 'adm:wd', adminChat);
    const [w] = (await t.services.withdrawals.list({ limit: 1, agentId: leader.id })).data;
    expect(pending.replies[0]!.text).toContain(w!.id);
    expect((await press(boss, `adm:wdok:${w!.id}`, adminChat)).replies[0]!.text).toContain(`Approved ${w!.id}`);
    expect((await t.services.withdrawals.get(w!.id)).status).toBe('approved');
    // A finance member may not decide risk reviews.
    expect((await press(boss, 'adm:rv', adminChat)).replies[0]!.text).toMatch(/admin chat/);
  });
});

describe('the risk gate', () => {
  it('refuses a listed chat user clearly, and nothing is bought', async () => {
    const eve = user('70009', 'Eve');
    await t.services.risk.createRule({ name: 'listed telegram ids', action: 'block', mode: 'enforce', condition: { list: 'telegram_id' }, appliesTo: ['order'] }, { id: 'stf_test' });
    await t.services.risk.addEntry({ type: 'telegram_id', value: eve.externalId, reason: 'test' }, { id: 'stf_test' });
    const customerId = await customerOf(eve);
    await t.services.orders.creditBalance({ type: 'customer', id: customerId }, 50_000, 'test top-up eve', { id: 'stf_test' });
    const catalog = await say(eve, '/catalog');
    const product = await press(eve, buttonLike(catalog, new RegExp(productName)));
    let step = await press(eve, buttonLike(product, /^buy:q:.*:1$/));
    if (buttonsOf(step).some((b) => b.data.startsWith('buy:c:'))) step = await press(eve, buttonLike(step, /^buy:c:.*:none$/));
    const r = await press(eve, buttonLike(step, /^buy:pay:.*:balance$/));
    expect(r.replies[0]!.text).toMatch(/cannot be made from this account/);
    expect(r.replies[0]!.secret).toBeUndefined();
    expect(await countOrders(customerId)).toBe(0);
  });
});

describe('texts and sessions', () => {
  it('every text exists in zh-CN and en; the platform hint picks the language until the user chooses', async () => {
    for (const k of allTextKeys) {
      expect(textCatalogs.en[k].length, k).toBeGreaterThan(0);
      expect(textCatalogs['zh-CN'][k].length, k).toBeGreaterThan(0);
    }
    const mei = user('70002', 'Mei', 'zh-hans');
    expect((await say(mei, '/start')).replies[0]!.text).toContain('欢迎');
    expect((await say(mei, '菜单')).replies[0]!.text).toContain('请选择');
    expect((await say(mei, '/lang en')).replies[0]!.text).toContain('Language: English');
    expect((await say(mei, '/menu')).replies[0]!.text).toContain('What would you like');
  });

  it('the session survives a new core instance (a restart, another instance)', async () => {
    const bob = user('70003', 'Bob');
    const catalog = await say(bob, '/catalog');
    const other = createChatCore(t.platform, t.services);
    const product = await press(bob, buttonLike(catalog, new RegExp(productName)), dmOf(bob), { core: other });
    expect(buttonsOf(product).some((b) => /^buy:q:/.test(b.data))).toBe(true);
    // Two messages of the same user at once on two instances: neither's change to the session is lost.
    const carol = user('70004', 'Carol');
    await say(carol, '/start');
    await Promise.all([say(carol, '/lang zh'), say(carol, '/catalog', dmOf(carol), other)]);
    const after = await say(carol, '/menu');
    expect(after.replies[0]!.text).toContain('请选择');
    const [row] = (await t.platform.database.executeSql<{ data: { locale?: string; buy?: { id: string } } }>("select data from bot_sessions where user_key = 'telegram:70004'", [])).rows;
    expect(row!.data.locale).toBe('zh-CN');
    expect(row!.data.buy?.id).toBeTruthy();
    // An old flow's buttons are refused once a new flow starts.
    await say(bob, '/catalog', dmOf(bob), other);
    expect((await press(bob, buttonLike(catalog, new RegExp(productName)))).replies[0]!.text).toMatch(/older conversation/);
  });
});
