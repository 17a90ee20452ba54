import { and, asc, eq, lte } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { newId } from '../../lib/ids.js';
import { maskPhonesInText } from '../../lib/mask.js';
import { alertChatMessages } from './schema.js';

/**
 * Alerts copied to an admin Telegram chat. The message row is written with
 * the alert (same statement sequence, same transaction when the caller has
 * one); the `alerts.send-admin-chat` job sends due rows through the Bot API
 * and retries failures with backoff, so a crash between raising and sending
 * loses nothing. The text holds the alert's kind, severity, subject and
 * message only (never its details), with phone numbers masked.
 */
export interface AdminChatConfig {
  chatId: string;
  botToken: string;
  apiRoot: string;
  /** Alert kinds to send; empty: every kind. */
  kinds: string[];
}

export interface ChatAlert {
  alertId: string;
  kind: string;
  severity: string;
  subjectType: string;
  subjectId: string;
  message: string;
}

const MAX_ATTEMPTS = 12;
/** A claimed row is not handed to another run for this long (a crashed sender's rows come back after it). */
const LEASE_MS = 2 * 60_000;
const TELEGRAM_TEXT_LIMIT = 4096;

const severityMark: Record<string, string> = { critical: '🚨', warning: '⚠️', info: 'ℹ️' };

/** The chat text of an alert: no details, phones masked, within Telegram's limit. */
export function chatText(a: ChatAlert): string {
  const text = `${severityMark[a.severity] ?? '•'} [${a.severity}] ${a.kind}\n${a.message}\n${a.subjectType}: ${a.subjectId}`;
  const masked = maskPhonesInText(text);
  return masked.length > TELEGRAM_TEXT_LIMIT ? `${masked.slice(0, TELEGRAM_TEXT_LIMIT - 1)}…` : masked;
}

/** Delay before attempt n + 1: 30 s doubling, at most an hour. */
export const retryDelayMs = (attempts: number) => Math.min(3_600_000, 30_000 * 2 ** Math.max(0, attempts - 1));

export function createAdminChat(p: Platform, config: AdminChatConfig | null, fetchImpl: typeof fetch = fetch) {
  const wanted = (kind: string) => config !== null && (config.kinds.length === 0 || config.kinds.includes(kind));

  /** Queues the alert for the chat when the chat is configured and wants this kind. */
  async function enqueue(a: ChatAlert, db: DbOrTx = p.db): Promise<boolean> {
    if (!wanted(a.kind)) return false;
    const now = p.clock.now();
    await db.insert(alertChatMessages).values({ id: newId('acm', now), alertId: a.alertId, kind: a.kind, text: chatText(a), status: 'pending', attempts: 0, nextAttemptAt: now, createdAt: now });
    return true;
  }

  async function send(text: string): Promise<void> {
    const res = await fetchImpl(`${config!.apiRoot.replace(/\/$/, '')}/bot${config!.botToken}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: config!.chatId, text, disable_web_page_preview: true }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => null)) as { ok?: boolean; description?: string } | null;
    // The error text names the Bot API's answer, never the URL (which holds the token).
    if (!res.ok || !body?.ok) throw new Error(`Bot API sendMessage: HTTP ${res.status} ${body?.description ?? ''}`.trim());
  }

  /** Sends due messages (the job calls this every minute); returns how many were sent. */
  async function deliverDue(limit = 50): Promise<{ sent: number; failed: number }> {
    if (!config) return { sent: 0, failed: 0 };
    const now = p.clock.now();
    const due = await p.db
      .select({ id: alertChatMessages.id, nextAttemptAt: alertChatMessages.nextAttemptAt })
      .from(alertChatMessages)
      .where(and(eq(alertChatMessages.status, 'pending'), lte(alertChatMessages.nextAttemptAt, now)))
      .orderBy(asc(alertChatMessages.nextAttemptAt))
      .limit(limit);
    let sent = 0;
    let failed = 0;
    for (const d of due) {
      // Claim by moving the row's next attempt ahead: a parallel run (another instance) skips it.
      const [row] = await p.db
        .update(alertChatMessages)
        .set({ nextAttemptAt: new Date(now.getTime() + LEASE_MS) })
        .where(and(eq(alertChatMessages.id, d.id), eq(alertChatMessages.status, 'pending'), eq(alertChatMessages.nextAttemptAt, d.nextAttemptAt)))
        .returning();
      if (!row) continue;
      try {
        await send(row.text);
        await p.db.update(alertChatMessages).set({ status: 'sent', attempts: row.attempts + 1, sentAt: p.clock.now(), lastError: null }).where(eq(alertChatMessages.id, row.id));
        sent++;
      } catch (err) {
        const attempts = row.attempts + 1;
        const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
        await p.db
          .update(alertChatMessages)
          .set({ attempts, lastError: message, status: attempts >= MAX_ATTEMPTS ? 'failed' : 'pending', nextAttemptAt: new Date(p.clock.now().getTime() + retryDelayMs(attempts)) })
          .where(eq(alertChatMessages.id, row.id));
        p.logger.warn({ message: row.id, attempts, error: message }, 'admin chat message not sent; will retry');
        failed++;
      }
    }
    return { sent, failed };
  }

  async function messagesOf(alertId: string) {
    return p.db.select().from(alertChatMessages).where(eq(alertChatMessages.alertId, alertId)).orderBy(asc(alertChatMessages.id));
  }

  return { enabled: config !== null, enqueue, deliverDue, messagesOf };
}

export type AdminChat = ReturnType<typeof createAdminChat>;
