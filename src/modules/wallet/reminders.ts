import { eq, inArray } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';
import { DAY } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import type { ChannelName, Locale, OutboundMessage } from '../../../bots/core/types.js';
import { CODE_OWNER, CODE_OWNERSHIP_JOIN } from './ownership.js';
import type { CustomerService } from '../customers/service.js';
import type { OrderReports } from '../orders/reports.js';
import { parseDeliveryTarget } from '../../../bots/core/outbound-deliveries.js';
import { WechatMpError, createWechatMpClient, type WechatMpClient } from '../miniprogram/wechat-client.js';
import { walletReminders } from './reminder-schema.js';

/**
 * Expiry reminders: N days before a code a customer owns expires (one rule
 * per N in WALLET_REMINDER_DAYS), the owner is told once through the channel
 * it uses: a mini-program subscribe message when the customer has an unused
 * subscribe consent (one acceptance of the template sends one message; the
 * consent is used up in the claiming transaction), else its private chat
 * (the outbound queue), else nothing (recorded as no_channel). The wallet_reminders row, unique per (code, rule), is
 * written in the transaction that queues the chat message, so racing job
 * runs send once. A mini-program send is claimed by its row first and sent
 * after the commit: at most once (a crash in between leaves it 'sending').
 * A reminder never carries the code itself: product, last 4 digits, expiry.
 */
export interface ReminderSettings {
  /** the rules: remind this many days before expiry (e.g. [7, 1]) */
  days: number[];
  /** the mini-program subscribe message template; without it no subscribe message is sent */
  mpTemplateId?: string;
  /** the mini-program page the subscribe message opens */
  mpPage?: string;
}

export interface ReminderDeps {
  /** the customer's platform identities (where to reach it) */
  customers: Pick<CustomerService, 'get'>;
  /** the delivery target of the customer's latest chat order */
  orderReports: Pick<OrderReports, 'latestDeliveryTargetOf'>;
  outbound: { enqueue: (tx: DbOrTx | undefined, m: OutboundMessage) => Promise<{ id: string; created: boolean }>; kick?: () => void };
  /** the mini-program API client (tests inject one); default: built from WECHAT_MP_* when configured */
  wechatMp?: WechatMpClient | null;
  fetch?: typeof fetch;
  /** the customer's one-time subscribe consents (miniprogram/subscriptions.ts); without them no subscribe message is sent */
  consents?: { take: (tx: DbOrTx, customerId: string, templateId: string, usedFor: string) => Promise<boolean> };
}

export interface DueCode {
  code_id: string;
  rule_days: number;
  owner: string;
  last4: string;
  expires_at: Date;
  product_name: string;
}

type ChatPlace = { channel: ChannelName; chatId: string; locale?: Locale; user?: { provider: 'telegram' | 'wechat_openid' | 'wecom_userid' | 'partner'; externalId: string } };
type Channel = { kind: 'chat'; place: ChatPlace } | { kind: 'miniprogram'; openid: string } | { kind: 'none' };
/** Where a customer can be reached: its chat, and its mini-program openid (used only with a subscribe consent). */
type Reach = { chat?: ChatPlace; openid?: string };
/** Rolls back a claim that claimed nothing (so a consent it took is not used up). */
const NOTHING_CLAIMED = Symbol('nothing claimed');

/** Stale access token errcodes: fetch a new token and try once more. */
const STALE_TOKEN = new Set([40001, 40014, 42001]);
/** The user has not subscribed (or used its one-time subscription). */
const REFUSED = new Set([43101]);
const BATCH = 200;

