import type { Platform } from '../../src/platform.js';
import { AppError } from '../../src/lib/errors.js';
import { newId } from '../../src/lib/ids.js';
import { DAY } from '../../src/lib/clock.js';
import type { CatalogService } from '../../src/modules/catalog/service.js';
import type { VaultService } from '../../src/modules/vault/service.js';
import type { AgentService } from '../../src/modules/agents/service.js';
import type { OrderReports } from '../../src/modules/orders/reports.js';
import type { OutboundQueue } from './outbound.js';
import type { ChannelName, ChatPlace, ChatUser, Locale, Reply } from './types.js';

/**
 * Codes delivered after the conversation ended (an external payment's
 * notification, a group buy that filled, stock that came back) and agents'
 * announcements, sent through the outbound queue.
 *
 * Why a scan of delivered orders rather than an outbox subscriber: the
 * outbox (webhooks module) dispatches each event once to partner endpoints
 * and purges it after its retention; hooking chat sends into that dispatch
 * transaction would make a chat problem stall partner webhooks. The code
 * base's way to react to delivered orders outside the sale is a scan with a
 * marker (commissions.accrueDelivered, points earning); here the marker is
 * the outbound row itself: its dedupe key `order.delivered:<order id>` is
 * unique, so an order is queued once whatever runs the scan and however many
 * payment notifications arrived.
 */

/** What the core stores as an order's delivery_target when a chat places it: always the buyer's PRIVATE chat. */
export interface ChatDeliveryTarget {
  channel: ChannelName;
  chat_id: string;
  kind: 'private';
  user?: { provider: ChatUser['provider']; external_id: string };
  locale?: Locale;
}

const channels: ReadonlySet<string> = new Set<ChannelName>(['telegram', 'wechat', 'wechat_oa', 'wecom', 'terminal']);

/**
 * The delivery target of an order placed from `place` by `user`. From a
 * group, the codes go to the user's private chat (on Telegram, WeChat and
 * the OA the user's id is their private chat's id), never to the group.
 */
export function chatDeliveryTarget(place: ChatPlace, user: ChatUser, locale?: Locale): ChatDeliveryTarget {
  return { channel: place.channel, chat_id: place.kind === 'private' ? place.chatId : user.externalId, kind: 'private', user: { provider: user.provider, external_id: user.externalId }, locale };
}

/** A stored delivery_target, if it names a private chat on a known channel. */
export function parseDeliveryTarget(raw: unknown): ChatDeliveryTarget | null {
  if (!raw || typeof raw !== 'object') return null;
  const t = raw as Record<string, unknown>;
  if (typeof t.channel !== 'string' || !channels.has(t.channel) || typeof t.chat_id !== 'string' || !t.chat_id) return null;
  if (t.kind !== undefined && t.kind !== 'private') return null;
  // The user as { user: { provider, external_id } } (chatDeliveryTarget) or flat (bots/core/place-order.ts).
  const u = (t.user as Record<string, unknown> | undefined) ?? t;
  const user = typeof u.provider === 'string' && typeof u.external_id === 'string' ? { provider: u.provider as ChatUser['provider'], external_id: u.external_id } : undefined;
  return { channel: t.channel as ChannelName, chat_id: t.chat_id, kind: 'private', user, locale: t.locale === 'en' ? 'en' : t.locale === 'zh-CN' ? 'zh-CN' : undefined };
}

const texts = {
  'zh-CN': {
    delivered: (sku: string, n: number, order: string) => `✅ 订单 ${order} 已发货：${sku} × ${n}`,
    usage: '使用说明：',
    announcement: '📢 ',
  },
  en: {
    delivered: (sku: string, n: number, order: string) => `✅ Order ${order} delivered: ${sku} × ${n}`,
    usage: 'How to use: ',
    announcement: '📢 ',
  },
} as const;

const ANNOUNCEMENT_MAX_CHARS = 2_000;
const ANNOUNCEMENT_MAX_GROUPS = 50;

