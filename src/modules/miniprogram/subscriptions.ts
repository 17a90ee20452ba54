import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { createIdempotency } from '../orders/idempotency.js';
import { mpSubscribeConsents } from './schema.js';

/** What a template is for; the mini-program asks wx.requestSubscribeMessage for these ids. */
export type SubscribePurpose = 'expiry_reminder';

/** More unused acceptances than this are not kept: nothing sends that many messages before they would be used. */
export const MAX_UNUSED_PER_TEMPLATE = 20;

/**
 * Subscribe-message consents (订阅消息). WeChat lets a mini-program send one
 * message per time the user accepts a template in wx.requestSubscribeMessage;
 * the app reports each acceptance, and a sender takes one unused consent in
 * the transaction that claims its message, so one acceptance sends at most
 * one message and no message goes out without one.
 */
export function createSubscribeConsents(p: Platform, templates: { expiryReminder?: string }) {
  const idempotency = createIdempotency(p);
  const list = (): { template_id: string; purpose: SubscribePurpose }[] => (templates.expiryReminder ? [{ template_id: templates.expiryReminder, purpose: 'expiry_reminder' }] : []);

  async function unusedCounts(customerId: string, db: DbOrTx = p.db): Promise<Record<string, number>> {
    const rows = await db
      .select({ templateId: mpSubscribeConsents.templateId, n: sql<number>`count(*)::int` })
      .from(mpSubscribeConsents)
      .where(and(eq(mpSubscribeConsents.customerId, customerId), isNull(mpSubscribeConsents.usedAt)))
      .groupBy(mpSubscribeConsents.templateId);
    const out: Record<string, number> = Object.fromEntries(list().map((t) => [t.template_id, 0]));
    for (const r of rows) out[r.templateId] = Number(r.n);
    return out;
  }

  /** Records the templates the user accepted just now (one consent each); unknown template ids are refused before anything is written. */
  async function record(customerId: string, templateIds: string[], idem: { key: string }): Promise<{ statusCode: 200 | 201; unused: Record<string, number> }> {
    const known = new Set(list().map((t) => t.template_id));
    const unknown = templateIds.filter((id) => !known.has(id));
    if (unknown.length) throw new AppError('UNPROCESSABLE', `template_ids: not a template of this app: ${unknown.join(', ')}`, [{ field: 'template_ids', message: 'unknown template (GET /mp/v1/subscriptions/templates)' }]);
    return p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, `customer:${customerId}:subscriptions`, idem.key, { template_ids: [...templateIds].sort() }, { statusCode: 201, body: null });
      if (prior) return { statusCode: 200 as const, unused: await unusedCounts(customerId, tx) };
      const now = p.clock.now();
      const counts = await unusedCounts(customerId, tx);
      const rows = [...new Set(templateIds)].filter((id) => (counts[id] ?? 0) < MAX_UNUSED_PER_TEMPLATE).map((templateId) => ({ id: newId('msc', now), customerId, templateId, createdAt: now }));
      if (rows.length) await tx.insert(mpSubscribeConsents).values(rows);
      return { statusCode: 201 as const, unused: await unusedCounts(customerId, tx) };
    });
  }

  /** Whether the customer has a consent left for the template (a hint: take() decides). */
  async function has(customerId: string, templateId: string): Promise<boolean> {
    const [row] = await p.db.select({ id: mpSubscribeConsents.id }).from(mpSubscribeConsents).where(and(eq(mpSubscribeConsents.customerId, customerId), eq(mpSubscribeConsents.templateId, templateId), isNull(mpSubscribeConsents.usedAt))).limit(1);
    return Boolean(row);
  }

  /**
   * Uses one consent in the caller's transaction (oldest first); false when none is left. Racing senders each lock a
   * different row or none (skip locked), so two messages never share one consent.
   */
  async function take(tx: DbOrTx, customerId: string, templateId: string, usedFor: string): Promise<boolean> {
    const rows = await queryRows(
      tx,
      `update mp_subscribe_consents set used_at = $1::timestamptz, used_for = $2
        where id = (select id from mp_subscribe_consents
                     where customer_id = $3 and template_id = $4 and used_at is null
                     order by id limit 1 for update skip locked)
       returning id`,
      [p.clock.now().toISOString(), usedFor, customerId, templateId],
    );
    return rows.length > 0;
  }

  return { templates: list, record, unusedCounts, has, take };
}

export type SubscribeConsents = ReturnType<typeof createSubscribeConsents>;
