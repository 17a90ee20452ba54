import { and, asc, desc, eq, gt, lt, type SQL } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import type { Platform } from '../../platform.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { invalidField } from '../../lib/errors.js';
import { auditHead, auditLog } from './schema.js';
import { ChainVerifier, GENESIS_HASH, auditHash, type ChainBreak } from './chain.js';

// Serialises writers of the chain: each row needs the hash of the one before.
const AUDIT_CHAIN_LOCK = 7_240_002;

export interface AuditEntry {
  actorType: 'staff' | 'system' | 'api_key' | 'customer' | 'agent';
  actorId?: string | null;
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  ip?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditView {
  id: string;
  seq: number;
  at: string;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export type AuditVerification = { ok: true; rows: number } | { ok: false; rows: number; firstBroken: ChainBreak };

export function createAuditService(p: Platform) {
  /**
   * Records a privileged action. Pass the caller's transaction so the audit
   * row commits or rolls back together with the action itself.
   */
  async function record(entry: AuditEntry, tx?: DbOrTx): Promise<number> {
    const write = async (t: DbOrTx) => {
      await t.execute(sql`select pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`);
      const [head] = await t.select().from(auditHead).where(eq(auditHead.id, 1));
      const seq = (head?.lastSeq ?? 0) + 1;
      const row = {
        seq,
        at: p.clock.now(),
        actorType: entry.actorType,
        actorId: entry.actorId ?? null,
        action: entry.action,
        targetType: entry.targetType ?? null,
        targetId: entry.targetId ?? null,
        ip: entry.ip ?? null,
        details: JSON.parse(JSON.stringify(entry.details ?? {})) as Record<string, unknown>,
        prevHash: head?.lastHash ?? GENESIS_HASH,
      };
      const hash = auditHash(row);
      await t.insert(auditLog).values({ ...row, hash });
      await t
        .insert(auditHead)
        .values({ id: 1, lastSeq: seq, lastHash: hash })
        .onConflictDoUpdate({ target: auditHead.id, set: { lastSeq: seq, lastHash: hash } });
      return seq;
    };
    return tx ? write(tx) : p.db.transaction(write);
  }

  async function list(q: { limit: number; cursor?: string; action?: string; actorId?: string }): Promise<PageResult<AuditView>> {
    const where: SQL[] = [];
    if (q.cursor) {
      // The pattern allows 26 digits; a sequence beyond 2^53 is no cursor of ours (and would reach SQL as 1e+25).
      const seq = Number(q.cursor.slice(4));
      if (!Number.isSafeInteger(seq)) throw invalidField('cursor', 'is not a cursor of this list');
      where.push(lt(auditLog.seq, seq));
    }
    if (q.action) where.push(eq(auditLog.action, q.action));
    if (q.actorId) where.push(eq(auditLog.actorId, q.actorId));
    const rows = await p.db
      .select()
      .from(auditLog)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(auditLog.seq))
      .limit(q.limit + 1);
    return toPage(rows.map(toView), q.limit);
  }

  /** Walks the whole chain in batches; reports the first broken link. */
  async function verify(): Promise<AuditVerification> {
    const verifier = new ChainVerifier();
    let after = 0;
    for (;;) {
      const batch = await p.db.select().from(auditLog).where(gt(auditLog.seq, after)).orderBy(asc(auditLog.seq)).limit(2000);
      for (const row of batch) {
        const broken = verifier.next(row);
        if (broken) return { ok: false, rows: verifier.checked, firstBroken: broken };
      }
      if (batch.length < 2000) break;
      after = batch.at(-1)!.seq;
    }
    const [head] = await p.db.select().from(auditHead).where(eq(auditHead.id, 1));
    const broken = verifier.finish(head ?? null);
    return broken ? { ok: false, rows: verifier.checked, firstBroken: broken } : { ok: true, rows: verifier.checked };
  }

  return { record, list, verify };
}

// Audit rows are numbered, not ULID-keyed; the public id wraps the sequence number.
export const auditId = (seq: number) => `aud_${String(seq).padStart(26, '0')}`;

function toView(r: typeof auditLog.$inferSelect): AuditView {
  return {
    id: auditId(r.seq),
    seq: r.seq,
    at: r.at.toISOString(),
    actor_type: r.actorType,
    actor_id: r.actorId,
    action: r.action,
    target_type: r.targetType,
    target_id: r.targetId,
    ip: r.ip,
    details: r.details,
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