export function createChatDeliveries(
  p: Platform,
  deps: { queue: OutboundQueue; vault: Pick<VaultService, 'codesOfOrder' | 'openCodes'>; catalog: Pick<CatalogService, 'getSku'>; agents: Pick<AgentService, 'get'>; orderReports: Pick<OrderReports, 'chatOrdersAwaitingDelivery'> },
) {
  /**
   * Orders delivered to a chat that are not queued yet. The lead may move
   * this read into orderReports (like deliveredAwaitingAccrual); it is the
   * only place this module reads the orders table. Orders delivered in the
   * transaction that created them (a balance purchase) were answered in the
   * conversation itself and are left out.
   */
  /** The message of a delivered order: its codes (sealed in the queue) and the SKU's usage instructions. */
  async function deliveryMessage(order: { id: string; sku_id: string }, target: ChatDeliveryTarget): Promise<Reply[] | null> {
    // Read without revealing: the codes stay "delivered" until the buyer opens them (Telegram's reveal button).
    const held = (await deps.vault.codesOfOrder(order.id)).filter((c) => c.state === 'delivered' || c.state === 'revealed');
    if (held.length === 0) return null;
    const plain = await deps.vault.openCodes(held.map((c) => c.id));
    const sku = await deps.catalog.getSku(order.sku_id);
    const t = texts[target.locale ?? 'zh-CN'];
    const lines = held.map((c) => {
      const code = plain.get(c.id);
      return code?.cardNumber ? `${code.cardNumber} ${code.secret}` : (code?.secret ?? '');
    });
    const usage = sku.usageInstructions.trim();
    return [{ text: `${t.delivered(sku.name, held.length, order.id)}${usage ? `\n${t.usage}${usage}` : ''}`, secret: { text: lines.join('\n'), codeIds: held.map((c) => c.id) } }];
  }

  /** Queues the codes of orders delivered to a chat in the last `days` days; returns how many were queued. */
  async function scanDelivered(limit = 100, days = 7): Promise<number> {
    const rows = await deps.orderReports.chatOrdersAwaitingDelivery(new Date(p.clock.now().getTime() - days * DAY), limit);
    let queued = 0;
    for (const o of rows) {
      const key = `order.delivered:${o.id}`;
      const target = parseDeliveryTarget(o.delivery_target);
      try {
        // Marked, so that the scan (oldest first) does not find it again and again in front of newer orders.
        if (!target) {
          await deps.queue.markSkipped({ channel: String((o.delivery_target as Record<string, unknown>).channel), chatId: '-', kind: 'private' }, key, 'order.delivered', 'delivery target is not a private chat');
          continue;
        }
        const replies = await deliveryMessage(o, target);
        if (!replies) {
          await deps.queue.markSkipped({ channel: target.channel, chatId: target.chat_id, kind: 'private' }, key, 'order.delivered', 'no delivered code left (refunded)');
          continue;
        }
        const user: ChatUser | undefined = target.user ? { provider: target.user.provider, externalId: target.user.external_id } : undefined;
        const r = await deps.queue.enqueue(undefined, { place: { channel: target.channel, chatId: target.chat_id, kind: 'private' }, user, replies, reason: 'order.delivered', dedupeKey: key });
        if (r.created) queued++;
      } catch (err) {
        // Never the codes in the log: the order id and the error only. The next scan tries again.
        p.logger.warn({ order_id: o.id, error: err instanceof Error ? err.message : String(err) }, 'chat delivery of an order could not be queued');
      }
    }
    return queued;
  }

  /**
   * An agent's sales announcement to its groups, paced by the queue (20 a
   * minute per Telegram group). The caller (the core's agent command) has
   * checked that these are the agent's groups. `key` makes a retried call
   * queue nothing twice.
   */
  async function announce(agentId: string, text: string, groups: ChatPlace[], opts: { key?: string; locale?: Locale } = {}): Promise<{ announcementId: string; queued: number }> {
    const body = text.trim();
    if (!body) throw new AppError('VALIDATION_FAILED', 'text: must not be empty', [{ field: 'text', message: 'must not be empty' }]);
    if (body.length > ANNOUNCEMENT_MAX_CHARS) throw new AppError('VALIDATION_FAILED', `text: at most ${ANNOUNCEMENT_MAX_CHARS} characters`, [{ field: 'text', message: `at most ${ANNOUNCEMENT_MAX_CHARS} characters` }]);
    if (groups.length === 0 || groups.length > ANNOUNCEMENT_MAX_GROUPS) throw new AppError('VALIDATION_FAILED', `groups: 1 to ${ANNOUNCEMENT_MAX_GROUPS}`, [{ field: 'groups', message: `1 to ${ANNOUNCEMENT_MAX_GROUPS} groups` }]);
    await deps.agents.get(agentId);
    const announcementId = opts.key ?? newId('ann', p.clock.now());
    const prefix = texts[opts.locale ?? 'zh-CN'].announcement;
    let queued = 0;
    const places = [...new Map(groups.map((g) => [`${g.channel}:${g.chatId}`, g])).values()];
    await p.db.transaction(async (tx) => {
      for (const g of places) {
        const r = await deps.queue.enqueue(tx, { place: g, replies: [{ text: `${prefix}${body}` }], reason: 'announcement', dedupeKey: `announcement:${agentId}:${announcementId}:${g.channel}:${g.chatId}` });
        if (r.created) queued++;
      }
    });
    deps.queue.kick();
    return { announcementId, queued };
  }

  return { scanDelivered, announce, deliveryMessage };
}

export type ChatDeliveries = ReturnType<typeof createChatDeliveries>;
