import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/boot.js';
import type { FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { bootMpAppForFile } from '../helpers/mp-app.js';
import { ownExpiringCode } from './own-code.js';
import { DAY, HOUR, ManualClock } from '../../src/lib/clock.js';
import { jobDefinitions } from '../../src/modules/jobs/definitions.js';
import { chinaTime } from '../../src/modules/wallet/reminders.js';

/**
 * Wallet expiry reminders on the real app and database: a code expiring in
 * 6 days gets the 7-day reminder once (two runs, and racing runs: one row,
 * one chat message), the 1-day one a day before; redeemed and expired codes
 * get none; a gifted code reminds its new owner; a mini-program-only customer
 * gets a subscribe message (a local fake WeChat); no reminder carries the code.
 */
const TEMPLATE = 'tmpl-expiry-reminder';
const clock = new ManualClock(new Date('2026-11-01T04:00:00Z'));
let t: TestApp;
let wx: FakeWechatMp;

bootMpAppForFile(
  (app) => {
    ({ t, wx } = app);
  },
  { clock, env: { WECHAT_MP_REMINDER_TEMPLATE_ID: TEMPLATE } },
);

const sql = async <R>(text: string, values: unknown[] = []) => (await t.platform.database.executeSql<R>(text, values)).rows;
const customer = async (provider: 'telegram' | 'miniprogram_openid' | 'partner', externalId: string) => (await t.services.customers.resolve({ identity: { provider, externalId } })).customerId;

const ownCode = (customerId: string, inMs: number, name?: string) => ownExpiringCode(t, clock, customerId, inMs, name);
const reminders = (codeId: string) => sql<{ rule_days: number; customer_id: string; channel: string; status: string; outbound_id: string | null }>('select rule_days, customer_id, channel, status, outbound_id from wallet_reminders where code_id = $1 order by rule_days desc', [codeId]);
const outboundByKey = (key: string) => sql<{ id: string; channel: string; chat_id: string; replies: unknown }>('select id, channel, chat_id, replies from bot_outbound_messages where dedupe_key = $1', [key]);

describe('expiry reminders', () => {
  it('the hourly job is defined', () => {
    const job = jobDefinitions(t.services, t.platform.config).find((j) => j.name === 'wallet.send-reminders');
    expect(job?.cron).toBe('43 * * * *');
  });

  it('6 days before expiry: the 7-day reminder once (sequential and racing runs), to the Telegram chat, without the secret; the 1-day one later', async () => {
    const id = await customer('telegram', '70001');
    const { codeId, secret } = await ownCode(id, 6 * DAY + 2 * HOUR, 'Reminder card A');
    await t.services.walletReminders.run();
    await t.services.walletReminders.run();
    // Racing runs (several job workers): still one row and one message.
    await Promise.all(Array.from({ length: 6 }, () => t.services.walletReminders.run()));
    const rows = await reminders(codeId);
    expect(rows).toEqual([{ rule_days: 7, customer_id: id, channel: 'chat', status: 'queued', outbound_id: expect.any(String) }]);
    const msgs = await outboundByKey(`wallet.reminder:${codeId}:7`);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({ id: rows[0]!.outbound_id, channel: 'telegram', chat_id: '70001' });
    expect(await sql(`select 1 from bot_outbound_messages where reason = 'wallet.reminder' and chat_id = '70001'`)).toHaveLength(1);
    const text = JSON.stringify(msgs[0]!.replies);
    const [code] = await sql<{ last4: string; expires_at: string }>('select last4, expires_at from codes where id = $1', [codeId]);
    expect(text).toContain('Reminder card A');
    expect(text).toContain(code!.last4);
    expect(text).toContain(chinaTime(new Date(code!.expires_at)));
    expect(text).not.toContain(secret);

    // 5 days later: 1 day + 2 hours left, still nothing new; 3 hours more: the 1-day reminder, once.
    clock.advance(5 * DAY);
    await t.services.walletReminders.run();
    expect(await reminders(codeId)).toHaveLength(1);
    clock.advance(3 * HOUR);
    await Promise.all([t.services.walletReminders.run(), t.services.walletReminders.run()]);
    await t.services.walletReminders.run();
    expect((await reminders(codeId)).map((r) => r.rule_days)).toEqual([7, 1]);
    const second = await outboundByKey(`wallet.reminder:${codeId}:1`);
    expect(second).toHaveLength(1);
    expect(JSON.stringify(second[0]!.replies)).not.toContain(secret);
    expect(await sql(`select 1 from bot_outbound_messages where reason = 'wallet.reminder' and chat_id = '70001'`)).toHaveLength(2);
  });

  it('a code first seen 20 hours before expiry gets only the 1-day reminder', async () => {
    const id = await customer('telegram', '70002');
    const { codeId } = await ownCode(id, 20 * HOUR);
    await t.services.walletReminders.run();
    expect((await reminders(codeId)).map((r) => r.rule_days)).toEqual([1]);
  });

  it('a redeemed code and an expired code get no reminder', async () => {
    const id = await customer('telegram', '70003');
    const redeemed = await ownCode(id, 3 * DAY);
    await t.services.vault.transition([redeemed.codeId], 'redeem', { actorType: 'system', ref: 'test redeem' });
    const expired = await ownCode(id, 2 * HOUR);
    clock.advance(3 * HOUR);
    await t.services.vault.expireCodes();
    await t.services.walletReminders.run();
    expect(await reminders(redeemed.codeId)).toEqual([]);
    expect(await reminders(expired.codeId)).toEqual([]);
    expect(await sql(`select 1 from bot_outbound_messages where reason = 'wallet.reminder' and chat_id = '70003'`)).toHaveLength(0);
  });

  it('a gifted code reminds its new owner, not the giver', async () => {
    const giver = await customer('telegram', '70004');
    const friend = await customer('telegram', '70005');
    const { codeId, secret } = await ownCode(giver, 5 * DAY);
    const { gift } = await t.services.wallet.give({ codeId, giverId: giver });
    await t.services.wallet.claim(gift.token, friend);
    await t.services.walletReminders.run();
    expect(await reminders(codeId)).toMatchObject([{ rule_days: 7, customer_id: friend, channel: 'chat' }]);
    const [msg] = await outboundByKey(`wallet.reminder:${codeId}:7`);
    expect(msg).toMatchObject({ channel: 'telegram', chat_id: '70005' });
    expect(JSON.stringify(msg!.replies)).not.toContain(secret);
    expect(await sql(`select 1 from bot_outbound_messages where reason = 'wallet.reminder' and chat_id = '70004'`)).toHaveLength(0);
  });

  it('a mini-program-only customer gets one subscribe message (no secret); a refused one is recorded once; no channel is recorded once', async () => {
    const mp = await customer('miniprogram_openid', 'o-mp-reminder-1');
    // A subscribe message needs the customer's consent (POST /mp/v1/subscriptions; test/wallet/reminder-consent.test.ts).
    await t.services.subscribeConsents.record(mp, [TEMPLATE], { key: 'consent-o-mp-reminder-1' });
    const { codeId, secret } = await ownCode(mp, 6 * DAY, 'MP card');
    const before = wx.subscribeMessages.length;
    await t.services.walletReminders.run();
    await Promise.all([t.services.walletReminders.run(), t.services.walletReminders.run()]);
    expect(await reminders(codeId)).toMatchObject([{ rule_days: 7, channel: 'miniprogram', status: 'sent' }]);
    const sent = wx.subscribeMessages.slice(before);
    expect(sent).toHaveLength(1);
    const [code] = await sql<{ last4: string; expires_at: string }>('select last4, expires_at from codes where id = $1', [codeId]);
    expect(sent[0]).toMatchObject({ touser: 'o-mp-reminder-1', template_id: TEMPLATE, data: { thing1: { value: 'MP card' }, character_string2: { value: code!.last4 }, time3: { value: chinaTime(new Date(code!.expires_at)) } } });
    expect(JSON.stringify(sent[0])).not.toContain(secret);

    // A user without a subscription: WeChat answers 43101, recorded as refused, not tried again.
    const refusing = await customer('miniprogram_openid', 'o-mp-reminder-2');
    await t.services.subscribeConsents.record(refusing, [TEMPLATE], { key: 'consent-o-mp-reminder-2' });
    wx.refuseSubscribe('o-mp-reminder-2');
    const r = await ownCode(refusing, 6 * DAY);
    await t.services.walletReminders.run();
    await t.services.walletReminders.run();
    expect(await reminders(r.codeId)).toMatchObject([{ channel: 'miniprogram', status: 'refused' }]);
    expect(wx.subscribeMessages.slice(before)).toHaveLength(1);

    // Neither a chat nor the mini-program: recorded as no_channel, once.
    const nobody = await customer('partner', 'reminder-partner-only');
    const n = await ownCode(nobody, 6 * DAY);
    await t.services.walletReminders.run();
    await t.services.walletReminders.run();
    expect(await reminders(n.codeId)).toEqual([{ rule_days: 7, customer_id: nobody, channel: 'none', status: 'no_channel', outbound_id: null }]);
  });

  it('one customer\'s codes due in the same run go in one message', async () => {
    const id = await customer('telegram', '70006');
    const a = await ownCode(id, 4 * DAY, 'Group card 1');
    const b = await ownCode(id, 5 * DAY, 'Group card 2');
    await t.services.walletReminders.run();
    const rows = [...(await reminders(a.codeId)), ...(await reminders(b.codeId))];
    expect(rows).toHaveLength(2);
    expect(rows[0]!.outbound_id).toBe(rows[1]!.outbound_id);
    const msgs = await sql<{ replies: unknown }>(`select replies from bot_outbound_messages where reason = 'wallet.reminder' and chat_id = '70006'`);
    expect(msgs).toHaveLength(1);
    expect(JSON.stringify(msgs[0]!.replies)).toContain('Group card 1');
    expect(JSON.stringify(msgs[0]!.replies)).toContain('Group card 2');
    expect(JSON.stringify(msgs[0]!.replies)).not.toContain(a.secret);
  });
});
