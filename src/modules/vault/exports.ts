import { and, desc, eq } from 'drizzle-orm';
import { pageFilter } from '../../db/paging.js';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { hmacSha256Hex } from '../../lib/crypto.js';
import { toPage } from '../../lib/pagination.js';
import { queryRows } from '../../db/raw.js';
import type { AuditService } from '../audit/service.js';
import type { PlainCode } from './data-keys.js';
import { codeExports } from './schema.js';

interface Actor {
  id: string;
  ip?: string;
}

export const MAX_EXPORT_CODES = 50_000;

/** Staff risk (the risk module) as the vault sees it: may this staff member see clear codes, and counting the ones they see. */
export interface StaffCodeGuard {
  assertAllowed(staffId: string): Promise<void>;
  consume(staffId: string, kind: 'reveal' | 'export', codes: number): Promise<void>;
}

/**
 * Bulk export of clear codes, the most dangerous thing the vault does: one
 * staff member asks (with a reason), a different one approves, the asker
 * downloads once. The file carries a watermark naming the asker and the
 * export, on every row, so a leaked file says where it came from.
 */
export function createExports(p: Platform, deps: { audit: AuditService; openCodes: (ids: string[]) => Promise<Map<string, PlainCode>>; staffGuard?: StaffCodeGuard }) {
  async function request(input: { skuId: string; batchId?: string; state?: string; maxCodes: number; reason: string }, actor: Actor) {
    if (input.maxCodes < 1 || input.maxCodes > MAX_EXPORT_CODES) throw new AppError('VALIDATION_FAILED', `max_codes: must be 1-${MAX_EXPORT_CODES}`, [{ field: 'max_codes', message: `must be 1-${MAX_EXPORT_CODES}` }]);
    await deps.staffGuard?.assertAllowed(actor.id);
    const id = newId('exp', p.clock.now());
    return p.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(codeExports)
        .values({ id, skuId: input.skuId, batchId: input.batchId ?? null, state: input.state ?? 'available', maxCodes: input.maxCodes, reason: input.reason, status: 'pending', requestedBy: actor.id, createdAt: p.clock.now() })
        .returning();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'vault.export_requested', targetType: 'export', targetId: id, ip: actor.ip, details: { sku_id: input.skuId, max_codes: input.maxCodes, reason: input.reason } }, tx);
      return toView(row!);
    });
  }

  async function decide(id: string, decision: 'approve' | 'reject', actor: Actor, reason?: string) {
    return p.db.transaction(async (tx) => {
      const [row] = await tx.select().from(codeExports).where(eq(codeExports.id, id)).for('update');
      if (!row) throw notFound('export', id);
      if (row.status !== 'pending') throw new AppError('CONFLICT', `export is ${row.status}, not pending`);
      if (row.requestedBy === actor.id) throw new AppError('FORBIDDEN', 'a second person must approve an export: you asked for this one');
      const [updated] = await tx
        .update(codeExports)
        .set({ status: decision === 'approve' ? 'approved' : 'rejected', approvedBy: actor.id, rejectedReason: reason ?? null, decidedAt: p.clock.now() })
        .where(eq(codeExports.id, id))
        .returning();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: `vault.export_${decision === 'approve' ? 'approved' : 'rejected'}`, targetType: 'export', targetId: id, ip: actor.ip, details: { reason: reason ?? null } }, tx);
      return toView(updated!);
    });
  }

  /** The clear file, once, to the person who asked. */
  async function download(id: string, actor: Actor): Promise<{ filename: string; csv: string; count: number }> {
    const [row] = await p.db.select().from(codeExports).where(eq(codeExports.id, id));
    if (!row) throw notFound('export', id);
    if (row.requestedBy !== actor.id) throw new AppError('FORBIDDEN', 'only the person who asked for an export may download it');
    // Counted at its size (the most it can hold) before anything is opened; a blocked staff member gets nothing.
    if (row.status === 'approved') await deps.staffGuard?.consume(actor.id, 'export', row.maxCodes);
    // Claim the download first: a second click, or a parallel one, gets nothing.
    const [claimed] = await p.db
      .update(codeExports)
      .set({ status: 'downloaded', downloadedAt: p.clock.now() })
      .where(and(eq(codeExports.id, id), eq(codeExports.status, 'approved')))
      .returning();
    if (!claimed) throw new AppError('CONFLICT', `export is ${row.status}; it must be approved, and downloads only once`);
    const codeRows = await queryRows<{ id: string; expires_at: string | null }>(
      p.db,
      `select id, expires_at::text from codes where sku_id = $1 and state = $2 ${row.batchId ? 'and batch_id = $4' : ''} order by id limit $3`,
      row.batchId ? [row.skuId, row.state, row.maxCodes, row.batchId] : [row.skuId, row.state, row.maxCodes],
    );
    const watermarkBase = `${row.id}:${row.requestedBy}`;
    const lines = [`# kaquan export ${row.id} for ${row.requestedBy}, approved by ${row.approvedBy}, at ${p.clock.now().toISOString()}; confidential`, 'code_id,card_number,secret,expires_at,watermark'];
    for (let i = 0; i < codeRows.length; i += 1000) {
      const slice = codeRows.slice(i, i + 1000);
      const plain = await deps.openCodes(slice.map((c) => c.id));
      for (const c of slice) {
        const code = plain.get(c.id)!;
        // A per-row mark tied to the export and the asker; verifiable with the HMAC key.
        const mark = `${row.requestedBy}.${hmacSha256Hex(p.hmacKey, `${watermarkBase}:${c.id}`).slice(0, 12)}`;
        lines.push([c.id, code.cardNumber ?? '', code.secret, c.expires_at ?? '', mark].map(csvCell).join(','));
      }
    }
    await p.db.update(codeExports).set({ exportedCount: codeRows.length }).where(eq(codeExports.id, id));
    await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'vault.export_downloaded', targetType: 'export', targetId: id, ip: actor.ip, details: { count: codeRows.length, sku_id: row.skuId } });
    return { filename: `kaquan-export-${row.id}.csv`, csv: `${lines.join('\n')}\n`, count: codeRows.length };
  }

  async function list(q: { limit: number; cursor?: string; status?: string }) {
    const rows = await p.db.select().from(codeExports).where(pageFilter(codeExports.id, q.cursor, q.status ? eq(codeExports.status, q.status) : undefined)).orderBy(desc(codeExports.id)).limit(q.limit + 1);
    return toPage(rows.map(toView), q.limit);
  }

  return { request, approve: (id: string, actor: Actor) => decide(id, 'approve', actor), reject: (id: string, actor: Actor, reason: string) => decide(id, 'reject', actor, reason), download, list };
}

/** CSV cell, with formula injection neutralised (a cell starting with = + - @ opens as text). */
export function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function toView(r: typeof codeExports.$inferSelect) {
  return {
    id: r.id,
    sku_id: r.skuId,
    batch_id: r.batchId,
    state: r.state,
    max_codes: r.maxCodes,
    reason: r.reason,
    status: r.status,
    requested_by: r.requestedBy,
    approved_by: r.approvedBy,
    rejected_reason: r.rejectedReason,
    created_at: r.createdAt.toISOString(),
    decided_at: r.decidedAt?.toISOString() ?? null,
    downloaded_at: r.downloadedAt?.toISOString() ?? null,
    exported_count: r.exportedCount,
  };
}
