/**
 * Product scope along an agent chain: an agent with scope rows sells only
 * the SKUs listed or those in a listed category; one without rows inherits.
 * Every agent of the chain (itself and its uplines) that has rows must cover
 * the SKU, so a downline never sells more than its upline.
 */

export const scopeTypes = ['sku', 'category'] as const;
export type ScopeType = (typeof scopeTypes)[number];

export interface ScopeEntry {
  type: ScopeType;
  ref: string;
}

export interface ChainScopeRow extends ScopeEntry {
  agentId: string;
}

/** Scope rows grouped by agent (only agents that have some). */
export function scopesByAgent(rows: readonly ChainScopeRow[]): Map<string, ScopeEntry[]> {
  const out = new Map<string, ScopeEntry[]>();
  for (const r of rows) {
    const list = out.get(r.agentId) ?? [];
    list.push({ type: r.type, ref: r.ref });
    out.set(r.agentId, list);
  }
  return out;
}

export const covers = (scope: readonly ScopeEntry[], sku: { id: string; category: string }) => scope.some((e) => (e.type === 'sku' ? e.ref === sku.id : e.ref === sku.category));

/** The first agent of the chain whose scope leaves the SKU out, or null when every scope on the chain covers it. */
export function outOfScopeAgent(rows: readonly ChainScopeRow[], sku: { id: string; category: string }): string | null {
  for (const [agentId, scope] of scopesByAgent(rows)) if (!covers(scope, sku)) return agentId;
  return null;
}

/**
 * Whether a scope entry stays inside a set of scopes (an upline chain's): a
 * category must be listed by each of them; a SKU must be covered by each
 * (listed itself or through its category).
 */
export function entryWithin(entry: ScopeEntry, skuCategory: string | undefined, scopes: readonly (readonly ScopeEntry[])[]): boolean {
  return scopes.every((scope) =>
    entry.type === 'category' ? scope.some((e) => e.type === 'category' && e.ref === entry.ref) : skuCategory !== undefined && covers(scope, { id: entry.ref, category: skuCategory }),
  );
}
