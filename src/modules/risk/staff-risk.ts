import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Platform } from '../../platform.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { AlertService } from '../alerts/service.js';
import type { AuthService } from '../auth/service.js';
import { riskStaffBlocks } from './schema.js';

/**
 * Staff risk: how many codes each staff member reveals (per hour) and exports
 * (per day), in sliding windows kept in the key-value store (Redis with
 * REDIS_URL, memory otherwise). Past the alert threshold an alert is raised
 * (once per window; it also goes to the admin chat); past `blockMultiplier`
 * times the threshold the staff member is blocked from revealing and
 * exporting, a persisted block that only an owner lifts.
 *
 * The sliding window is six buckets (10 minutes for the hour, 4 hours for the
 * day) summed, so it slides in steps of a sixth of the window.
 */
export type StaffRiskKind = 'reveal' | 'export';

export interface StaffRiskOptions {
  revealAlertPerHour: number;
  exportAlertCodesPerDay: number;
  blockMultiplier: number;
}

/** What the vault asks before and while a staff member sees clear codes. */
export interface StaffGuard {
  /** Refuses (403 STAFF_RISK_BLOCKED) a blocked staff member. */
  assertAllowed(staffId: string): Promise<void>;
  /** Counts `codes` about to be shown; alerts past the threshold; blocks and refuses past the block threshold. */
  consume(staffId: string, kind: StaffRiskKind, codes: number): Promise<void>;
}

const BUCKETS = 6;
const HOUR_MS = 3_600_000;
const windows: Record<StaffRiskKind, { windowMs: number; alertKind: 'staff.unusual_reveals' | 'staff.unusual_exports'; label: string }> = {
  reveal: { windowMs: HOUR_MS, alertKind: 'staff.unusual_reveals', label: 'codes revealed in the last hour' },
  export: { windowMs: 24 * HOUR_MS, alertKind: 'staff.unusual_exports', label: 'codes exported in the last 24 hours' },
};

export interface StaffRiskView {
  staff_id: string;
  email: string;
  name: string;
  role: string;
  disabled: boolean;
  revealed_1h: number;
  exported_24h: number;
  blocked: boolean;
  block: { id: string; kind: string; count: number; threshold: number; blocked_at: string } | null;
}

