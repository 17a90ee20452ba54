import { and, desc, eq, sql } from 'drizzle-orm';
import Papa from 'papaparse';
import type { Platform } from '../../platform.js';
import type { Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import { createDataKeys } from '../vault/data-keys.js';
import { createIdempotency } from '../orders/idempotency.js';
import { assertPattern, cdkHmac, displayCdk, generateCodes, maskCdk } from './cdk-codes.js';
import { assertRewardAvailable, type RewardDeps } from './cdk-rewards.js';
import { cdkBatches, cdkRedemptions, cdks, type CdkReward, type StoredPattern } from './cdk-schema.js';
import { createCdkRedemption, redemptionView, type CdkRiskGate, type LockoutSettings, type RedemptionView } from './cdk-redeem.js';

export interface StaffActor {
  id: string;
  ip?: string;
}

export interface BatchInput {
  name: string;
  campaignId?: string | null;
  reward: CdkReward;
  mode: 'single' | 'multi';
  /** multi-use: redemptions per code in total (each customer once); single-use is 1 */
  maxRedemptions?: number;
  count: number;
  pattern: StoredPattern;
  startsAt?: Date | null;
  expiresAt?: Date | null;
}

export const MAX_BATCH_CODES = 200_000;
/** Codes generated, sealed and written per statement. */
const CHUNK = 5_000;

type BatchRow = typeof cdkBatches.$inferSelect;

export interface CdkDeps extends RewardDeps {
  audit: AuditService;
  risk?: CdkRiskGate;
}

/**
 * Redemption codes (CDK): batches generated to a pattern, stored as a keyed
 * hash (lookup) and sealed with the batch's data key (clear export), exported
 * masked to marketing staff and in clear only with marketing:cdk-export
 * (audited), and redeemed atomically (cdk-redeem.ts).
 */
export function createCdkService(p: Platform, deps: CdkDeps, settings: Partial<LockoutSettings> = {}) {
  const keys = createDataKeys(p);
  const idempotency = createIdempotency(p);
  const redemption = createCdkRedemption(p, deps, settings);

  function checkInput(input: BatchInput): number {
    const r = input.reward;
    assertRewardAvailable(deps, r.kind, 'reward.kind');
    if (r.kind === 'product' && (!Number.isInteger(r.quantity) || r.quantity < 1 || r.quantity > 100)) throw field('reward.quantity', 'must be 1-100');
    if (r.kind === 'balance' && (!Number.isInteger(r.amount_fen) || r.amount_fen < 1 || r.amount_fen > 10_000_000)) throw field('reward.amount_fen', 'must be 1-10,000,000 fen');
    if (r.kind === 'points' && (!Number.isInteger(r.points) || r.points < 1)) throw field('reward.points', 'must be a positive whole number');
    if (!Number.isInteger(input.count) || input.count < 1 || input.count > MAX_BATCH_CODES) throw field('count', `must be 1-${MAX_BATCH_CODES}`);
    const max = input.mode === 'single' ? 1 : (input.maxRedemptions ?? 0);
    if (input.mode === 'single' && input.maxRedemptions !== undefined && input.maxRedemptions !== 1) throw field('max_redemptions', 'a single-use code is redeemed once');
    if (input.mode === 'multi' && (!Number.isInteger(max) || max < 2 || max > 10_000_000)) throw field('max_redemptions', 'a multi-use code needs 2-10,000,000 redemptions');
    if (input.startsAt && input.expiresAt && input.expiresAt <= input.startsAt) throw field('expires_at', 'must be after starts_at');
    if (input.expiresAt && input.expiresAt <= p.clock.now()) throw field('expires_at', 'must be in the future');
    assertPattern(input.pattern, input.count);
    return max;
  }

  /** A batch and all its codes, in one transaction (all or nothing); a retry with the same key answers the same batch. */
  async function createBatch(input: BatchInput, actor: StaffActor, idempotencyKey: string): Promise<{ statusCode: 200 | 201; batch: BatchView; generationMs: number }> {
    const maxRedemptions = checkInput(input);
    const started = performance.now();
    const id = newId('cdb', p.clock.now());
    const fingerprint = { ...input, startsAt: input.startsAt?.toISOString() ?? null, expiresAt: input.expiresAt?.toISOString() ?? null };
    const doneId = await p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, `staff:${actor.id}:cdk_batches`, idempotencyKey, fingerprint, { statusCode: 201, body: { batch_id: id } });
      if (prior) return { prior: true, id: (prior.body as { batch_id: string }).batch_id };
      const dataKey = keys.newBatchKey(id);
      const now = p.clock.now();
      await tx.insert(cdkBatches).values({
        id,
        name: input.name,
        campaignId: input.campaignId ?? null,
        reward: input.reward,
        mode: input.mode,
        maxRedemptions,
        count: input.count,
        pattern: { ...input.pattern, prefix: input.pattern.prefix?.toUpperCase() },
        startsAt: input.startsAt ?? null,
        expiresAt: input.expiresAt ?? null,
        status: 'active',
        dataKeySealed: dataKey.sealed,
        masterKeyId: dataKey.masterKeyId,
        createdBy: actor.id,
        createdAt: now,
      });
      await generateInto(tx, id, dataKey.key, input.pattern, input.count, maxRedemptions);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'marketing.cdk_batch_created', targetType: 'cdk_batch', targetId: id, ip: actor.ip, details: { name: input.name, count: input.count, mode: input.mode, reward_kind: input.reward.kind, campaign_id: input.campaignId ?? null } }, tx);
      return { prior: false, id };
    });
    return { statusCode: doneId.prior ? 200 : 201, batch: await getBatch(doneId.id), generationMs: Math.round(performance.now() - started) };
  }

  /**
   * Writes `count` fresh codes in chunks, one INSERT ... SELECT FROM unnest per
   * chunk; the next chunk is generated, hashed and sealed while the database
   * writes the previous one. A code that already exists anywhere (same keyed
   * hash) is skipped by the unique index and replaced by a new one, so the
   * batch ends with exactly `count` codes.
   */
  async function generateInto(tx: Tx, batchId: string, dataKey: Buffer, pattern: StoredPattern, count: number, maxRedemptions: number) {
    const at = p.clock.now();
    const prepare = (n: number) => {
      const c = { ids: [] as string[], hmacs: [] as string[], sealed: [] as string[], last4: [] as string[] };
      for (const code of generateCodes(pattern, n)) {
        const cid = newId('cdk', at);
        c.ids.push(cid);
        c.hmacs.push(cdkHmac(p.hmacKey, code));
        c.sealed.push(keys.seal(dataKey, cid, { secret: code }).toString('base64'));
        c.last4.push(code.slice(-4));
      }
      return c;
    };
    const write = (c: ReturnType<typeof prepare>) =>
      queryRows<{ id: string }>(
        tx,
        `insert into cdks (id, batch_id, code_hmac, sealed, last4, max_redemptions, redeemed_count, status, created_at)
         select u.id, $1, u.h, decode(u.s, 'base64'), u.l, $2, 0, 'active', $3::timestamptz
         from unnest($4::text[], $5::text[], $6::text[], $7::text[]) as u(id, h, s, l)
         on conflict (code_hmac) do nothing returning id`,
        [batchId, maxRedemptions, at.toISOString(), c.ids, c.hmacs, c.sealed, c.last4],
      ).then((rows) => rows.length);
    let written = 0;
    let inFlight = 0;
    let pending: Promise<number> | null = null;
    for (;;) {
      // Codes skipped as duplicates (of any batch) leave `written` short: they are planned again.
      const want = count - written - inFlight;
      const prepared = want > 0 ? prepare(Math.min(CHUNK, want)) : null;
      if (pending) {
        written += await pending;
        pending = null;
        inFlight = 0;
      }
      if (prepared) {
        pending = write(prepared);
        inFlight = prepared.ids.length;
      } else if (written >= count) break;
    }
  }

  async function batchRow(id: string): Promise<BatchRow> {
    const [row] = await p.db.select().from(cdkBatches).where(eq(cdkBatches.id, id));
    if (!row) throw notFound('CDK batch', id);
    return row;
  }

  async function getBatch(id: string): Promise<BatchView> {
    const row = await batchRow(id);
    const [stats] = await queryRows<{ codes: number; redeemed: number; voided: number }>(
      p.db,
      `select count(*)::int as codes, coalesce(sum(redeemed_count), 0)::int as redeemed, count(*) filter (where status = 'voided')::int as voided from cdks where batch_id = $1`,
      [id],
    );
    return batchView(row, stats ?? { codes: 0, redeemed: 0, voided: 0 });
  }

  async function listBatches(q: { limit: number; cursor?: string; campaignId?: string; status?: string }): Promise<PageResult<BatchView>> {
    const rows = await p.db
      .select()
      .from(cdkBatches)
      .where(pageFilter(cdkBatches.id, q.cursor, q.campaignId ? eq(cdkBatches.campaignId, q.campaignId) : undefined, q.status ? eq(cdkBatches.status, q.status) : undefined))
      .orderBy(desc(cdkBatches.id))
      .limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    const stats = page.data.length
      ? await queryRows<{ batch_id: string; codes: number; redeemed: number; voided: number }>(
          p.db,
          `select batch_id, count(*)::int as codes, coalesce(sum(redeemed_count), 0)::int as redeemed, count(*) filter (where status = 'voided')::int as voided from cdks where batch_id = any($1::text[]) group by batch_id`,
          [page.data.map((r) => r.id)],
        )
      : [];
    const byId = new Map(stats.map((s) => [s.batch_id, s]));
    return { ...page, data: page.data.map((r) => batchView(r, byId.get(r.id) ?? { codes: 0, redeemed: 0, voided: 0 })) };
  }

  /** Codes of a batch, masked (ABCD****WXYZ), newest first. */
  async function listCodes(batchId: string, q: { limit: number; cursor?: string }) {
    const batch = await batchRow(batchId);
    const rows = await p.db.select().from(cdks).where(pageFilter(cdks.id, q.cursor, eq(cdks.batchId, batchId))).orderBy(desc(cdks.id)).limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    return { ...page, data: page.data.map((c) => codeView(batch, c)) };
  }

  async function voidBatch(id: string, reason: string, actor: StaffActor): Promise<BatchView> {
    await p.db.transaction(async (tx) => {
      const [row] = await tx.update(cdkBatches).set({ status: 'voided', voidedAt: p.clock.now(), voidedBy: actor.id, voidReason: reason }).where(and(eq(cdkBatches.id, id), eq(cdkBatches.status, 'active'))).returning({ id: cdkBatches.id });
      if (!row) {
        await batchRow(id);
        throw new AppError('CONFLICT', `CDK batch ${id} is already voided`);
      }
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'marketing.cdk_batch_voided', targetType: 'cdk_batch', targetId: id, ip: actor.ip, details: { reason } }, tx);
    });
    return getBatch(id);
  }

  async function voidCode(batchId: string, cdkId: string, reason: string, actor: StaffActor) {
    const batch = await batchRow(batchId);
    const row = await p.db.transaction(async (tx) => {
      const [updated] = await tx.update(cdks).set({ status: 'voided', voidedAt: p.clock.now() }).where(and(eq(cdks.id, cdkId), eq(cdks.batchId, batchId), eq(cdks.status, 'active'))).returning();
      if (!updated) {
        const [exists] = await tx.select({ id: cdks.id }).from(cdks).where(and(eq(cdks.id, cdkId), eq(cdks.batchId, batchId)));
        throw exists ? new AppError('CONFLICT', `CDK ${cdkId} is already voided`) : notFound('CDK', cdkId);
      }
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'marketing.cdk_voided', targetType: 'cdk', targetId: cdkId, ip: actor.ip, details: { batch_id: batchId, reason } }, tx);
      return updated;
    });
    return codeView(batch, row);
  }

  /** The whole batch as CSV, masked: for anyone who may read marketing. */
  async function exportMasked(batchId: string): Promise<{ filename: string; csv: string; count: number }> {
    const batch = await batchRow(batchId);
    const rows = await p.db.select().from(cdks).where(eq(cdks.batchId, batchId)).orderBy(cdks.id);
    const data = rows.map((c) => [c.id, maskCdk(batch.pattern.prefix, c.last4), c.status, c.redeemedCount, c.maxRedemptions]);
    const csv = Papa.unparse({ fields: ['cdk_id', 'code', 'status', 'redeemed_count', 'max_redemptions'], data }, { escapeFormulae: true, newline: '\n' });
    return { filename: `kaquan-cdk-${batchId}-masked.csv`, csv: `${csv}\n`, count: rows.length };
  }

  /** The clear codes (marketing:cdk-export only): opened with the batch's data key, audited with the reason and count. */
  async function exportClear(batchId: string, reason: string, actor: StaffActor): Promise<{ filename: string; csv: string; count: number }> {
    const batch = await batchRow(batchId);
    const dataKey = keys.unwrap(batch.id, batch.masterKeyId, batch.dataKeySealed);
    const rows = await p.db.select().from(cdks).where(eq(cdks.batchId, batchId)).orderBy(cdks.id);
    const data = rows.map((c) => [c.id, displayCdk(batch.pattern, keys.open(dataKey, c.id, c.sealed).secret), c.status, c.redeemedCount, c.maxRedemptions]);
    await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'marketing.cdk_export_clear', targetType: 'cdk_batch', targetId: batchId, ip: actor.ip, details: { reason, count: rows.length } });
    const csv = Papa.unparse({ fields: ['cdk_id', 'code', 'status', 'redeemed_count', 'max_redemptions'], data }, { escapeFormulae: true, newline: '\n' });
    return { filename: `kaquan-cdk-${batchId}.csv`, csv: `${csv}\n`, count: rows.length };
  }

  async function listRedemptions(q: { limit: number; cursor?: string; batchId?: string; customerId?: string }): Promise<PageResult<RedemptionView>> {
    const rows = await p.db
      .select()
      .from(cdkRedemptions)
      .where(pageFilter(cdkRedemptions.id, q.cursor, q.batchId ? eq(cdkRedemptions.batchId, q.batchId) : undefined, q.customerId ? eq(cdkRedemptions.customerId, q.customerId) : undefined))
      .orderBy(desc(cdkRedemptions.id))
      .limit(q.limit + 1);
    return toPage(rows.map(redemptionView), q.limit);
  }

  /** Total redemptions of a batch, from the codes' counters (tests and reports). */
  async function redeemedCount(batchId: string): Promise<number> {
    const [row] = await p.db.select({ n: sql<number>`coalesce(sum(${cdks.redeemedCount}), 0)::int` }).from(cdks).where(eq(cdks.batchId, batchId));
    return Number(row?.n ?? 0);
  }

  return { createBatch, getBatch, listBatches, listCodes, voidBatch, voidCode, exportMasked, exportClear, listRedemptions, redeemedCount, redeem: redemption.redeem, getRedemption: redemption.getRedemption };
}

