import { desc, eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import { campaigns, type CampaignKind } from './campaign-schema.js';

export interface CampaignView {
  id: string;
  name: string;
  kind: string;
  budget_fen: number | null;
  starts_at: string;
  ends_at: string | null;
  /** ended once ends_at has passed, whatever is stored */
  status: string;
  created_by: string | null;
  created_at: string;
}

export interface CampaignInput {
  name: string;
  kind: CampaignKind;
  budgetFen?: number | null;
  startsAt?: Date;
  endsAt?: Date | null;
}

/** Campaigns name what marketing objects belong to, for the ROI report; they hold no money themselves. */
export function createCampaignService(p: Platform, deps: { audit: AuditService }) {
  async function create(input: CampaignInput, actor: { id: string; ip?: string }): Promise<CampaignView> {
    const now = p.clock.now();
    const startsAt = input.startsAt ?? now;
    if (input.endsAt && input.endsAt <= startsAt) throw new AppError('VALIDATION_FAILED', 'ends_at: must be after starts_at', [{ field: 'ends_at', message: 'must be after starts_at' }]);
    const row = { id: newId('cmp', now), name: input.name, kind: input.kind, budgetFen: input.budgetFen ?? null, startsAt, endsAt: input.endsAt ?? null, status: 'active', createdBy: actor.id, createdAt: now };
    await p.db.transaction(async (tx) => {
      await tx.insert(campaigns).values(row);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'campaign.created', targetType: 'campaign', targetId: row.id, ip: actor.ip ?? null, details: { name: row.name, kind: row.kind, budget_fen: row.budgetFen } }, tx);
    });
    return toView(row, now);
  }

  async function get(id: string, db: DbOrTx = p.db): Promise<CampaignView> {
    const [row] = await db.select().from(campaigns).where(eq(campaigns.id, id));
    if (!row) throw notFound('campaign', id);
    return toView(row, p.clock.now());
  }

  /** A campaign id given by a caller must name a campaign (a typo would silently drop the object from the ROI report). */
  async function assertExists(id: string | null | undefined, db: DbOrTx = p.db, field = 'campaign_id'): Promise<void> {
    if (!id) return;
    const [row] = await db.select({ id: campaigns.id }).from(campaigns).where(eq(campaigns.id, id));
    if (!row) throw new AppError('VALIDATION_FAILED', `${field}: no campaign ${id}`, [{ field, message: 'no such campaign' }]);
  }

  async function list(q: { limit: number; cursor?: string; kind?: CampaignKind }): Promise<PageResult<CampaignView>> {
    const rows = await p.db
      .select()
      .from(campaigns)
      .where(pageFilter(campaigns.id, q.cursor, q.kind ? eq(campaigns.kind, q.kind) : undefined))
      .orderBy(desc(campaigns.id))
      .limit(q.limit + 1);
    const now = p.clock.now();
    return toPage(rows.map((r) => toView(r, now)), q.limit);
  }

  return { create, get, list, assertExists };
}

function toView(r: typeof campaigns.$inferSelect, now: Date): CampaignView {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    budget_fen: r.budgetFen,
    starts_at: r.startsAt.toISOString(),
    ends_at: r.endsAt?.toISOString() ?? null,
    status: r.endsAt && r.endsAt <= now ? 'ended' : r.status,
    created_by: r.createdBy,
    created_at: r.createdAt.toISOString(),
  };
}

export type CampaignService = ReturnType<typeof createCampaignService>;
