import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/boot.js';
import type { FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { bootMpAppForFile } from '../helpers/mp-app.js';
import { ownExpiringCode } from './own-code.js';
import { DAY, HOUR, ManualClock } from '../../src/lib/clock.js';

/**
 * Expiry reminders and mini-program subscribe consents: a subscribe message
 * goes out only when the customer has an unused consent (one acceptance of the
 * template in wx.requestSubscribeMessage), and uses it up; without one the
 * reminder falls back to the customer's chat, else is recorded as no_channel.
 * Racing runs use one consent for one message.
 */
const TEMPLATE = 'tmpl-expiry-consent';
const clock = new ManualClock(new Date('2026-11-01T04:00:00Z'));
let t: TestApp;
let wx: FakeWechatMp;
let n = 0;

bootMpAppForFile(
  (app) => {
    ({ t, wx } = app);
  },
  { clock, env: { WECHAT_MP_REMINDER_TEMPLATE_ID: TEMPLATE } },
);

const sql = async <R>(text: string, values: unknown[] = []) => (await t.platform.database.executeSql<R>(text, values)).rows;
const mpCustomer = async (openid: string) => (await t.services.customers.resolve({ identity: { provider: 'miniprogram_openid', externalId: openid } })).customerId;
const consent = (customerId: string) => t.services.subscribeConsents.record(customerId, [TEMPLATE], { key: `consent-${++n}-key` });
const unused = async (customerId: string) => (await t.services.subscribeConsents.unusedCounts(customerId))[TEMPLATE];
const sentTo = (openid: string) => wx.subscribeMessages.filter((m) => m.touser === openid);
const reminders = (codeId: string) => sql<{ rule_days: number; channel: string; status: string }>('select rule_days, channel, status from wallet_reminders where code_id = $1 order by rule_days desc', [codeId]);

/** A code expiring `inMs` from now, bought (delivered, unrevealed) by the customer; returns its id. */
async function ownCode(customerId: string, inMs: number): Promise<string> {
  return (await ownExpiringCode(t, clock, customerId, inMs)).codeId;
}

describe('expiry reminders need a subscribe consent for the mini-program', () => {
  it('no consent: nothing is sent (no_channel); a consent sends one message and is used up; the next rule needs another', async () => {
    const id = await mpCustomer('o-consent-1');
    const codeId = await ownCode(id, 6 * DAY);
    await t.services.walletReminders.run();
    expect(await reminders(codeId)).toEqual([{ rule_days: 7, channel: 'none', status: 'no_channel' }]);
    expect(sentTo('o-consent-1')).toHaveLength(0);

    const second = await ownCode(id, 6 * DAY);
    await consent(id);
    expect(await unused(id)).toBe(1);
    await t.services.walletReminders.run();
    await t.services.walletReminders.run();
    expect(await reminders(second)).toEqual([{ rule_days: 7, channel: 'miniprogram', status: 'sent' }]);
    expect(sentTo('o-consent-1')).toHaveLength(1);
    expect(await unused(id)).toBe(0);
    expect(await sql(`select used_for from mp_subscribe_consents where customer_id = $1`, [id])).toEqual([{ used_for: 'wallet.reminder' }]);

    // Five days on, the 1-day reminder: the consent is gone, so nothing goes out.
    clock.advance(5 * DAY + 2 * HOUR);
    await t.services.walletReminders.run();
    expect((await reminders(second)).map((r) => [r.rule_days, r.channel])).toEqual([[7, 'miniprogram'], [1, 'none']]);
    expect(sentTo('o-consent-1')).toHaveLength(1);
  });

  it('a customer with a chat too: the mini-program while a consent lasts, then the chat', async () => {
    const id = await mpCustomer('o-consent-2');
    await t.services.customers.link(id, { provider: 'telegram', externalId: '80002' });
    await consent(id);
    const first = await ownCode(id, 6 * DAY);
    await t.services.walletReminders.run();
    expect(await reminders(first)).toEqual([{ rule_days: 7, channel: 'miniprogram', status: 'sent' }]);
    const second = await ownCode(id, 6 * DAY);
    await t.services.walletReminders.run();
    expect(await reminders(second)).toEqual([{ rule_days: 7, channel: 'chat', status: 'queued' }]);
    expect(sentTo('o-consent-2')).toHaveLength(1);
    expect(await sql(`select 1 from bot_outbound_messages where reason = 'wallet.reminder' and chat_id = '80002'`)).toHaveLength(1);
  });

  it('racing runs: one message, one consent used; a run that claims nothing gives its consent back', async () => {
    const id = await mpCustomer('o-consent-3');
    await consent(id);
    await consent(id);
    expect(await unused(id)).toBe(2);
    const codeId = await ownCode(id, 6 * DAY);
    await Promise.all(Array.from({ length: 4 }, () => t.services.walletReminders.run()));
    expect(await reminders(codeId)).toEqual([{ rule_days: 7, channel: 'miniprogram', status: 'sent' }]);
    expect(sentTo('o-consent-3')).toHaveLength(1);
    expect(await unused(id)).toBe(1);
  });
});