const field = (f: string, message: string) => new AppError('UNPROCESSABLE', `${f}: ${message}`, [{ field: f, message }]);

export interface BatchView {
  id: string;
  name: string;
  campaign_id: string | null;
  reward: CdkReward;
  mode: string;
  max_redemptions: number;
  count: number;
  pattern: StoredPattern;
  starts_at: string | null;
  expires_at: string | null;
  status: string;
  codes: number;
  redeemed: number;
  voided_codes: number;
  created_by: string;
  created_at: string;
  voided_at: string | null;
  void_reason: string | null;
}

function batchView(r: BatchRow, s: { codes: number; redeemed: number; voided: number }): BatchView {
  return {
    id: r.id,
    name: r.name,
    campaign_id: r.campaignId,
    reward: r.reward,
    mode: r.mode,
    max_redemptions: r.maxRedemptions,
    count: r.count,
    pattern: r.pattern,
    starts_at: r.startsAt?.toISOString() ?? null,
    expires_at: r.expiresAt?.toISOString() ?? null,
    status: r.status,
    codes: Number(s.codes),
    redeemed: Number(s.redeemed),
    voided_codes: Number(s.voided),
    created_by: r.createdBy,
    created_at: r.createdAt.toISOString(),
    voided_at: r.voidedAt?.toISOString() ?? null,
    void_reason: r.voidReason,
  };
}

function codeView(batch: BatchRow, c: typeof cdks.$inferSelect) {
  return { id: c.id, batch_id: c.batchId, code: maskCdk(batch.pattern.prefix, c.last4), status: c.status, redeemed_count: c.redeemedCount, max_redemptions: c.maxRedemptions, created_at: c.createdAt.toISOString() };
}

export type CdkService = ReturnType<typeof createCdkService>;