export function createStaffRiskService(p: Platform, deps: { audit: AuditService; alerts: AlertService; auth: Pick<AuthService, 'listStaff' | 'getStaff'> }, o: StaffRiskOptions) {
  const limiters: Record<StaffRiskKind, RateLimiterAbstract> = {
    reveal: p.kv.rateLimiter({ keyPrefix: 'staffrisk:reveal', points: 2 ** 31 - 1, durationSeconds: Math.ceil((windows.reveal.windowMs + windows.reveal.windowMs / BUCKETS) / 1000) }),
    export: p.kv.rateLimiter({ keyPrefix: 'staffrisk:export', points: 2 ** 31 - 1, durationSeconds: Math.ceil((windows.export.windowMs + windows.export.windowMs / BUCKETS) / 1000) }),
  };
  const alertAt = (kind: StaffRiskKind) => (kind === 'reveal' ? o.revealAlertPerHour : o.exportAlertCodesPerDay);
  const blockAt = (kind: StaffRiskKind) => alertAt(kind) * o.blockMultiplier;
  const bucketOf = (kind: StaffRiskKind, now: number) => Math.floor(now / (windows[kind].windowMs / BUCKETS));
  const keys = (kind: StaffRiskKind, staffId: string, now: number) => {
    const b = bucketOf(kind, now);
    return Array.from({ length: BUCKETS }, (_, i) => `${staffId}:${b - i}`);
  };
  const alertedKey = (kind: StaffRiskKind, staffId: string) => `staffrisk:alerted:${kind}:${staffId}`;

  /** Codes of this kind in the staff member's current window. */
  async function count(staffId: string, kind: StaffRiskKind): Promise<number> {
    const got = await Promise.all(keys(kind, staffId, p.clock.now().getTime()).map((k) => limiters[kind].get(k)));
    return got.reduce((n, r) => n + (r?.consumedPoints ?? 0), 0);
  }

  async function openBlock(staffId: string) {
    const [row] = await p.db.select().from(riskStaffBlocks).where(and(eq(riskStaffBlocks.staffId, staffId), isNull(riskStaffBlocks.liftedAt)));
    return row ?? null;
  }

  const blockedError = (b: typeof riskStaffBlocks.$inferSelect) =>
    new AppError('STAFF_RISK_BLOCKED', 'revealing and exporting codes is blocked for this staff account (unusually many codes); an owner must lift the block', { kind: b.kind, blocked_at: b.blockedAt.toISOString() });

  async function assertAllowed(staffId: string): Promise<void> {
    const b = await openBlock(staffId);
    if (b) throw blockedError(b);
  }

  async function block(staffId: string, kind: StaffRiskKind, n: number) {
    const now = p.clock.now();
    const row = { id: newId('ssb', now), staffId, kind, count: n, threshold: blockAt(kind), blockedAt: now };
    const inserted = await p.db.transaction(async (tx) => {
      const [ins] = await tx.insert(riskStaffBlocks).values(row).onConflictDoNothing().returning();
      if (!ins) return null;
      await deps.audit.record({ actorType: 'system', actorId: null, action: 'risk.staff_blocked', targetType: 'staff', targetId: staffId, ip: null, details: { kind, count: n, threshold: row.threshold } }, tx);
      await deps.alerts.raise({ kind: windows[kind].alertKind, subjectType: 'staff', subjectId: staffId, severity: 'critical', message: `Staff ${staffId} blocked from revealing and exporting codes: ${n} ${windows[kind].label} would pass the block threshold ${row.threshold}`, details: { kind, count: n, threshold: row.threshold, blocked: true }, notify: true }, tx);
      return ins;
    });
    return inserted ?? (await openBlock(staffId))!;
  }

  async function consume(staffId: string, kind: StaffRiskKind, codes: number): Promise<void> {
    await assertAllowed(staffId);
    const now = p.clock.now().getTime();
    const after = (await count(staffId, kind)) + codes;
    if (after > blockAt(kind)) throw blockedError(await block(staffId, kind, after));
    await limiters[kind].consume(keys(kind, staffId, now)[0]!, codes);
    if (after > alertAt(kind) && (await p.kv.setIfAbsent(alertedKey(kind, staffId), String(now), windows[kind].windowMs))) {
      await deps.alerts.raise({ kind: windows[kind].alertKind, subjectType: 'staff', subjectId: staffId, severity: 'warning', message: `Staff ${staffId}: ${after} ${windows[kind].label} (alert threshold ${alertAt(kind)}, blocked above ${blockAt(kind)})`, details: { kind, count: after, threshold: alertAt(kind), block_threshold: blockAt(kind) }, notify: true });
    }
  }

  /** Lifts the block; the staff member's window counts start again from zero and their staff-risk alerts are cleared. */
  async function unblock(staffId: string, reason: string, actor: { id: string; ip?: string }) {
    if (staffId === actor.id) throw new AppError('FORBIDDEN', 'another owner must lift a block on your own account');
    await deps.auth.getStaff(staffId);
    const lifted = await p.db.transaction(async (tx) => {
      const [row] = await tx
        .update(riskStaffBlocks)
        .set({ liftedAt: p.clock.now(), liftedBy: actor.id, liftReason: reason })
        .where(and(eq(riskStaffBlocks.staffId, staffId), isNull(riskStaffBlocks.liftedAt)))
        .returning();
      if (!row) throw new AppError('CONFLICT', `staff ${staffId} is not blocked`);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'risk.staff_unblocked', targetType: 'staff', targetId: staffId, ip: actor.ip ?? null, details: { block_id: row.id, kind: row.kind, count: row.count, reason } }, tx);
      for (const k of ['reveal', 'export'] as const) await deps.alerts.clear(windows[k].alertKind, staffId, tx);
      return row;
    });
    const now = p.clock.now().getTime();
    for (const k of ['reveal', 'export'] as const) {
      await Promise.all(keys(k, staffId, now).map((key) => limiters[k].delete(key)));
      await p.kv.del(alertedKey(k, staffId));
    }
    return { staff_id: staffId, block_id: lifted.id, lifted_at: lifted.liftedAt!.toISOString(), lifted_by: actor.id };
  }

  async function list(q: { limit: number; cursor?: string }): Promise<PageResult<StaffRiskView>> {
    const page = await deps.auth.listStaff(q);
    const ids = page.data.map((s) => s.id);
    const blocks = ids.length ? await p.db.select().from(riskStaffBlocks).where(and(inArray(riskStaffBlocks.staffId, ids), isNull(riskStaffBlocks.liftedAt))) : [];
    const byStaff = new Map(blocks.map((b) => [b.staffId, b]));
    const data: StaffRiskView[] = [];
    for (const s of page.data) {
      const b = byStaff.get(s.id);
      data.push({
        staff_id: s.id,
        email: s.email,
        name: s.name,
        role: s.role,
        disabled: s.disabled,
        revealed_1h: await count(s.id, 'reveal'),
        exported_24h: await count(s.id, 'export'),
        blocked: Boolean(b),
        block: b ? { id: b.id, kind: b.kind, count: b.count, threshold: b.threshold, blocked_at: b.blockedAt.toISOString() } : null,
      });
    }
    return { ...page, data };
  }

  const guard: StaffGuard = { assertAllowed, consume };
  return { guard, assertAllowed, consume, count, unblock, list, thresholds: { reveal: { alert: alertAt('reveal'), block: blockAt('reveal') }, export: { alert: alertAt('export'), block: blockAt('export') } } };
}

export type StaffRiskService = ReturnType<typeof createStaffRiskService>;
