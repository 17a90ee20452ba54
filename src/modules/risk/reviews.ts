import { and, desc, eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import { riskDecisions, riskReviews } from './schema.js';

export type ReviewSubject = 'order' | 'withdrawal';
export const reviewSubjects: readonly ReviewSubject[] = ['order', 'withdrawal'];
export type ReviewStatus = 'open' | 'approved' | 'rejected';
export const reviewStatuses: readonly ReviewStatus[] = ['open', 'approved', 'rejected'];

export interface ReviewActor {
  id: string;
  ip?: string;
}

/**
 * What the module owning a held subject does when a person decides. Both run
 * in the reviewer's transaction, so the subject's change, the review row, the
 * decision's label and the audit entry commit together (or not at all: an
 * approval that cannot go through, e.g. the buyer's balance no longer covers
 * the order, leaves the review open).
 */
export interface ReviewHandler {
  release(tx: Tx, subjectId: string, actor: ReviewActor): Promise<void>;
  reject(tx: Tx, subjectId: string, reason: string, actor: ReviewActor): Promise<void>;
}

export interface ReviewView {
  id: string;
  subject_type: string;
  subject_id: string;
  decision_id: string;
  status: string;
  reason: string | null;
  decided_by: string | null;
  decided_at: string | null;
  created_at: string;
}

const view = (r: typeof riskReviews.$inferSelect): ReviewView => ({
  id: r.id,
  subject_type: r.subjectType,
  subject_id: r.subjectId,
  decision_id: r.decisionId,
  status: r.status,
  reason: r.reason,
  decided_by: r.decidedBy,
  decided_at: r.decidedAt?.toISOString() ?? null,
  created_at: r.createdAt.toISOString(),
});

/**
 * The review queue: orders and withdrawals the gate answered `review` for.
 * Risk never imports the owning modules: they register a handler here at
 * wiring time (services.ts), and a decision calls back through it.
 */
export function createRiskReviews(p: Platform, deps: { audit: AuditService; flushDecisions: () => Promise<void> }) {
  const handlers = new Map<ReviewSubject, ReviewHandler>();

  function register(subject: ReviewSubject, handler: ReviewHandler): void {
    handlers.set(subject, handler);
  }

  /** Opens a review in the caller's transaction (the one that holds the subject). */
  async function open(tx: Tx, r: { subjectType: ReviewSubject; subjectId: string; decisionId: string }): Promise<string> {
    const now = p.clock.now();
    const id = newId('rrv', now);
    await tx.insert(riskReviews).values({ id, subjectType: r.subjectType, subjectId: r.subjectId, decisionId: r.decisionId, status: 'open', createdAt: now });
    return id;
  }

  async function forSubject(subjectType: ReviewSubject, subjectId: string): Promise<ReviewView | null> {
    const [row] = await p.db.select().from(riskReviews).where(and(eq(riskReviews.subjectType, subjectType), eq(riskReviews.subjectId, subjectId)));
    return row ? view(row) : null;
  }

  async function get(id: string): Promise<ReviewView> {
    const [row] = await p.db.select().from(riskReviews).where(eq(riskReviews.id, id));
    if (!row) throw notFound('risk review', id);
    return view(row);
  }

  async function list(q: { limit: number; cursor?: string; status?: ReviewStatus; subjectType?: ReviewSubject }): Promise<PageResult<ReviewView>> {
    const rows = await p.db
      .select()
      .from(riskReviews)
      .where(pageFilter(riskReviews.id, q.cursor, q.status ? eq(riskReviews.status, q.status) : undefined, q.subjectType ? eq(riskReviews.subjectType, q.subjectType) : undefined))
      .orderBy(desc(riskReviews.id))
      .limit(q.limit + 1);
    return toPage(rows.map(view), q.limit);
  }

  /** Approve (the subject goes on; the decision is labelled legit) or reject (the owner undoes it; labelled fraud). Decided once: a second decision is 409. */
  async function decide(id: string, outcome: 'approved' | 'rejected', reason: string, actor: ReviewActor): Promise<ReviewView> {
    // The decision row may still sit in the write buffer; it must exist to be labelled.
    await deps.flushDecisions();
    return p.db.transaction(async (tx) => {
      const [row] = await tx.select().from(riskReviews).where(eq(riskReviews.id, id)).for('update');
      if (!row) throw notFound('risk review', id);
      if (row.status !== 'open') throw new AppError('CONFLICT', `risk review ${id} was already ${row.status}`, { status: row.status });
      const handler = handlers.get(row.subjectType as ReviewSubject);
      if (!handler) throw new AppError('SERVICE_UNAVAILABLE', `no handler for held ${row.subjectType}s is registered`);
      if (outcome === 'approved') await handler.release(tx, row.subjectId, actor);
      else await handler.reject(tx, row.subjectId, reason, actor);
      const now = p.clock.now();
      const [updated] = await tx.update(riskReviews).set({ status: outcome, reason, decidedBy: actor.id, decidedAt: now }).where(eq(riskReviews.id, id)).returning();
      const label = outcome === 'approved' ? 'legit' : 'fraud';
      const labelled = await tx.update(riskDecisions).set({ label, labelledBy: actor.id, labelledAt: now }).where(eq(riskDecisions.id, row.decisionId)).returning({ id: riskDecisions.id });
      if (!labelled.length) p.logger.warn({ review_id: id, decision_id: row.decisionId }, 'risk review decided before its decision was written; label it by hand');
      await deps.audit.record(
        { actorType: 'staff', actorId: actor.id, action: `risk.review_${outcome}`, targetType: row.subjectType, targetId: row.subjectId, ip: actor.ip ?? null, details: { review_id: id, decision_id: row.decisionId, label, reason } },
        tx,
      );
      return view(updated!);
    });
  }

  return {
    register,
    open,
    forSubject,
    get,
    list,
    approve: (id: string, reason: string, actor: ReviewActor) => decide(id, 'approved', reason, actor),
    reject: (id: string, reason: string, actor: ReviewActor) => decide(id, 'rejected', reason, actor),
  };
}

export type RiskReviews = ReturnType<typeof createRiskReviews>;