/** "2026-12-05 23:59" in China time (UTC+8, no daylight saving). */
export function chinaTime(d: Date): string {
  return new Date(d.getTime() + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
}

const texts = {
  'zh-CN': {
    title: '⏰ 您的卡券即将过期：',
    line: (c: DueCode) => `• ${c.product_name}（尾号 ${c.last4}）将于 ${chinaTime(c.expires_at)}（北京时间）过期`,
    hint: '请打开“我的卡包”尽快使用。',
    mpHint: '打开卡包尽快使用',
  },
  en: {
    title: '⏰ Your codes expire soon:',
    line: (c: DueCode) => `• ${c.product_name} (ending ${c.last4}) expires ${chinaTime(c.expires_at)} (China time)`,
    hint: 'Open your wallet to use them in time.',
    mpHint: 'Open your wallet to use it',
  },
} as const;

/** The chat text of one customer's reminder (no secret in it: only product, last 4 and expiry). */
export function reminderText(codes: DueCode[], locale: Locale = 'zh-CN'): string {
  const t = texts[locale];
  return [t.title, ...codes.map(t.line), t.hint].join('\n');
}

export function createWalletReminders(p: Platform, deps: ReminderDeps, settings: ReminderSettings) {
  const rules = [...new Set(settings.days)].sort((a, b) => a - b);
  const mp = deps.wechatMp !== undefined ? deps.wechatMp : p.config.wechatMiniProgram ? createWechatMpClient(p, p.config.wechatMiniProgram) : null;
  const mpBase = (p.config.wechatMiniProgram?.apiBase ?? 'https://api.weixin.qq.com').replace(/\/$/, '');
  const doFetch = deps.fetch ?? fetch;

  /**
   * Owned, usable codes (delivered or revealed) expiring within the largest
   * rule, each with the most urgent rule it falls in (a code first seen one
   * day before expiry gets the 1-day reminder, not a late 7-day one too),
   * whose reminder for that rule was not made yet.
   */
  async function due(limit: number): Promise<DueCode[]> {
    if (rules.length === 0) return [];
    const now = p.clock.now();
    const rows = await queryRows<{ code_id: string; rule_days: number; owner: string; last4: string; expires_at: Date | string; product_name: string }>(
      p.db,
      `with cand as (
         select c.id, c.last4, c.expires_at, c.sku_id, ${CODE_OWNER} as owner,
                (select min(r) from unnest($3::int[]) r where c.expires_at <= $1::timestamptz + r * interval '1 day') as rule_days
           from ${CODE_OWNERSHIP_JOIN}
          where c.state in ('delivered', 'revealed') and c.expires_at > $1::timestamptz and c.expires_at <= $2::timestamptz
       )
       select cand.id as code_id, cand.rule_days, cand.owner, cand.last4, cand.expires_at, pr.name as product_name
         from cand join skus s on s.id = cand.sku_id join products pr on pr.id = s.product_id
        where cand.owner is not null
          and not exists (select 1 from wallet_reminders w where w.code_id = cand.id and w.rule_days = cand.rule_days)
        order by cand.owner, cand.id limit $4`,
      [now.toISOString(), new Date(now.getTime() + rules.at(-1)! * DAY).toISOString(), rules, limit],
    );
    return rows.map((r) => ({ ...r, rule_days: Number(r.rule_days), expires_at: new Date(r.expires_at) }));
  }

  /** Where the customer is reached: the private chat of its latest chat order, else its Telegram / WeChat identity; and its mini-program openid. */
  async function reachOf(customerId: string): Promise<Reach> {
    const ids = (await deps.customers.get(customerId)).identities;
    const mini = ids.find((i) => i.provider === 'miniprogram_openid');
    const reach: Reach = mini && mp && settings.mpTemplateId && deps.consents ? { openid: mini.external_id } : {};
    const target = parseDeliveryTarget(await deps.orderReports.latestDeliveryTargetOf(customerId));
    if (target) return { ...reach, chat: { channel: target.channel, chatId: target.chat_id, locale: target.locale, user: target.user ? { provider: target.user.provider, externalId: target.user.external_id } : undefined } };
    const tg = ids.find((i) => i.provider === 'telegram');
    // On Telegram and the WeChat official account the user's id is its private chat's id.
    if (tg) return { ...reach, chat: { channel: 'telegram', chatId: tg.external_id, user: { provider: 'telegram', externalId: tg.external_id } } };
    const oa = ids.find((i) => i.provider === 'wechat_openid');
    if (oa) return { ...reach, chat: { channel: 'wechat_oa', chatId: oa.external_id, user: { provider: 'wechat_openid', externalId: oa.external_id } } };
    return reach;
  }

  /**
   * Claims the reminders of one customer's codes (rows inserted in code order,
   * so racing runs wait on each other instead of deadlocking): through the
   * mini-program when a subscribe consent is taken in this transaction, else
   * the chat (its message queued in the same transaction), else none. A claim
   * of nothing rolls back, so its consent stays unused. Returns what was claimed.
   */
  async function claim(customerId: string, codes: DueCode[], reach: Reach): Promise<{ claimed: DueCode[]; ids: string[]; channel: Channel }> {
    try {
      return await p.db.transaction(async (tx) => {
        const now = p.clock.now();
        const consented = reach.openid ? await deps.consents!.take(tx, customerId, settings.mpTemplateId!, 'wallet.reminder') : false;
        const channel: Channel = consented ? { kind: 'miniprogram', openid: reach.openid! } : reach.chat ? { kind: 'chat', place: reach.chat } : { kind: 'none' };
        const claimed: DueCode[] = [];
        const ids: string[] = [];
        const status = channel.kind === 'chat' ? 'queued' : channel.kind === 'miniprogram' ? 'sending' : 'no_channel';
        for (const c of [...codes].sort((a, b) => (a.code_id < b.code_id ? -1 : 1))) {
          const id = newId('wrm', now);
          const row = await tx
            .insert(walletReminders)
            .values({ id, codeId: c.code_id, ruleDays: c.rule_days, customerId, channel: channel.kind === 'none' ? 'none' : channel.kind, status, createdAt: now })
            .onConflictDoNothing({ target: [walletReminders.codeId, walletReminders.ruleDays] })
            .returning({ id: walletReminders.id });
          if (row.length) {
            claimed.push(c);
            ids.push(id);
          }
        }
        if (claimed.length === 0) throw NOTHING_CLAIMED;
        if (channel.kind === 'chat') {
          const first = claimed[0]!;
          const { id: outboundId } = await deps.outbound.enqueue(tx, {
            place: { channel: channel.place.channel, chatId: channel.place.chatId, kind: 'private' },
            user: channel.place.user,
            replies: [{ text: reminderText(claimed, channel.place.locale) }],
            reason: 'wallet.reminder',
            dedupeKey: `wallet.reminder:${first.code_id}:${first.rule_days}`,
          });
          await tx.update(walletReminders).set({ outboundId }).where(inArray(walletReminders.id, ids));
        }
        return { claimed, ids, channel };
      });
    } catch (err) {
      if (err === NOTHING_CLAIMED) return { claimed: [], ids: [], channel: { kind: 'none' } };
      throw err;
    }
  }

  /** The subscribe message (template fields: thing1 product, character_string2 last 4, time3 expiry, thing4 hint). */
  async function sendSubscribe(openid: string, codes: DueCode[]): Promise<void> {
    const first = codes[0]!;
    const product = codes.length > 1 ? `${first.product_name}等${codes.length}张` : first.product_name;
    const body = {
      touser: openid,
      template_id: settings.mpTemplateId,
      page: settings.mpPage ?? 'pages/wallet/index',
      data: {
        // WeChat's "thing" fields hold at most 20 characters.
        thing1: { value: product.slice(0, 20) },
        character_string2: { value: first.last4 },
        time3: { value: chinaTime(first.expires_at) },
        thing4: { value: texts['zh-CN'].mpHint },
      },
    };
    const post = async (token: string): Promise<void> => {
      const res = await doFetch(`${mpBase}/cgi-bin/message/subscribe/send?access_token=${encodeURIComponent(token)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`WeChat answered HTTP ${res.status}`);
      const json = (await res.json()) as { errcode?: number; errmsg?: string };
      if (json.errcode) throw new WechatMpError(json.errcode, String(json.errmsg ?? ''));
    };
    try {
      await post(await mp!.accessToken());
    } catch (err) {
      if (!(err instanceof WechatMpError && STALE_TOKEN.has(err.errcode))) throw err;
      await post(await mp!.accessToken(true));
    }
  }

  /** One pass: every due reminder, a batch at a time. Returns how many codes were reminded, per channel. */
  async function run(): Promise<{ chat: number; miniprogram: number; failed: number; no_channel: number }> {
    const report = { chat: 0, miniprogram: 0, failed: 0, no_channel: 0 };
    let queuedChat = false;
    for (let round = 0; round < 50; round++) {
      const batch = await due(BATCH);
      if (batch.length === 0) break;
      const byOwner = new Map<string, DueCode[]>();
      for (const c of batch) byOwner.set(c.owner, [...(byOwner.get(c.owner) ?? []), c]);
      for (const [customerId, codes] of byOwner) {
        const { claimed, ids, channel } = await claim(customerId, codes, await reachOf(customerId));
        if (claimed.length === 0) continue;
        if (channel.kind === 'chat') {
          report.chat += claimed.length;
          queuedChat = true;
        } else if (channel.kind === 'none') report.no_channel += claimed.length;
        else {
          let status = 'sent';
          let error: string | null = null;
          try {
            await sendSubscribe(channel.openid, claimed);
            report.miniprogram += claimed.length;
          } catch (err) {
            status = err instanceof WechatMpError && REFUSED.has(err.errcode) ? 'refused' : 'failed';
            error = err instanceof Error ? err.message.slice(0, 200) : 'unknown error';
            report.failed += claimed.length;
            p.logger.warn({ customer_id: customerId, codes: claimed.length, status }, 'wallet reminder: subscribe message not sent');
          }
          await p.db.update(walletReminders).set({ status, error, sentAt: status === 'sent' ? p.clock.now() : null }).where(inArray(walletReminders.id, ids));
        }
      }
      if (batch.length < BATCH) break;
    }
    if (queuedChat) deps.outbound.kick?.();
    return report;
  }

  /** The reminders of one code (for support and tests). */
  async function ofCode(codeId: string) {
    return p.db.select().from(walletReminders).where(eq(walletReminders.codeId, codeId)).orderBy(walletReminders.ruleDays);
  }

  return { run, due, ofCode };
}

export type WalletReminders = ReturnType<typeof createWalletReminders>;
