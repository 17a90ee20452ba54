import { and, desc, eq, isNull } from 'drizzle-orm';
import { pageFilter } from '../../db/paging.js';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { alerts } from './schema.js';
import { createAdminChat } from './admin-chat.js';

export type AlertKind = 'low_stock' | 'codes_expiring' | 'price_change' | 'margin_guard' | 'supplier_down' | 'supplier_balance_low' | 'staff_risk' | 'risk' | 'agent.self_referral' | 'staff.unusual_reveals' | 'staff.unusual_exports';
export type Severity = 'info' | 'warning' | 'critical';

export interface AlertView {
  id: string;
  kind: string;
  subject_type: string;
  subject_id: string;
  severity: string;
  message: string;
  details: Record<string, unknown>;
  opened_at: string;
  updated_at: string;
  cleared_at: string | null;
}

/**
 * Raise and clear operational alerts. `raise` is idempotent per kind and
 * subject while the alert is open (it refreshes the message), so a job that
 * checks every few minutes does not pile up duplicates.
 */
export function createAlertService(p: Platform, chat = createAdminChat(p, p.config.adminAlertChat)) {
  /** An alert that opens goes to the admin chat too (when configured); `notify` sends a refreshed one again (once-per-window callers). */
  async function raise(a: { kind: AlertKind; subjectType: string; subjectId: string; severity: Severity; message: string; details?: Record<string, unknown>; notify?: boolean }, db: DbOrTx = p.db): Promise<{ id: string; opened: boolean }> {
    const toChat = (alertId: string) => chat.enqueue({ alertId, kind: a.kind, severity: a.severity, subjectType: a.subjectType, subjectId: a.subjectId, message: a.message }, db);
    const now = p.clock.now();
    const [updated] = await db
      .update(alerts)
      .set({ severity: a.severity, message: a.message, details: a.details ?? {}, updatedAt: now })
      .where(and(eq(alerts.kind, a.kind), eq(alerts.subjectId, a.subjectId), isNull(alerts.clearedAt)))
      .returning({ id: alerts.id });
    if (updated) {
      if (a.notify) await toChat(updated.id);
      return { id: updated.id, opened: false };
    }
    const id = newId('alr', now);
    const inserted = await db
      .insert(alerts)
      .values({ id, kind: a.kind, subjectType: a.subjectType, subjectId: a.subjectId, severity: a.severity, message: a.message, details: a.details ?? {}, openedAt: now, updatedAt: now })
      .onConflictDoNothing()
      .returning({ id: alerts.id });
    if (inserted.length) {
      p.logger.warn({ alert: a.kind, subject: a.subjectId, severity: a.severity }, a.message);
      await toChat(id);
      return { id, opened: true };
    }
    // Raised concurrently by somebody else: theirs stands.
    return { id: (await openAlert(a.kind, a.subjectId, db))!.id, opened: false };
  }

  async function clear(kind: AlertKind, subjectId: string, db: DbOrTx = p.db): Promise<boolean> {
    const rows = await db
      .update(alerts)
      .set({ clearedAt: p.clock.now(), updatedAt: p.clock.now() })
      .where(and(eq(alerts.kind, kind), eq(alerts.subjectId, subjectId), isNull(alerts.clearedAt)))
      .returning({ id: alerts.id });
    return rows.length > 0;
  }

  async function openAlert(kind: AlertKind, subjectId: string, db: DbOrTx = p.db) {
    const [row] = await db.select().from(alerts).where(and(eq(alerts.kind, kind), eq(alerts.subjectId, subjectId), isNull(alerts.clearedAt)));
    return row ? toView(row) : null;
  }

  async function list(q: { limit: number; cursor?: string; open?: boolean; kind?: string }): Promise<PageResult<AlertView>> {
    const where = pageFilter(alerts.id, q.cursor, q.open ? isNull(alerts.clearedAt) : undefined, q.kind ? eq(alerts.kind, q.kind) : undefined);
    const rows = await p.db.select().from(alerts).where(where).orderBy(desc(alerts.id)).limit(q.limit + 1);
    return toPage(rows.map(toView), q.limit);
  }

  return { raise, clear, openAlert, list, adminChat: chat };
}

function toView(r: typeof alerts.$inferSelect): AlertView {
  return {
    id: r.id,
    kind: r.kind,
    subject_type: r.subjectType,
    subject_id: r.subjectId,
    severity: r.severity,
    message: r.message,
    details: r.details,
    opened_at: r.openedAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    cleared_at: r.clearedAt?.toISOString() ?? null,
  };
}

export type AlertService = ReturnType<typeof createAlertService>;
