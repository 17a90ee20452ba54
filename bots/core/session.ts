import { and, eq, lt, sql } from 'drizzle-orm';
import type { Platform } from '../../src/platform.js';
import type { ChatPlace, ChatUser, Locale } from './types.js';
import { botInbound, botSessions } from './schema.js';

/** A buy in progress: each step's button carries the flow id, so a button from an older flow is recognised as stale. */
export interface BuyFlow {
  id: string;
  productId?: string;
  skuId?: string;
  quantity?: number;
  /** null: the customer chose no coupon */
  couponId?: string | null;
  /** set once the order exists: a repeated pay press answers with it instead of buying again */
  orderId?: string;
}

export interface SessionData {
  locale?: Locale;
  /** the next free text answers this question */
  awaiting?: 'quantity' | 'redeem' | 'withdraw_amount' | 'withdraw_account';
  buy?: BuyFlow;
  withdraw?: { id: string; amountFen?: number; method?: 'bank_transfer' | 'wechat_transfer'; account?: string };
  /** counter for flow ids */
  seq?: number;
  /** an agent's groups that receive its announcements (registered with /mygroup inside each group) */
  groups?: { channel: ChatPlace['channel']; chatId: string }[];
}

export interface LoadedSession {
  key: string;
  data: SessionData;
  version: number;
}

/** `fresh` with the top-level keys this message changed (from `before` to `mine`) set (or removed) as it left them. */
export function overlay(fresh: SessionData, before: SessionData, mine: SessionData): SessionData {
  const out: Record<string, unknown> = structuredClone(fresh) as Record<string, unknown>;
  const b = before as Record<string, unknown>;
  const m = mine as Record<string, unknown>;
  for (const key of new Set([...Object.keys(b), ...Object.keys(m)])) {
    if (JSON.stringify(b[key]) === JSON.stringify(m[key])) continue;
    if (m[key] === undefined) delete out[key];
    else out[key] = structuredClone(m[key]);
  }
  return out as SessionData;
}

export const userKeyOf = (u: ChatUser) => `${u.provider}:${u.externalId}`;

/** Sessions in the database (bot_sessions), so they survive restarts and are shared by every bot instance. */
export function createSessionStore(p: Platform) {
  async function load(user: ChatUser): Promise<LoadedSession> {
    const key = userKeyOf(user);
    const [row] = await p.db.select().from(botSessions).where(eq(botSessions.userKey, key));
    return row ? { key, data: row.data as SessionData, version: row.version } : { key, data: {}, version: 0 };
  }

  /** Saves when nobody saved since `loaded` was read; false otherwise (the caller re-runs on the fresh state). */
  async function save(loaded: LoadedSession, data: SessionData): Promise<boolean> {
    const now = p.clock.now();
    const json = data as Record<string, unknown>;
    if (loaded.version === 0) {
      const rows = await p.db.insert(botSessions).values({ userKey: loaded.key, data: json, version: 1, updatedAt: now }).onConflictDoNothing().returning({ v: botSessions.version });
      return rows.length === 1;
    }
    const rows = await p.db
      .update(botSessions)
      .set({ data: json, version: sql`${botSessions.version} + 1`, updatedAt: now })
      .where(and(eq(botSessions.userKey, loaded.key), eq(botSessions.version, loaded.version)))
      .returning({ v: botSessions.version });
    return rows.length === 1;
  }

  /** Claims an inbound message id; false when it was already handled (a retried webhook delivery). */
  async function claimInbound(channel: string, messageId: string): Promise<boolean> {
    const rows = await p.db.insert(botInbound).values({ channel, messageId, receivedAt: p.clock.now() }).onConflictDoNothing().returning({ id: botInbound.messageId });
    return rows.length === 1;
  }

  /** Gives a claim back when handling failed, so the platform's retry is handled. */
  async function releaseInbound(channel: string, messageId: string): Promise<void> {
    await p.db.delete(botInbound).where(and(eq(botInbound.channel, channel), eq(botInbound.messageId, messageId)));
  }

  /** Drops dedupe rows older than `days` (platforms retry for minutes, not days). */
  async function pruneInbound(days = 3): Promise<number> {
    const before = new Date(p.clock.now().getTime() - days * 86_400_000);
    const rows = await p.db.delete(botInbound).where(lt(botInbound.receivedAt, before)).returning({ id: botInbound.messageId });
    return rows.length;
  }

  return { load, save, claimInbound, releaseInbound, pruneInbound };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
