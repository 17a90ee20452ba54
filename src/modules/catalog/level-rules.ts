import { asc, eq, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { AppError, invalidField, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { AuditService } from '../audit/service.js';
import { levelPriceRules, products, skus } from './schema.js';
import { levelPrices, type LevelPrice, type LevelRule } from './level-pricing.js';

export interface LevelRuleView {
  id: string;
  level: number;
  category_id: string | null;
  markup_bps: number;
  markup_fen: number;
  updated_by: string;
  updated_at: string;
}

export const MAX_LEVEL = 99;
const MAX_BPS = 100_000;

/** The level price rules (markup) of the catalog: list, set, delete (audited), and each level's price of a SKU. */
export function createLevelRules(p: Platform, deps: { audit: AuditService }) {
  async function list(db: DbOrTx = p.db): Promise<LevelRuleView[]> {
    const rows = await db.select().from(levelPriceRules).orderBy(asc(levelPriceRules.level), sql`${levelPriceRules.categoryId} nulls first`);
    return rows.map(toView);
  }

  /** Sets the rule of a level (for one category, or global): replaces the one there was. */
  async function put(input: { level: number; categoryId: string | null; markupBps?: number; markupFen?: number }, actor: { id: string; ip?: string }): Promise<LevelRuleView> {
    if (!Number.isInteger(input.level) || input.level < 1 || input.level > MAX_LEVEL) throw invalidField('level', `must be 1-${MAX_LEVEL}`);
    if (input.markupBps === undefined && input.markupFen === undefined) throw invalidField('markup_bps', 'give markup_bps, markup_fen or both');
    const bps = input.markupBps ?? 0;
    const fen = input.markupFen ?? 0;
    if (!Number.isInteger(bps) || bps < 0 || bps > MAX_BPS) throw invalidField('markup_bps', `must be 0-${MAX_BPS}`);
    if (!Number.isSafeInteger(fen) || fen < 0) throw invalidField('markup_fen', 'must be a whole, non-negative number of fen');
    const now = p.clock.now();
    return p.db.transaction(async (tx) => {
      if (input.categoryId !== null) {
        const [known] = await tx.select({ id: products.id }).from(products).where(eq(products.category, input.categoryId)).limit(1);
        if (!known) throw new AppError('NOT_FOUND', `category_id: no product is in the category ${input.categoryId}`, [{ field: 'category_id', message: 'unknown category' }]);
      }
      const [before] = await tx.select().from(levelPriceRules).where(sql`${levelPriceRules.level} = ${input.level} and coalesce(${levelPriceRules.categoryId}, '') = ${input.categoryId ?? ''}`).for('update');
      const [row] = before
        ? await tx.update(levelPriceRules).set({ markupBps: bps, markupFen: fen, updatedBy: actor.id, updatedAt: now }).where(eq(levelPriceRules.id, before.id)).returning()
        : await tx
            .insert(levelPriceRules)
            .values({ id: newId('lpr', now), level: input.level, categoryId: input.categoryId, markupBps: bps, markupFen: fen, updatedBy: actor.id, updatedAt: now })
            .onConflictDoNothing()
            .returning();
      if (!row) throw new AppError('CONFLICT', 'the rule was set at the same moment by someone else; retry');
      await deps.audit.record(
        {
          actorType: 'staff',
          actorId: actor.id,
          action: 'catalog.level_rule_put',
          targetType: 'level_price_rule',
          targetId: row.id,
          ip: actor.ip,
          details: { level: row.level, category_id: row.categoryId, markup_bps: bps, markup_fen: fen, before: before ? { markup_bps: before.markupBps, markup_fen: before.markupFen } : null },
        },
        tx,
      );
      return toView(row);
    });
  }

  async function remove(id: string, actor: { id: string; ip?: string }): Promise<LevelRuleView> {
    return p.db.transaction(async (tx) => {
      const [row] = await tx.delete(levelPriceRules).where(eq(levelPriceRules.id, id)).returning();
      if (!row) throw notFound('level price rule', id);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'catalog.level_rule_delete', targetType: 'level_price_rule', targetId: id, ip: actor.ip, details: { level: row.level, category_id: row.categoryId, markup_bps: row.markupBps, markup_fen: row.markupFen } }, tx);
      return toView(row);
    });
  }

  /** Every level's price of a SKU, 1..upTo (default: the highest level any rule or explicit price names, at least 3), with how it was derived. */
  async function preview(skuId: string, upTo?: number): Promise<{ sku_id: string; category: string; cost_fen: number; retail_price_fen: number; levels: LevelPrice[] }> {
    const [row] = await p.db.select({ sku: skus, category: products.category }).from(skus).innerJoin(products, eq(products.id, skus.productId)).where(eq(skus.id, skuId));
    if (!row) throw notFound('SKU', skuId);
    const rules = (await list()).map(fromView);
    const named = [...rules.map((r) => r.level), ...Object.keys(row.sku.agentPrices).map(Number)];
    const levels = levelPrices(row.sku, rules, row.category, Math.min(MAX_LEVEL, upTo ?? Math.max(3, ...named)));
    return { sku_id: skuId, category: row.category, cost_fen: row.sku.costFen, retail_price_fen: row.sku.retailPriceFen, levels };
  }

  return { list, put, remove, preview, rules: async (db: DbOrTx = p.db) => (await list(db)).map(fromView) };
}

function toView(r: typeof levelPriceRules.$inferSelect): LevelRuleView {
  return { id: r.id, level: r.level, category_id: r.categoryId, markup_bps: r.markupBps, markup_fen: r.markupFen, updated_by: r.updatedBy, updated_at: r.updatedAt.toISOString() };
}

const fromView = (v: LevelRuleView): LevelRule => ({ id: v.id, level: v.level, categoryId: v.category_id, markupBps: v.markup_bps, markupFen: v.markup_fen });
